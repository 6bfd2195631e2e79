/**
 * Liveness of the live transport, on the terms of the session's `open` frame: pings when a beat goes
 * by quietly, declares the transport dead when nothing arrives for heartbeat + heartbeatTimeout, and
 * measures the round trip that later open timeouts are derived from.
 */
import type { OpenFrame } from '@burrow/shared';

export class Heartbeat {
  readonly #ping: () => void;
  readonly #dead: () => void;
  #lastSent = 0;
  #lastRecv = 0;
  #pingAt = 0;
  #rtt: number | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param ping sends a ping on the live transport; @param dead reports the transport lost. */
  constructor(ping: () => void, dead: () => void) {
    this.#ping = ping;
    this.#dead = dead;
  }

  /** Round trip of the last answered ping (ms), if any. */
  get rtt(): number | undefined {
    return this.#rtt;
  }

  /** A transport went live: it starts with a clean record. */
  start(terms: OpenFrame | null): void {
    this.#lastRecv = this.#lastSent = Date.now();
    this.#pingAt = 0;
    this.stop();
    if (!terms || terms.heartbeat <= 0) return;
    const { heartbeat, heartbeatTimeout } = terms;
    const period = Math.min(1000, Math.max(25, Math.min(heartbeat, heartbeatTimeout || heartbeat) / 4));
    this.#timer = setInterval(() => this.#beat(heartbeat, heartbeatTimeout), period);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  sent(): void {
    this.#lastSent = Date.now();
  }

  received(): void {
    this.#lastRecv = Date.now();
  }

  pong(): void {
    if (this.#pingAt) this.#rtt = Date.now() - this.#pingAt;
    this.#pingAt = 0;
  }

  #beat(heartbeat: number, timeout: number): void {
    const t = Date.now();
    if (t - this.#lastRecv >= heartbeat + timeout) return this.#dead();
    // Ping when we sent nothing for a beat (the protocol's rule), and also when nothing came down for
    // a beat: an SSE stream's keep-alive comments are invisible to EventSource, and a busy sender
    // would otherwise never provoke a pong on a quiet downstream.
    const idle = t - this.#lastSent >= heartbeat || t - this.#lastRecv >= heartbeat;
    if (idle && (this.#pingAt === 0 || t - this.#pingAt >= heartbeat)) {
      this.#pingAt = t;
      this.#ping();
    }
  }
}
