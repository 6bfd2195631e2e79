/**
 * Many deadlines of one length on one Node timer. A `setTimeout` per session costs ~250 bytes (the
 * Timeout, its callback and that callback's context, two boxed numbers); at 10,000 idle sessions with
 * three timers each that was most of what Burrow held per socket beyond `ws` itself.
 *
 * The same discipline as Node's own timer lists: every deadline of a list is `ms` after it was armed,
 * so a list kept in arming order (re-arming moves the item to the end) is in deadline order, and one
 * timer set for the first item is enough. Deadlines keep Node's precision (whole ms, monotonic
 * clock); the timer is unref()'d, as the per-session timers were.
 *
 * The list runs through the items themselves (four fields each, {@link DeadlineLinks}). It was a Map
 * of item -> deadline: 45 bytes an entry at best, and V8 leaves a hole per re-arm (delete, then set)
 * until the table fills, then doubles it while fewer than half are holes, so a list re-armed as
 * often as the heartbeat's and the store's expiry held ~91 bytes a session each at 10,000 (heap
 * snapshot, issue #12). Four fields are 32 bytes, and arming is two pointer swaps with no hashing.
 */
import { performance } from 'node:perf_hooks';
import { MAX_DELAY } from '@burrow/shared';

/** Monotonic ms, whole (as libuv's loop clock), small enough to stay a small integer for weeks. */
export function monotonicNow(): number {
  // perf_hooks' `performance`, not the global one, whose getter allocates on every read.
  return Math.floor(performance.now());
}

/**
 * The fields an item of a {@link DeadlineList} carries: the list it is on and its place and deadline
 * there. An item is on at most one list at a time (arming it on another takes it off the first), so a
 * core that is either idle or beating needs one set. Classes declare them (initialised by
 * {@link UNLINKED}'s values) so V8 gives every instance the same shape; any object works.
 */
export interface DeadlineLinks {
  /** @internal */ dlList: object | undefined;
  /** @internal */ dlPrev: DeadlineLinks | undefined;
  /** @internal */ dlNext: DeadlineLinks | undefined;
  /** @internal Monotonic ms (see {@link monotonicNow}). */ dlAt: number;
}

/** Field values of an item on no list: spread into an object literal, or assigned field by field. */
export const UNLINKED: Readonly<DeadlineLinks> = Object.freeze({ dlList: undefined, dlPrev: undefined, dlNext: undefined, dlAt: 0 });

export class DeadlineList<T extends object> {
  /** The deadline length (ms). */
  readonly ms: number;
  readonly #onDue: (item: T) => void;
  /** Earliest deadline first. */
  #head: DeadlineLinks | undefined;
  #tail: DeadlineLinks | undefined;
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  /** In #fire: re-arms made by callbacks leave the timer to it (it knows the earliest deadline). */
  #firing = false;

  /** `onDue` runs once per deadline reached, with the item already off the list (it may re-arm it). */
  constructor(ms: number, onDue: (item: T) => void) {
    this.ms = Math.max(1, ms);
    this.#onDue = onDue;
  }

  /** Items armed now. */
  get size(): number {
    return this.#size;
  }

  has(item: T): boolean {
    return (item as Partial<DeadlineLinks>).dlList === this;
  }

  /** How long ago `item` was armed (ms, whole), or -1 when it is not on the list. */
  armedFor(item: T): number {
    const l = item as Partial<DeadlineLinks>;
    return l.dlList === this ? monotonicNow() - (l.dlAt! - this.ms) : -1;
  }

  /**
   * Starts `item`'s deadline `ms` from now; an armed one starts over (Node's `timeout.refresh()`).
   * An item on another list leaves it.
   */
  arm(item: T): void {
    const l = item as unknown as DeadlineLinks;
    const on = l.dlList as DeadlineList<T> | undefined;
    if (on !== undefined) on.#unlink(l);
    l.dlAt = monotonicNow() + this.ms;
    l.dlList = this;
    l.dlNext = undefined;
    l.dlPrev = this.#tail;
    if (this.#tail) this.#tail.dlNext = l;
    else this.#head = l;
    this.#tail = l;
    this.#size++;
    if (!this.#timer && !this.#firing) this.#schedule(this.ms);
  }

  /**
   * Takes `item` off the list (no-op when it is not on it). The timer stays even when the list
   * empties: it fires once for nothing, where clearing it made a new one for the next arm (a core
   * arms the idle list at creation and disarms it when its WebSocket attaches, so every new session
   * emptied it).
   */
  disarm(item: T): void {
    const l = item as unknown as DeadlineLinks;
    if (l.dlList === this) this.#unlink(l);
  }

  /** Drops every deadline. */
  clear(): void {
    for (let l = this.#head; l; ) {
      const next = l.dlNext;
      l.dlList = l.dlPrev = l.dlNext = undefined;
      l = next;
    }
    this.#head = this.#tail = undefined;
    this.#size = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #unlink(l: DeadlineLinks): void {
    const { dlPrev: prev, dlNext: next } = l;
    if (prev) prev.dlNext = next;
    else this.#head = next;
    if (next) next.dlPrev = prev;
    else this.#tail = prev;
    l.dlList = l.dlPrev = l.dlNext = undefined;
    this.#size--;
  }

  #schedule(delay: number): void {
    // Past what a timer holds setTimeout fires after 1 ms, and #fire would reschedule it every ms
    // until the deadline: a list's length can be a sum of options (resumeWindow + closeLinger).
    this.#timer = setTimeout(() => this.#fire(), Math.min(delay, MAX_DELAY));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firing = true;
    let next: number | undefined;
    try {
      const t = monotonicNow();
      for (let l = this.#head; l; l = this.#head) {
        if (l.dlAt > t) {
          next = l.dlAt - t;
          break;
        }
        this.#unlink(l);
        this.#onDue(l as unknown as T);
      }
    } finally {
      this.#firing = false;
      // A callback that throws must not strand the deadlines behind it.
      const first = this.#head;
      if (first) this.#schedule(next ?? Math.max(1, first.dlAt - monotonicNow()));
    }
  }
}

/** Deadlines of several lengths: a list per length in use (a handful of option values, in practice). */
export class Deadlines<T extends object> {
  readonly #onDue: (item: T) => void;
  readonly #lists = new Map<number, DeadlineList<T>>();

  constructor(onDue: (item: T) => void) {
    this.#onDue = onDue;
  }

  /** Lengths that have a list now (an emptied length's list is dropped). */
  get lengths(): number {
    return this.#lists.size;
  }

  /** Starts `item`'s deadline of `ms` (an armed one of the same length starts over). */
  arm(item: T, ms: number): void {
    // On a list of another length: off it the way disarm does, so an emptied length goes too.
    const on = (item as Partial<DeadlineLinks>).dlList;
    if (on instanceof DeadlineList && on.ms !== ms && this.#lists.get(on.ms) === on) this.disarm(item, on.ms);
    let list = this.#lists.get(ms);
    if (!list) this.#lists.set(ms, (list = new DeadlineList(ms, this.#onDue)));
    list.arm(item);
  }

  /** Takes `item` off its list of length `ms`; a length nobody uses any more goes. */
  disarm(item: T, ms: number): void {
    const list = this.#lists.get(ms);
    if (!list) return;
    list.disarm(item);
    if (list.size === 0) this.#lists.delete(ms);
  }

  clear(): void {
    for (const list of this.#lists.values()) list.clear();
    this.#lists.clear();
  }
}
