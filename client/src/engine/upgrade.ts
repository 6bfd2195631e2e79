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

export class Upgrade {
  readonly #host: UpgradeHost;
  readonly #enabled: boolean;
  readonly #delay: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #probe: Slot | null = null;
  /** Failed probes since the last success; Infinity once the session is known to be gone. */
  #failures = 0;
  /** Generation of the scout while it runs (-1: none). */
  #scoutGen = -1;
  /** The scout opened: the next probe starts without the delay. */
  #soon = false;

  /**
   * @param enabled whether probing is allowed at all (the `upgrade` option, and WebSocket in the chain).
   * @param delay the wait before the first probe (ms).
   */
  constructor(host: UpgradeHost, enabled: boolean, delay: number) {
    this.#host = host;
    this.#enabled = enabled;
    this.#delay = delay;
  }

  /** Plans the next probe, unless one is planned or running already. */
  schedule(): void {
    if (!this.#enabled || !this.#host.wanted()) return;
    if (this.#timer || this.#probe || !Number.isFinite(this.#failures)) return;
    const delay = this.#soon ? 0 : Math.min(this.#delay * 2 ** Math.min(this.#failures, 30), PROBE_DELAY_MAX);
    this.#soon = false;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#host.wanted()) this.#probe = this.#host.start();
    }, delay);
  }

  /** The transport of generation `gen` came up; ignored unless it is the running probe. */
  opened(gen: number, ack: number, open: OpenFrame | undefined): void {
    const probe = this.#probe;
    if (!holds(probe, gen)) return;
    this.#probe = null;
    if (gen === this.#scoutGen) {
      this.#scoutGen = -1;
      probe.transport.close(ABANDONED);
      this.#soon = true;
      return this.schedule();
    }
    if (!this.#host.accepts(open)) {
      probe.transport.close();
      this.#failures++;
      return this.schedule();
    }
    this.#failures = 0;
    this.#host.promote(probe, ack, open);
  }

  /**
   * Takes on the raced WebSocket that lost the first connection's race while still pending, as the
   * first probe (a scout, see above); closed at once when probing is off.
   */
  scout(attempt: Slot): void {
    if (!this.#enabled || this.#probe) return attempt.transport.close(ABANDONED);
    this.#probe = attempt;
    this.#scoutGen = attempt.gen;
  }

  /** The transport of generation `gen` went down; ignored unless it is the running probe. */
  failed(gen: number, why: DownReason): void {
    if (!holds(this.#probe, gen)) return;
    this.#probe = null;
    this.#scoutGen = -1;
    this.#failures = why.kind === DOWN_FATAL ? Infinity : this.#failures + 1;
    this.schedule();
  }

  /** The live transport is gone: no probe is planned until another one is live. */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Gives up the running probe, if any, to be the next attempt of a resume: it is resuming the
   * session already (the server may even have dropped the old downstream because of it).
   */
  handOver(): Slot | null {
    const probe = this.#probe;
    this.#probe = null;
    if (!probe) return null;
    // A scout is not resuming this session: it has a raced one of its own.
    if (probe.gen === this.#scoutGen) {
      this.#scoutGen = -1;
      probe.transport.close(ABANDONED);
      return null;
    }
    this.#failures++;
    return probe;
  }

  /** The session is over: cancels the plan and closes the probe. */
  stop(): void {
    this.pause();
    const probe = this.#probe;
    this.#probe = null;
    probe?.transport.close();
  }
}
