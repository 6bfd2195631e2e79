/**
 * The per-session hold of `session.send()` through a store outage (DESIGN invariant 8: a blip shorter
 * than a configured bound delays sends, in order, and loses none; past the bound they fail loudly).
 *
 * While the store is down, or an append failed because it could not be reached, a send is held here
 * in this node's memory instead of rejecting; every later send of the session queues behind it, so
 * the order the app called `send()` in is the order the store assigns seqs in. The hold is written,
 * oldest first, as soon as the store answers again. It is bounded per session by
 * `storeOutageBuffer.bytes` (a send that would cross it rejects at once) and `storeOutageBuffer.ms`
 * (once the oldest held send waited that long, every held send rejects): `store_unavailable`, and an
 * `error` event, since an app that does not await `send()` would otherwise never learn of it.
 *
 * Every try of one send carries the same `Store.append` token, so a write that ran in Redis but lost
 * its reply is not appended again by the retry.
 *
 * Not durable: a held send lives only in this process. If the node dies first it is gone, and its
 * promise never settled (docs/PROTOCOL.md, "Store outages").
 */
import { BurrowError, isStoreFailure, storeUnavailable } from '../errors/burrow-error.js';

/** Bounds of the hold (see `BurrowOptions.storeOutageBuffer`). */
export interface StoreOutageBuffer {
  /** Most payload bytes held per session. 0 turns the hold off (sends reject at once, as before). */
  readonly bytes: number;
  /** Longest a send is held before it (and every send behind it) rejects, in ms. */
  readonly ms: number;
}

/** First retry of a held write when no store status change will announce the store is back. */
const RETRY_FIRST_MS = 20;
/** Retries back off to this. */
const RETRY_MAX_MS = 250;

interface Held {
  /** Where it goes in the queue (the send number): lower first. */
  readonly order: number;
  readonly size: number;
  readonly at: number;
  /** Writes the send to the store; rejects like the store call does. */
  readonly write: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** What the hold needs of the node (the session registry is one). */
export interface OutageHoldHost {
  /** Is the store known to be down right now? */
  readonly storeDown: boolean;
  /** A held send was rejected past the bound: the `error` event. */
  emitError(err: unknown): void;
}

export class OutageHold {
  readonly #host: OutageHoldHost;
  readonly #bounds: StoreOutageBuffer;
  readonly #items: Held[] = [];
  #bytes = 0;
  #flushing = false;
  /** The held send being written now: its outcome is the store's, even past the bound. */
  #inFlight: Held | undefined;
  /** Set by `fail()` while a write was in flight: that write does not retry, it fails with `err`. */
  #doomed: { readonly h: Held; readonly err: unknown } | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryDelay = RETRY_FIRST_MS;
  #deadline: NodeJS.Timeout | undefined;

  constructor(host: OutageHoldHost, bounds: StoreOutageBuffer) {
    this.#host = host;
    this.#bounds = bounds;
  }

  /** Sends are being held: a new one must queue behind them to keep the order. */
  get holding(): boolean {
    return this.#items.length > 0;
  }

  /**
   * Runs `write` now when nothing is held and the store is up; otherwise (or when it fails on an
   * unreachable store) holds it. Resolves once written, rejects like `write` or past the bound.
   * `order` (increasing with every send) places it in the queue: a send whose first try failed after
   * a later one's joins the queue ahead of it, so they are written in the order they were made.
   */
  async send(size: number, write: () => Promise<void>, order: number): Promise<void> {
    if (!this.holding && !this.#host.storeDown) {
      try {
        return await write();
      } catch (err) {
        return this.afterFailure(err, size, write, order);
      }
    }
    return this.#hold(size, write, order);
  }

