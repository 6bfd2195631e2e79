/**
 * `@burrow/server/testing`: the store conformance kit. `runStoreConformance` registers suites that
 * hold a {@link Store} to every contract of `store/store.ts`, using two handles `a` and `b` on the
 * same data — two nodes of a networked store, or the same in-process store twice. It imports no test
 * runner: give it yours.
 *
 * ```ts
 * // vitest (Jest alike, with its globals)
 * import { afterAll, beforeAll, describe, it } from 'vitest';
 * runStoreConformance({ describe, it, beforeAll, afterAll }, 'MyStore', async () => {
 *   const a = new MyStore(opts), b = new MyStore(opts);
 *   return { a, b, cleanup: async () => { await a.close?.(); await b.close?.(); } };
 * });
 *
 * // node:test: its timeout goes in the options, not as a third argument
 * import { after, before, describe, it } from 'node:test';
 * runStoreConformance(
 *   { describe, it: (name, fn, ms) => it(name, { timeout: ms }, fn), beforeAll: before, afterAll: after },
 *   'MyStore',
 *   factory,
 * );
 * ```
 *
 * A store with an inbound journal passes `{ inboundJournal: true }` and a fixture with `node()`; one
 * that keeps append tokens and `after` (see `Store.append`), `{ appendTokens: true }`. Whether
 * `maxTotalBufferedBytes` is held to is `{ maxTotalBufferedBytes }` (default: when the store has `sync`).
 * Optional parts of the contract (`touchProven`, `acceptInboundBatch`, `sync`) are tested when present.
 *
 * Every test is bounded (the runner's timeout, and the kit's own just before it, which also runs the
 * test's cleanups: a hung test leaves no `onExpired` listener behind for the next one).
 *
 * Nothing waits on a timer for synchronisation: events are awaited, and "did not happen" is checked
 * against a later event that must come after it. Session ids are random, so the suites share a store.
 * The suites themselves are in store/conformance/.
 *
 * Also here: {@link cutTransports}, which drops every live transport of a Burrow mid-session (for e2e
 * suites such as `@burrow/playwright`'s, to prove an app survives a cut).
 */
import { CloseCode } from '@burrow/shared';
import type { Burrow } from './burrow.js';
import { internals } from './ops/internals.js';
import { expirySuite, healthSuite, roomsSuite, wakeUpsSuite } from './store/conformance/events.js';
import { inboundJournalSuite } from './store/conformance/journal.js';
import { type Handles, kit, type StoreConformanceFixture, type StoreConformanceOptions, type TestRunner } from './store/conformance/kit.js';
import type { Store } from './store/store.js';
import { inboundSuite } from './store/conformance/inbound.js';
import { outboundLogSuite } from './store/conformance/log.js';
import { recordsSuite } from './store/conformance/records.js';

export type { StoreConformanceFixture, StoreConformanceOptions, TestRunner } from './store/conformance/kit.js';

/** Registers the conformance suites for one store with `runner`. */
export function runStoreConformance(
  runner: TestRunner,
  name: string,
  factory: () => Promise<StoreConformanceFixture>,
  options: StoreConformanceOptions = {},
): void {
  const t = kit(runner, options);
  t.describe(`Store conformance: ${name}`, () => {
    // Filled in before any suite runs; each suite reads it in its own `beforeAll`.
    const h = {} as Handles;
    t.beforeAll(async () => {
      h.fx = await factory();
      h.a = h.fx.a;
      h.b = h.fx.b;
    });
    t.afterAll(async () => {
      await h.fx?.cleanup();
    });

    recordsSuite(t, h);
    outboundLogSuite(t, h);
    inboundSuite(t, h);
    inboundJournalSuite(t, h);
    wakeUpsSuite(t, h);
    expirySuite(t, h);
    roomsSuite(t, h);
    healthSuite(t, h);
  });
}

/**
 * Drops every transport live on this node, as a network cut would: WebSockets are terminated without
 * a close frame, SSE streams and held polls end. Sessions are untouched: each client resumes (on the
 * same transport where it can) with nothing lost or repeated, and the app sees no `close`.
 *
 * @param burrow the server whose transports to cut (this node only; other nodes are not reached).
 * @returns how many live transports were cut.
 *
 * @example
 * ```ts
 * import { cutTransports } from '@burrow/server/testing';
 * expect(cutTransports(burrow)).toBeGreaterThan(0);
 * ```
 */
export function cutTransports(burrow: Burrow): number {
  const inner = internals.get(burrow);
  if (!inner) throw new TypeError('cutTransports: not a Burrow made by createBurrow()');
  let cut = 0;
  for (const core of [...inner.registry.cores()]) {
    if (!core.attached) continue;
    cut++;
    // 1006 is "no close frame": the WebSocket transport terminates the socket instead of closing it.
    core.dispose(CloseCode.Abnormal, 'cut');
  }
  return cut;
}
