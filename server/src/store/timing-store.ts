/**
 * A {@link Store} wrapper that reports how long each call took (`observe(op, seconds)`, failures
 * included). Only installed when metrics are on, so the fast path pays nothing otherwise.
 */
import type { Store } from './store.js';
import { WrappedStore } from './wrapped-store.js';

export type StoreObserver = (op: string, seconds: number) => void;

export class TimingStore extends WrappedStore {
  readonly #observe: StoreObserver;

  constructor(inner: Store, observe: StoreObserver) {
    super(inner);
    this.#observe = observe;
  }

  protected override around<T>(op: string, call: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const done = (): void => {
      try {
        this.#observe(op, (performance.now() - t0) / 1000);
      } catch {
        // Metrics never break a store call.
      }
    };
    let p: Promise<T>;
    try {
      p = call();
    } catch (err) {
      done();
      throw err;
    }
    return p.then(
      (v) => {
        done();
        return v;
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
  }
}
