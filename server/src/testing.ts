/**
 * `@burrow/server/testing`: the store conformance kit. `runStoreConformance` registers `node:test`
 * suites that hold a {@link Store} to every contract of `store/store.ts`, using two handles `a` and `b`
 * on the same data — two nodes of a networked store, or the same in-process store twice.
 *
 * ```ts
 * runStoreConformance('MyStore', async () => {
 *   const a = new MyStore(opts), b = new MyStore(opts);
 *   return { a, b, cleanup: async () => { await a.close?.(); await b.close?.(); } };
 * });
 * ```
 *
 * Nothing waits on a timer for synchronisation: events are awaited, and "did not happen" is checked
 * against a later event that must come after it. Session ids are random, so the suites share a store.
 * The suites themselves are in store/conformance/.
 */
import { after, before, describe } from 'node:test';
import { expirySuite, healthSuite, roomsSuite, wakeUpsSuite } from './store/conformance/events.js';
import { inboundJournalSuite } from './store/conformance/journal.js';
import type { Handles, StoreConformanceFixture } from './store/conformance/kit.js';
import type { Store } from './store/store.js';
import { inboundSuite, outboundLogSuite, recordsSuite } from './store/conformance/log.js';

export type { StoreConformanceFixture } from './store/conformance/kit.js';

/** Registers the conformance suites for one store. */
export function runStoreConformance(name: string, factory: () => Promise<StoreConformanceFixture>): void {
  describe(`Store conformance: ${name}`, { timeout: 30_000 }, () => {
    // Filled in before any suite runs; each suite reads it in its own `before`.
    const h = {} as Handles;
    before(async () => {
      h.fx = await factory();
      h.a = h.fx.a;
      h.b = h.fx.b;
    });
    after(async () => {
      await h.fx?.cleanup();
    });

    recordsSuite(h);
    outboundLogSuite(h);
    inboundSuite(h);
    inboundJournalSuite(h);
    wakeUpsSuite(h);
    expirySuite(h);
    roomsSuite(h);
    healthSuite(h);
  });
}
