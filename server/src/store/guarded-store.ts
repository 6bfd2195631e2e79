/**
 * A {@link Store} wrapper that turns every failure of a networked store into a
 * `BurrowError('store_unavailable')`, and fails at once (without calling the store) while the store
 * reports itself `down`, so no request ever waits on an unreachable store. The session core and the
 * HTTP layer tell a store failure (503 / 1013, the session lives on) from a bug (500 / 1011) by that
 * error. `MemoryStore` is never wrapped: it cannot be down, and its fast path stays as it is.
 */
import { storeUnavailable } from '../errors/burrow-error.js';
import type { AppendLimits, AppendResult, NewFrame, Store } from './store.js';
import { WrappedStore } from './wrapped-store.js';

/** The rejection handler of every guarded call: one function, not one made per call. */
function unavailable(err: unknown): never {
  throw storeUnavailable(err);
}

export class GuardedStore extends WrappedStore {
  constructor(inner: Store) {
    super(inner);
  }

  protected override around<T>(_op: string, call: () => Promise<T>): Promise<T> {
    if (this.inner.status() === 'down') return Promise.reject(storeUnavailable());
    let p: Promise<T>;
    try {
      p = call();
    } catch (err) {
      return Promise.reject(storeUnavailable(err));
    }
    return p.then(undefined, unavailable);
  }

  /** `around` without the closure: one per networked `send()` (issue #14). */
  override append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token?: string, after?: string): Promise<AppendResult> {
    if (this.inner.status() === 'down') return Promise.reject(storeUnavailable());
    let p: Promise<AppendResult>;
    try {
      p = this.inner.append(sid, frames, limits, token, after);
    } catch (err) {
      return Promise.reject(storeUnavailable(err));
    }
    return p.then(undefined, unavailable);
  }
}
