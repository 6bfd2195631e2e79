/**
 * The background upgrade: a session carried by SSE or polling tries WebSocket now and then, and moves
 * onto it once a probe resumes the session. A failed probe doubles the wait before the next (up to a
 * minute); a probe told that the session is gone stops them for good, since the live transport will
 * hear the same.
 *
 * The first probe may be a scout: the WebSocket of the first connection's race, still pending when
 * SSE or polling won. It carries a raced session of its own, which is abandoned when it opens (the
 * server drops it with no events); its opening shows WebSocket works here after all, so the first
 * probe starts at once rather than after the upgrade delay.
 */
import type { OpenFrame } from '@burrow/shared';
import { ABANDONED } from '../close-codes.js';
import { DOWN_FATAL, type DownReason } from '../transports/transport.js';
import { holds, type Slot } from './slot.js';

/** Cap of the wait between probes (ms). */
const PROBE_DELAY_MAX = 60_000;

/** What the upgrade needs from the engine. */
export interface UpgradeHost {
  /** Whether a move is wanted now: the session is open, not closing, and not on WebSocket already. */
  wanted(): boolean;
  /** Starts a WebSocket transport that resumes the session, in a new generation. */
  start(): Slot;
  /** Whether the probe's `open` resumes this very session, which still accepts a new transport. */
  accepts(open: OpenFrame | undefined): open is OpenFrame;
  /** The probe resumed the session: it becomes the live transport. */
  promote(probe: Slot, ack: number, open: OpenFrame): void;
}

/** See {@link createUpgrade}. */
export type Upgrade = ReturnType<typeof createUpgrade>;

/**
 * A closure rather than a class, for the bundle size: see docs/ARCHITECTURE.md, "Closures, not classes".
 * @param enabled whether probing is allowed at all (the `upgrade` option, and WebSocket in the chain).
 * @param delay the wait before the first probe (ms).
 */
export function createUpgrade(host: UpgradeHost, enabled: boolean, delay: number) {
  let plan: ReturnType<typeof setTimeout> | undefined;
  let running: Slot | null = null;
  /** Failed probes since the last success; Infinity once the session is known to be gone. */
  let failures = 0;
  /** Generation of the scout while it runs (-1: none). */
  let scoutGen = -1;
  /** The scout opened: the next probe starts without the delay. */
  let soon = false;

  /** Plans the next probe, unless one is planned or running already. */
  const schedule = (): void => {
    if (!enabled || !host.wanted()) return;
    if (plan || running || !Number.isFinite(failures)) return;
    const wait = soon ? 0 : Math.min(delay * 2 ** Math.min(failures, 30), PROBE_DELAY_MAX);
    soon = false;
    plan = setTimeout(() => {
      plan = undefined;
      if (host.wanted()) running = host.start();
    }, wait);
  };

  /** The transport of generation `gen` came up; ignored unless it is the running probe. */
  const opened = (gen: number, ack: number, open: OpenFrame | undefined): void => {
    const probe = running;
    if (!holds(probe, gen)) return;
    running = null;
    if (gen === scoutGen) {
      scoutGen = -1;
      probe.carrier.close(ABANDONED);
      soon = true;
      return schedule();
    }
    if (!host.accepts(open)) {
      probe.carrier.close();
      failures++;
      return schedule();
    }
    failures = 0;
    host.promote(probe, ack, open);
  };

  /**
   * Takes on the raced WebSocket that lost the first connection's race while still pending, as the
   * first probe (a scout, see above); closed at once when probing is off.
   */
  const scout = (attempt: Slot): void => {
    if (!enabled || running) return attempt.carrier.close(ABANDONED);
    running = attempt;
    scoutGen = attempt.gen;
  };

  /** The transport of generation `gen` went down; ignored unless it is the running probe. */
  const failed = (gen: number, why: DownReason): void => {
    if (!holds(running, gen)) return;
    running = null;
    scoutGen = -1;
    failures = why.kind === DOWN_FATAL ? Infinity : failures + 1;
    schedule();
  };

  /** The live transport is gone: no probe is planned until another one is live. */
  const pause = (): void => {
    clearTimeout(plan);
    plan = undefined;
  };

  /**
   * Gives up the running probe, if any, to be the next attempt of a resume: it is resuming the
   * session already (the server may even have dropped the old downstream because of it).
   */
  const handOver = (): Slot | null => {
    const probe = running;
    running = null;
    if (!probe) return null;
    // A scout is not resuming this session: it has a raced one of its own.
    if (probe.gen === scoutGen) {
      scoutGen = -1;
      probe.carrier.close(ABANDONED);
      return null;
    }
    failures++;
    return probe;
  };

  /** The session is over: cancels the plan and closes the probe. */
  const stop = (): void => {
    pause();
    const probe = running;
    running = null;
    probe?.carrier.close();
  };
  return { schedule, opened, scout, failed, pause, handOver, stop };
}
