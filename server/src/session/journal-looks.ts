/**
 * The inbound journal's looks for one session core, on a networked store (`Store.replayInbound`):
 * what the store hands this node (the entries of a node that died, or of an accept whose reply a store
 * blip cut off) is emitted first, flagged `redelivered`, then confirmed; and the journal is looked at
 * again when something may still wait in it. Every look runs in the core's inbound queue, never
 * beside an accept.
 */
import type { InboundReplay } from '../store/store.js';
import type { InboundHost } from './types.js';

/** A look that was skipped or failed is made again after this; failed ones back off to the max (see #lookAgain). */
const LOOK_AGAIN_MS = 500;
const LOOK_AGAIN_MAX_MS = 8000;

/** Queues `task` in the core's inbound queue, behind every batch queued before it. */
export type EnqueueLook = (task: () => Promise<void>) => Promise<void>;

export class JournalLooks {
  readonly #core: InboundHost;
  readonly #enqueue: EnqueueLook;
  /** The condition of this session's confirms (see `Store.confirmInbound`). */
  readonly #after: () => string | undefined;
  /** A look again: at another live node's unconfirmed entries, or after a skipped or failed look. */
  #recheck: NodeJS.Timeout | undefined;
  /** This core looked (a replay, or an accept's scan). */
  #checked = false;
  /** The polling transport whose first poll here looked at the journal (see due). */
  #pollCarrier: string | undefined;
  /** The delay of the last look again after a failure (0: the last look went through). */
  #lookMs = 0;
  /** stop() ran: the core was disposed, and nothing here looks at the journal any more. */
  #stopped = false;

  constructor(core: InboundHost, enqueue: EnqueueLook, after: () => string | undefined) {
    this.#core = core;
    this.#enqueue = enqueue;
    this.#after = after;
  }

  /**
   * Whether the attach of a poll from the polling transport `carrier` should look at the journal: a
   * poll looks once per transport (its first poll here), not on every poll (a store round trip per
   * request). Once per core was not enough: a node whose accept committed in the store but whose reply
   * a store blip cut off releases its entries for another node to take over, and the client, told by
   * its next transport that they were accepted, never sends them again. If the core holding its polls
   * had looked already, nothing ever looked again, and the client waited for ever for the answers to
   * those messages (the polling stall of the cluster suite's Redis blip). A client that sends no
   * `carry` id (it is optional) is looked for once per core, and on every poll that says it starts a
   * transport after a lost one (`resumed`: the `resume=1` hint).
   */
  due(carrier: string | null | undefined, resumed: boolean): boolean {
    if (carrier == null) return resumed || !this.#checked;
    if (carrier === this.#pollCarrier) return false;
    this.#pollCarrier = carrier;
    return true;
  }

  /**
   * Journal entries the store handed to this node (their node died, or our reply was lost): emitted
   * first, in seq order, flagged `redelivered`, then confirmed. Runs inside the inbound queue.
   */
  redeliver(r: InboundReplay): void {
    const core = this.#core;
    this.#checked = true;
    for (const e of r.replay ?? []) {
      if (!core.closed) {
        const data = typeof e.data === 'string' ? e.data : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        core.host.emitMessage(core.handle, data, { seq: e.seq, redelivered: true });
      }
      core.host.store.confirmInbound?.(core.id, e.seq, false, this.#after);
    }
    if (r.recheckMs !== undefined) this.#recheckIn(r.recheckMs);
  }

  /** Asks the store for journal entries to redeliver, in the inbound queue (never beside an accept). */
  look(): void {
    const core = this.#core;
    const store = core.host.store;
    if (!store.replayInbound || core.closed || this.#stopped) return;
    this.#checked = true;
    const run = this.#enqueue(async () => {
      // Disposed meanwhile: the session's next core here looks itself, and only once what was queued
      // here before the disposal is done; a look of ours beside its accepts could emit a frame twice.
      if (this.#stopped) return;
      if (core.host.storeDown) return this.#lookAgain(false);
      this.redeliver(await store.replayInbound!(core.id));
      this.#lookMs = 0;
    });
    run.catch((err: unknown) => {
      // One error event per run of failures (a store that answers but refuses, for a while).
      if (this.#lookMs === 0) core.host.emitError(err);
      this.#lookAgain(true);
    });
  }

  /** The core is disposed: no look again, and no look still queued runs. */
  stop(): void {
    this.#stopped = true;
    if (this.#recheck) clearTimeout(this.#recheck);
    this.#recheck = undefined;
  }

  /** Looks at the journal again in `ms`, unless a look is already due or the core was disposed. */
  #recheckIn(ms: number): void {
    if (this.#recheck || this.#stopped) return;
    this.#recheck = setTimeout(() => {
      this.#recheck = undefined;
      this.look();
    }, ms);
    this.#recheck.unref();
  }

  /**
   * A journal look was skipped (the store is down) or failed: entries a node released after losing
   * its reply may be waiting, and a client that waits for their answers sends nothing that would make
   * an accept look. The next poll looks again (see due), and so does a timer, for a downstream that
   * makes no more requests (an SSE stream, a WebSocket): after 500 ms, then, while looks keep
   * `failed`, backing off to 8 s (a call per session to a store in trouble). A look skipped because
   * the store is down costs no call: those go on every 500 ms, so one comes soon after it is back.
   */
  #lookAgain(failed: boolean): void {
    this.#checked = false;
    this.#pollCarrier = undefined;
    if (this.#core.closed) return;
    if (failed) this.#lookMs = this.#lookMs === 0 ? LOOK_AGAIN_MS : Math.min(this.#lookMs * 2, LOOK_AGAIN_MAX_MS);
    this.#recheckIn(failed ? this.#lookMs : LOOK_AGAIN_MS);
  }
}