  /**
   * A send whose first try (made by the caller while nothing was held and the store was up: `send`
   * without its `async` frame, for the networked `session.send()` path) failed with `err`: held when
   * the store could not be reached (nothing was queued in the store), else rejected with `err`.
   */
  afterFailure(err: unknown, size: number, write: () => Promise<void>, order: number): Promise<void> {
    if (!isStoreFailure(err) || this.#bounds.bytes <= 0) return Promise.reject(err);
    return this.#hold(size, write, order);
  }

  #hold(size: number, write: () => Promise<void>, order: number): Promise<void> {
    const b = this.#bounds;
    if (b.bytes <= 0) return Promise.reject(storeUnavailable());
    if (this.#bytes + size > b.bytes) return Promise.reject(this.#limit(`the send would hold more than storeOutageBuffer.bytes (${b.bytes}) during a store outage`));
    return new Promise<void>((resolve, reject) => {
      const h: Held = { order, size, at: Date.now(), write, resolve, reject };
      const i = this.#items.findIndex((x) => x.order > order);
      if (i < 0) this.#items.push(h);
      else this.#items.splice(i, 0, h);
      this.#bytes += size;
      this.#armDeadline();
      this.#scheduleRetry();
    });
  }

  /** The store reports it is back: write what is held now. */
  storeUp(): void {
    this.#retryDelay = RETRY_FIRST_MS;
    void this.#flush();
  }

  /** The session ended (or the core is disposed): every held send rejects with `err`. */
  fail(err: unknown): void {
    this.#clearTimers();
    // The one being written may be in the store already: it settles with its write, not here.
    const keep = this.#inFlight;
    for (const h of this.#items.splice(0)) if (h !== keep) h.reject(err);
    this.#bytes = 0;
    if (keep) {
      this.#items.push(keep);
      this.#bytes = keep.size;
      this.#doomed = { h: keep, err };
    }
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#items.length > 0) {
        if (this.#host.storeDown) return this.#scheduleRetry();
        const h = this.#items[0]!;
        this.#inFlight = h;
        try {
          await h.write();
        } catch (err) {
          const doomed = this.#doomed?.h === h ? this.#doomed.err : undefined;
          if (isStoreFailure(err) && doomed === undefined) return this.#scheduleRetry();
          this.#take(h);
          h.reject(doomed ?? err);
          continue;
        } finally {
          this.#inFlight = undefined;
        }
        this.#take(h);
        h.resolve();
      }
      this.#clearTimers();
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * The store's status flips to `up` only after it flipped to `down`; a write that failed while the
   * status still said `up` (the outage not noticed yet) is retried on a backing-off timer instead.
   */
  #take(h: Held): void {
    const i = this.#items.indexOf(h);
    if (i < 0) return;
    this.#items.splice(i, 1);
    this.#bytes -= h.size;
    if (this.#doomed?.h === h) this.#doomed = undefined;
  }

  #scheduleRetry(): void {
    if (this.#retry || this.#items.length === 0) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
      void this.#flush();
    }, this.#retryDelay);
    this.#retry.unref();
  }

  /** When the longest-held send was held (the queue is in send order, not holding order). */
  #oldest(): number {
    let at = Infinity;
    for (const h of this.#items) if (h.at < at) at = h.at;
    return at;
  }

  #armDeadline(): void {
    if (this.#deadline || this.#items.length === 0) return;
    const wait = this.#oldest() + this.#bounds.ms - Date.now();
    this.#deadline = setTimeout(() => {
      this.#deadline = undefined;
      if (this.#items.length === 0) return;
      if (Date.now() - this.#oldest() >= this.#bounds.ms) {
        const err = this.#limit(`the store stayed unreachable longer than storeOutageBuffer.ms (${this.#bounds.ms} ms)`);
        this.fail(err);
      } else this.#armDeadline();
    }, Math.max(0, wait));
    this.#deadline.unref();
  }

  #limit(why: string): BurrowError {
    const err = storeUnavailable();
    err.message = `session store unavailable: ${why}; the message was not sent`;
    this.#host.emitError(err);
    return err;
  }

  #clearTimers(): void {
    for (const t of [this.#retry, this.#deadline]) if (t) clearTimeout(t);
    this.#retry = this.#deadline = undefined;
  }
}
