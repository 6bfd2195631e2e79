/**
 * A {@link Store} wrapper that turns every failure of a networked store into a
 * `BurrowError('store_unavailable')`, and fails at once (without calling the store) while the store
 * reports itself `down`, so no request ever waits on an unreachable store. The session core and the
 * HTTP layer tell a store failure (503 / 1013, the session lives on) from a bug (500 / 1011) by that
 * error. `MemoryStore` is never wrapped: it cannot be down, and its fast path stays as it is.
 */
import { storeUnavailable } from '../errors/burrow-error.js';
import type { Store } from './store.js';
import { WrappedStore } from './wrapped-store.js';

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
    return p.then(undefined, (err: unknown) => {
      throw storeUnavailable(err);
    });
  }
}
