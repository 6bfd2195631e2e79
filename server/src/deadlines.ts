/**
 * Many deadlines of one length on one Node timer. A `setTimeout` per session costs ~250 bytes (the
 * Timeout, its callback and that callback's context, two boxed numbers); at 10,000 idle sessions with
 * three timers each that was most of what Burrow held per socket beyond `ws` itself. Here an item costs
 * one entry of a shared Map.
 *
 * The same discipline as Node's own timer lists: every deadline of a list is `ms` after it was armed,
 * so the Map's insertion order (re-arming deletes and re-inserts) is deadline order, and one timer set
 * for the first entry is enough. Deadlines keep Node's precision (whole ms, monotonic clock); the
 * timer is unref()'d, as the per-session timers were.
 */
import { performance } from 'node:perf_hooks';
import { MAX_DELAY } from '@burrow/shared';

/** Monotonic ms, whole (as libuv's loop clock), small enough to stay a small integer for weeks. */
function now(): number {
  // perf_hooks' `performance`, not the global one, whose getter allocates on every read.
  return Math.floor(performance.now());
}

export class DeadlineList<T extends object> {
  /** The deadline length (ms). */
  readonly ms: number;
  readonly #onDue: (item: T) => void;
  /** Item -> deadline, in deadline order. */
  readonly #due = new Map<T, number>();
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
    return this.#due.size;
  }

  has(item: T): boolean {
    return this.#due.has(item);
  }

  /** How long ago `item` was armed (ms, whole), or -1 when it is not on the list. */
  armedFor(item: T): number {
    const at = this.#due.get(item);
    return at === undefined ? -1 : now() - (at - this.ms);
  }

  /** Starts `item`'s deadline `ms` from now; an armed one starts over (Node's `timeout.refresh()`). */
  arm(item: T): void {
    const due = this.#due;
    due.delete(item);
    due.set(item, now() + this.ms);
    if (!this.#timer && !this.#firing) this.#schedule(this.ms);
  }

  /**
   * Takes `item` off the list (no-op when it is not on it). The timer stays even when the list
   * empties: it fires once for nothing, where clearing it made a new one for the next arm (a core
   * arms the idle list at creation and disarms it when its WebSocket attaches, so every new session
   * emptied it).
   */
  disarm(item: T): void {
    this.#due.delete(item);
  }

  /** Drops every deadline. */
  clear(): void {
    this.#due.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
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
    const due = this.#due;
    let next: number | undefined;
    try {
      const t = now();
      for (const [item, at] of due) {
        if (at > t) {
          next = at - t;
          break;
        }
        due.delete(item);
        this.#onDue(item);
      }
    } finally {
      this.#firing = false;
      // A callback that throws must not strand the deadlines behind it.
      if (due.size > 0) {
        if (next === undefined) {
          const first = due.values().next().value;
          next = first === undefined ? 1 : Math.max(1, first - now());
        }
        this.#schedule(next);
      }
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

  /** Starts `item`'s deadline of `ms` (an armed one of the same length starts over). */
  arm(item: T, ms: number): void {
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
