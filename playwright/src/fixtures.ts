/**
 * The `test` of `@burrow/playwright`: Playwright's, with a `burrowTransport` option that pins every
 * page's BurrowSockets to one transport through the client's test hook, and projects for all three.
 */
import { expect as baseExpect, test as base } from '@playwright/test';
import { BURROW_TRANSPORTS, type BurrowTransport, installBurrowHook, pinTransport } from './hook.js';

/** Options the kit adds to Playwright's `use` (config, project or `test.use`). */
export interface BurrowOptions {
  /**
   * The transport every BurrowSocket of the test's pages runs on (no upgrade away from it, nothing
   * remembered), or `'auto'`: the app's own options decide (the hook is still installed, so
   * `expectTransport` works). Default `'auto'`.
   */
  burrowTransport: BurrowTransport | 'auto';
}

/** Fixtures the kit adds to every test. */
export interface BurrowFixtures {
  /** Installs the test hook on the test's context before any page of it loads (automatic). */
  burrowHook: void;
}

/**
 * Playwright's `test` with the {@link BurrowOptions} option and the automatic {@link BurrowFixtures}:
 * import it instead of `@playwright/test`'s.
 *
 * @example
 * ```ts
 * import { test, expect, expectTransport } from '@burrow/playwright';
 * test('chat', async ({ page, burrowTransport }) => {
 *   await page.goto('/');
 *   if (burrowTransport !== 'auto') await expectTransport(page, burrowTransport);
 * });
 * ```
 */
export const test = base.extend<BurrowOptions & BurrowFixtures>({
  burrowTransport: ['auto', { option: true }],
  burrowHook: [
    async ({ context, burrowTransport }, use) => {
      await installBurrowHook(context, burrowTransport === 'auto' ? {} : pinTransport(burrowTransport));
      await use();
    },
    { auto: true },
  ],
});

/** Playwright's `expect`, re-exported so a test needs a single import. */
export const expect: typeof baseExpect = baseExpect;

/** A Playwright project that runs the suite on one transport (see {@link burrowProjects}). */
export interface BurrowProject {
  name: string;
  use: { burrowTransport: BurrowTransport } & Record<string, unknown>;
}

/**
 * One project per transport (`websocket`, `sse`, `polling`), so every test runs three times, each on
 * one pinned transport. `use` is merged into each (e.g. a device or the browser's launch options).
 *
 * @example
 * ```ts
 * // playwright.config.ts
 * import { defineConfig } from '@playwright/test';
 * import { burrowProjects, type BurrowOptions } from '@burrow/playwright';
 * export default defineConfig<BurrowOptions>({ projects: burrowProjects() });
 * ```
 */
export function burrowProjects(use: Record<string, unknown> = {}): BurrowProject[] {
  return BURROW_TRANSPORTS.map((t) => ({ name: t, use: { ...use, burrowTransport: t } }));
}
