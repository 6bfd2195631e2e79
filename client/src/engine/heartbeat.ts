/**
 * Liveness of the live transport, on the terms of the session's `open` frame: pings when a beat goes
 * by quietly, declares the transport dead when nothing arrives for heartbeat + heartbeatTimeout, and
 * measures the round trip that later open timeouts are derived from.
 */
import type { OpenFrame } from '@burrow/shared';

/** See {@link createHeartbeat}. */
export type Heartbeat = ReturnType<typeof createHeartbeat>;

/** A closure rather than a class, for the bundle size: see docs/ARCHITECTURE.md, "Closures, not classes". */
/** @param ping sends a ping on the live transport; @param dead reports the transport lost. */
export function createHeartbeat(ping: () => void, dead: () => void) {
  let lastSent = 0;
  let lastRecv = 0;
  let pingAt = 0;
  /** Round trip of the last answered ping (ms), if any. */
  let rtt: number | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;

  /** A transport went live: it starts with a clean record. */
  const start = (terms: OpenFrame | null): void => {
    lastRecv = lastSent = Date.now();
    pingAt = 0;
    stop();
    if (!terms || terms.heartbeat <= 0) return;
    const { heartbeat, heartbeatTimeout } = terms;
    const period = Math.min(1000, Math.max(25, Math.min(heartbeat, heartbeatTimeout || heartbeat) / 4));
    timer = setInterval(() => beat(heartbeat, heartbeatTimeout), period);
  };

  const stop = (): void => {
    clearInterval(timer);
    timer = undefined;
  };

  const sent = (): void => {
    lastSent = Date.now();
  };

  const received = (): void => {
    lastRecv = Date.now();
  };

  const pong = (): void => {
    if (pingAt) rtt = Date.now() - pingAt;
    pingAt = 0;
  };

  const beat = (heartbeat: number, timeout: number): void => {
    const t = Date.now();
    if (t - lastRecv >= heartbeat + timeout) return dead();
    // Ping when we sent nothing for a beat (the protocol's rule), and also when nothing came down for
    // a beat: an SSE stream's keep-alive comments are invisible to EventSource, and a busy sender
    // would otherwise never provoke a pong on a quiet downstream.
    const idle = t - lastSent >= heartbeat || t - lastRecv >= heartbeat;
    if (idle && (pingAt === 0 || t - pingAt >= heartbeat)) {
      pingAt = t;
      ping();
    }
  };
  // Functions only, no getter: see acks.ts.
  return { rtt: () => rtt, start, stop, sent, received, pong };
}
