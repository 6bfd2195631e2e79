/**
 * Shared pieces of the store conformance kit (see testing.ts): the fixture a store supplies, the
 * handles every suite reads once the outer `beforeAll` has filled them in, the test runner they
 * register with, and small helpers.
 */
import { randomBytes } from 'node:crypto';
import type { AppendLimits, NewFrame, SessionRecord, Store, WakeEvent } from '../store.js';

export interface StoreConformanceFixture {
  /** One node's handle. */
  readonly a: Store;
  /** Another node's handle on the same data (may be `a` itself for an in-process store). */
  readonly b: Store;
  /**
   * For a store with an inbound journal (`replayInbound`): another node on the same data, with
   * `crash()` ending it as `kill -9` would — no confirm flushed, no goodbye; its liveness must be gone
   * when `crash()` resolves. Needed with `{ inboundJournal: true }`.
   */
  node?(): Promise<{ readonly store: Store; crash(): Promise<void> }>;
  cleanup(): Promise<void>;
}

type Body = () => Promise<void> | void;

/**
 * The part of a test runner the kit uses: vitest's and Jest's `{ describe, it, beforeAll, afterAll }`
 * as they are; for node:test, `{ describe, it: (n, fn, ms) => it(n, { timeout: ms }, fn), beforeAll:
 * before, afterAll: after }` (node:test takes its timeout in the options, not as a third argument).
 */
export interface TestRunner {
  describe: { (name: string, fn: () => void): unknown; skip(name: string, fn: () => void): unknown };
  /**
   * `timeoutMs` is the kit's bound for one test: pass it on as the runner's timeout (vitest and Jest
   * take it as a third argument; node:test in its options, see above). The kit also fails a test
   * itself a little before it, and runs the test's cleanups then, so nothing of a hung test (an
   * `onExpired` listener, say) reaches the next one.
   */
  it(name: string, fn: Body, timeoutMs?: number): unknown;
  beforeAll(fn: Body): unknown;
  afterAll(fn: Body): unknown;
}

export interface StoreConformanceOptions {
  /**
   * The store keeps an inbound journal (`replayInbound`, `confirmInbound`): its suite runs, and the
   * fixture must provide `node()`. Default false: that suite is registered as skipped.
   */
  inboundJournal?: boolean;
  /**
   * The store keeps append tokens and honours `after` (see `Store.append`): a repeated token is not
   * appended again, and an append whose `after` has not run is refused until it has. Default false:
   * the store may ignore both, and is then held to ignoring them (a plain append).
   */
  appendTokens?: boolean;
  /**
   * The store enforces `AppendLimits.maxTotalBufferedBytes`. Default: true for an in-process store
   * (one with `sync`), false otherwise (a store that keeps logs outside the process may ignore it).
   */
  maxTotalBufferedBytes?: boolean;
}

/** What a test body gets from the kit. */
export interface TestContext {
  /**
   * Runs `fn` when the test ends, however it ends: passed, failed, or bounded by the kit (a hung
   * test). Returns `fn`, so `const off = c.defer(store.onExpired(...))` still unsubscribes early.
   */
  defer<F extends () => unknown>(fn: F): F;
}

type KitBody = (c: TestContext) => Promise<void> | void;

/** The runner as the suites use it: every test gets the kit's own bound ({@link TEST_MS}). */
export interface Kit {
  describe: TestRunner['describe'];
  it(name: string, fn: KitBody): unknown;
  beforeAll(fn: Body): unknown;
  afterAll(fn: Body): unknown;
  readonly options: StoreConformanceOptions;
}

export function kit(runner: TestRunner, options: StoreConformanceOptions): Kit {
  return {
    describe: runner.describe,
    it: (name, fn) => runner.it(name, () => bounded(fn), TEST_MS),
    beforeAll: (fn) => runner.beforeAll(fn),
    afterAll: (fn) => runner.afterAll(fn),
    options,
  };
}

/**
 * Runs a test body with its cleanups, failing it after {@link KIT_MS} (before the runner's own
 * timeout, or instead of it where the runner has none): its cleanups run then, though the body may
 * still be stuck in a store call.
 */
async function bounded(fn: KitBody): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const c: TestContext = {
    defer(f) {
      cleanups.push(f);
      return f;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the test did not finish in ${KIT_MS} ms`)), KIT_MS);
  });
  let failed = false;
  let error: unknown;
  try {
    await Promise.race([Promise.resolve().then(() => fn(c)), late]);
  } catch (err) {
    failed = true;
    error = err;
  }
  clearTimeout(timer);
  // Last registered first. A failing cleanup keeps neither the others from running nor the test's own error.
  for (const f of cleanups.reverse()) {
    try {
      await f();
    } catch (err) {
      if (!failed) {
        failed = true;
        error = err;
      }
    }
  }
  if (failed) throw error;
}

/** The two handles and the fixture, filled in by the outer `beforeAll` of {@link runStoreConformance}. */
export interface Handles {
  fx: StoreConformanceFixture;
  a: Store;
  b: Store;
}

/** How long any awaited event may take before the test fails. */
export const WAIT_MS = 5000;
/** A test's own bound: a few awaited events, plus store calls that should each take milliseconds. */
export const TEST_MS = 3 * WAIT_MS;
/** The kit's own bound for a test, a little under {@link TEST_MS} so it runs the cleanups first. */
export const KIT_MS = TEST_MS - 1000;
/** Short TTL for expiry tests. */
export const TTL = 150;
export const LONG = 60_000;
export const roomy: AppendLimits = { maxBufferedMessages: 1000, maxBufferedBytes: 1 << 20 };

export function sid(): string {
  return randomBytes(16).toString('base64url');
}

export function record(id: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { id, tokenHash: 'ab'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0, ...extra };
}

export function text(data: string, size?: number): NewFrame {
  return size === undefined ? { t: 'd', data } : { t: 'd', data, size };
}

/** Resolves when `check()` holds; re-checked after each `poke` (a publish, say). Fails after WAIT_MS. */
export async function until(what: string, check: () => boolean | Promise<boolean>, poke?: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (poke) await poke();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Subscribes `on` to `id`'s channel and waits until the subscription demonstrably works (a networked
 * store subscribes asynchronously): probes are published from `from` until one arrives. Probe events
 * are never recorded.
 */
export async function recorder(on: Store, from: Store, id: string): Promise<{ events: WakeEvent[]; stop: () => void }> {
  const events: WakeEvent[] = [];
  let probed = false;
  const stop = on.subscribe(id, (ev) => {
    if (ev.type === 'attach' && ev.owner === 'probe') probed = true;
    // "Read again" (see WakeEvent) may come at any time and carries no event of its own.
    else if (!(ev.type === 'append' && ev.lastSeq === Number.MAX_SAFE_INTEGER)) events.push(ev);
  });
  await until('the subscription to work', () => probed, () => from.publish(id, { type: 'attach', owner: 'probe' }));
  return { events, stop };
}

export function seqs(frames: readonly { frame: { seq: number } }[]): number[] {
  return frames.map((f) => f.frame.seq);
}
