/**
 * Liveness of a session's downstream on this node: while one is attached (polls excepted), a tick
 * refreshes the session's TTL in the store and ends a downstream whose client has shown no life, here
 * or on another node, for `heartbeat + heartbeatTimeout`.
 */
import { CloseCode } from '@burrow/shared';
import type { Downstream, SessionHost } from './types.js';

/** What the heartbeat needs of its core. */
export interface HeartbeatHost {
  readonly id: string;
  readonly host: SessionHost;
  readonly downstream: Downstream | undefined;
  transportFailed(d: Downstream | undefined, err: unknown): void;
}

export class Heartbeat {
  readonly #core: HeartbeatHost;
  #tick: NodeJS.Timeout | undefined;
  /** The record's activity counter as last seen: a change means the client showed life elsewhere. */
  #activity: number;
  #lastSeen = Date.now();

  constructor(core: HeartbeatHost, activity: number) {
    this.#core = core;
    this.#activity = activity;
  }

  /** When the client last showed life on this node (ms epoch). */
  get lastSeen(): number {
    return this.#lastSeen;
  }

  /** Any sign of life from the client on this node. */
  seen(): void {
    this.#lastSeen = Date.now();
  }

  start(): void {
    if (this.#tick) return;
    const o = this.#core.host.options;
    const every = Math.max(10, Math.min(o.heartbeatTimeout / 2, o.resumeWindow / 3));
    this.#tick = setInterval(() => void this.#onTick(), every);
    this.#tick.unref();
  }

  stop(): void {
    if (this.#tick) clearInterval(this.#tick);
    this.#tick = undefined;
  }

  async #onTick(): Promise<void> {
    const core = this.#core;
    const d = core.downstream;
    if (!d) return;
    const o = core.host.options;
    try {
      // Refreshes the TTL while a transport is attached, and tells us whether the client showed life
      // on another node (an SSE client's POSTs may land anywhere).
      const rec = await core.host.store.touch(core.id, o.resumeWindow, false);
      if (!rec) {
        d.end(CloseCode.SessionUnknown, 'session expired');
        return;
      }
      if (rec.activity !== this.#activity) {
        this.#activity = rec.activity;
        this.#lastSeen = Date.now();
      }
      if (core.downstream === d && Date.now() - this.#lastSeen > o.heartbeat + o.heartbeatTimeout) {
        d.end(CloseCode.Abnormal, 'heartbeat timeout');
      }
    } catch (err) {
      core.transportFailed(d, err);
    }
  }
}
