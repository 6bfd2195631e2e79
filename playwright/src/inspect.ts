/**
 * Reading the page's live BurrowSockets through the test hook's registry (see hook.ts).
 */
import { expect, type Page } from '@playwright/test';
import type { BurrowTransport } from './hook.js';

/** What the helpers read of a BurrowSocket on the page. */
interface SocketView {
  readonly readyState: number;
  readonly transport: string;
}

/** Options of {@link waitForBurrow} and {@link expectTransport}. */
export interface BurrowWaitOptions {
  /** How long to wait, in ms. Default: the test's `expect` timeout (5 s unless configured). */
  timeout?: number;
}

/** expect.poll's default backs off to 1 s between tries; a transport switch is worth noticing sooner. */
const INTERVALS = [50, 100, 200];

/**
 * The transport of the page's newest BurrowSocket: '' before it opens (or with none), `null` when the
 * test hook is not installed (the `test` of this package installs it for every page).
 */
export function currentTransport(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const reg = (globalThis as { __BURROW_TEST__?: { sockets?: SocketView[] } }).__BURROW_TEST__?.sockets;
    if (!Array.isArray(reg)) return null;
    const s = reg[reg.length - 1];
    return s && s.readyState === 1 ? s.transport : '';
  });
}

async function transportOrThrow(page: Page): Promise<string> {
  const t = await currentTransport(page);
  if (t === null) throw new Error('Burrow test hook not installed: use `test` from @burrow/playwright, or installBurrowHook(page) before page.goto');
  return t;
}

/**
 * Waits until the page's newest BurrowSocket is open and resolves with the transport it is on.
 *
 * @example
 * ```ts
 * await page.goto('/');
 * const transport = await waitForBurrow(page);
 * ```
 */
export async function waitForBurrow(page: Page, options: BurrowWaitOptions = {}): Promise<BurrowTransport> {
  let last = '';
  await expect
    .poll(async () => (last = await transportOrThrow(page)), { message: 'a BurrowSocket on the page opens', timeout: options.timeout, intervals: INTERVALS })
    .not.toBe('');
  return last as BurrowTransport;
}

/**
 * Asserts that the page's newest BurrowSocket is open on `transport`, retrying until the timeout (a
 * fallback or an upgrade may still be on its way).
 *
 * @example
 * ```ts
 * await expectTransport(page, 'sse');
 * ```
 */
export async function expectTransport(page: Page, transport: BurrowTransport, options: BurrowWaitOptions = {}): Promise<void> {
  await expect
    .poll(() => transportOrThrow(page), { message: `the page's BurrowSocket is open on ${transport}`, timeout: options.timeout, intervals: INTERVALS })
    .toBe(transport);
}
