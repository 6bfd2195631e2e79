/**
 * What every transport does the same way: it ends exactly once, either closed by the engine (silently)
 * or reported down (once), and after that nothing it owns may reach the engine again.
 *
 * Transports are closures, not classes: their state is locals, which the minifier renames, where
 * `this.#field` stays seven characters at every use (docs/ARCHITECTURE.md, "Closures, not classes", bundle size).
 */
import type { DownReason, TransportHandlers } from './transport.js';

/** The end of one transport. */
export interface TransportEnd {
  /** Closed or down: late platform events must be dropped, not reported. */
  done(): boolean;
  /** Ends it silently (the engine's `close`); `code` goes to `cleanup`, for a wire that can carry one. */
  close(code?: number): void;
  /** Ends it and tells the engine why, once; later calls (a close event after an error) are ignored. */
  down(why: DownReason): void;
}

/**
 * The end of a transport reporting to `handlers`. `cleanup` releases its timers, requests and
 * platform objects; it runs once, on close (with the code given) or down.
 */
export function transportEnd(handlers: TransportHandlers, cleanup: (closeCode?: number) => void): TransportEnd {
  let done = false;
  return {
    done: () => done,
    close(code) {
      if (done) return;
      done = true;
      cleanup(code);
    },
    down(why) {
      if (done) return;
      done = true;
      cleanup();
      handlers.onDown(why);
    },
  };
}
