/**
 * The client's test hook (`globalThis.__BURROW_TEST__`, see `@burrow/client`'s engine/test-hook.ts),
 * installed from outside the app with `addInitScript` so the app's own code stays as it ships.
 */
import type { BrowserContext, Page } from '@playwright/test';

/** The wire protocols a Burrow session can run on. */
export type BurrowTransport = 'websocket' | 'sse' | 'polling';

/** Every transport, in the client's default fallback order. */
export const BURROW_TRANSPORTS: readonly BurrowTransport[] = ['websocket', 'sse', 'polling'];

/**
 * What the client reads from `globalThis.__BURROW_TEST__`. Set fields override the app's options for
 * every BurrowSocket made on the page.
 */
export interface BurrowTestHook {
  /** Transports to use, in order (replaces the app's `transports`). */
  transports?: readonly BurrowTransport[];
  /** `false`: no background upgrade back to WebSocket (replaces the app's `upgrade`). */
  upgrade?: boolean;
  /** `false`: no remembered transport is read or written (replaces the app's `remember`). */
  remember?: boolean;
}

/** The hook a pinned transport needs: only that transport, no upgrade away from it, nothing remembered. */
export function pinTransport(transport: BurrowTransport): BurrowTestHook {
  return { transports: [transport], upgrade: false, remember: false };
}

/**
 * Installs the test hook on every page of `target` (a page, or a context and all its pages), before
 * any of the app's scripts run: call it before `page.goto`. The hook also turns on the client's
 * registry of live sockets, which {@link waitForBurrow} and {@link expectTransport} read. Installing
 * it again replaces the settings for later navigations.
 *
 * @example
 * ```ts
 * await installBurrowHook(page, { transports: ['sse'], upgrade: false, remember: false });
 * await page.goto('/');
 * ```
 */
export async function installBurrowHook(target: Page | BrowserContext, hook: BurrowTestHook = {}): Promise<void> {
  await target.addInitScript((h) => {
    // A fresh `sockets` array per document: the client pushes every BurrowSocket it makes onto it.
    (globalThis as { __BURROW_TEST__?: unknown }).__BURROW_TEST__ = { ...h, sockets: [] };
  }, hook);
}
