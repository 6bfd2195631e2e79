/**
 * Timeouts of the Node HTTP client's requests, on one timer per timeout length. `node:http`'s own
 * `timeout` option arms the socket's idle timer and adds and removes its listeners on every request
 * of a keep-alive socket: at 1,000 paced SSE sessions (one POST per message) that cost the load
 * process ~10 % of its CPU and doubled its p99 (bench/README.md, "The Node client's request
 * timeouts"). Here a request costs one entry of a Map.
 *
 * Every deadline of a list is `ms` after it was armed and none is re-armed, so a list's insertion
 * order is its deadline order and one timer, set for its first entry, serves it (as Node's own timer
 * lists do). The timeout is the whole request's, as `fetch` with an AbortSignal has it in browsers.
 *
 * Node-only: imported by `node-http.ts`, never by the browser entry.
 */
import { performance } from 'node:perf_hooks';
import { MAX_DELAY } from '@burrow/shared';

interface DeadlineList {
  /** Expiry callback -> its deadline (ms, monotonic), in deadline order. */
  readonly due: Map<() => void, number>;
  timer: NodeJS.Timeout | undefined;
  /** In `fire`: a deadline armed by an expiry callback leaves the timer to it. */
  firing: boolean;
}

const lists = new Map<number, DeadlineList>();

/**
 * Calls `expire` once `ms` have passed, unless the returned function was called first. The timer is
 * unref()'d: a pending request's deadline does not keep the process alive on its own.
 */
export function deadline(delay: number, expire: () => void): () => void {
  // Past what a timer holds, setTimeout fires after 1 ms and fire() would reschedule it every ms
  // until the deadline (the open frame's terms can add up past it).
  const ms = Math.min(delay, MAX_DELAY);
  let list = lists.get(ms);
  if (!list) {
    list = { due: new Map(), timer: undefined, firing: false };
    lists.set(ms, list);
  }
  const l = list;
  l.due.set(expire, performance.now() + ms);
  if (!l.timer && !l.firing) schedule(l, ms);
  return () => void l.due.delete(expire);
}

function schedule(list: DeadlineList, delay: number): void {
  list.timer = setTimeout(() => fire(list), delay);
  list.timer.unref();
}

function fire(list: DeadlineList): void {
  list.timer = undefined;
  list.firing = true;
  const t = performance.now();
  let next: number | undefined;
  try {
    for (const [expire, at] of list.due) {
      if (at > t) {
        next = at - t;
        break;
      }
      list.due.delete(expire);
      expire();
    }
  } finally {
    list.firing = false;
    // An expiry that throws must not strand the deadlines behind it.
    if (list.due.size > 0) {
      const first = list.due.values().next().value;
      schedule(list, Math.max(1, Math.ceil(next ?? (first === undefined ? 1 : first - performance.now()))));
    }
  }
}
