/**
 * The test hook: a plain object a test puts on `globalThis.__BURROW_TEST__` before the app's code runs
 * (Playwright's `page.addInitScript`), so an e2e suite can pin a transport with the app unchanged.
 * `@burrow/playwright` sets it; nothing else should. Unset, it costs one property read per socket.
 *
 * ```js
 * globalThis.__BURROW_TEST__ = { transports: ['sse'], upgrade: false, remember: false, sockets: [] };
 * ```
 */
import type { BurrowSocketOptions, TransportName } from '../types.js';

/** What a test may put on `globalThis.__BURROW_TEST__`. Every field is optional; set ones win over the app's options. */
export interface BurrowTestHook {
  /** Replaces the app's `transports` option (order and subset). */
  transports?: readonly TransportName[];
  /** Replaces the app's `upgrade` option: `false` keeps a session off WebSocket once it is on a fallback. */
  upgrade?: boolean;
  /** Replaces the app's `remember` option: `false` neither reads nor writes the remembered transport. */
  remember?: boolean;
  /** When an array, every BurrowSocket made from now on is pushed onto it, so a test can see its transport. */
  sockets?: unknown[];
}

/** The hook, when a test set one. */
export function testHook(): BurrowTestHook | undefined {
  const h = (globalThis as { __BURROW_TEST__?: unknown }).__BURROW_TEST__;
  return typeof h === 'object' && h !== null ? (h as BurrowTestHook) : undefined;
}

/** `options` with the hook's set fields laid over them; `options` itself when no hook is set. */
export function withTestHook(options: BurrowSocketOptions, hook = testHook()): BurrowSocketOptions {
  if (!hook) return options;
  const o = { ...options };
  if (Array.isArray(hook.transports)) o.transports = hook.transports;
  if (typeof hook.upgrade === 'boolean') o.upgrade = hook.upgrade;
  if (typeof hook.remember === 'boolean') o.remember = hook.remember;
  return o;
}
