/**
 * The kit proves itself: each network mode makes the default client end where such a network would
 * make it end, the hook pins transports over the app's own options, the server-side cut is survived,
 * and a page without the hook is untouched. Every wait is on an event or a poll of page state.
 */
import { test as plain } from '@playwright/test';
import { cutTransports } from '@burrow/server/testing';
import { expect, expectTransport, installBurrowHook, pinTransport, planBehind, restrictNetwork, waitForBurrow, type BurrowTransport, type NetworkMode } from '../src/index.js';
import { type PageApp, pagePath, recordWebSockets, type SocketRecord, test, webSockets } from './fixtures.js';
import { startKitServer } from './server.js';
import type { Page } from '@playwright/test';

declare const window: { app: PageApp };

/** Sends `texts` and waits until the page received each echo, in order after what it had. */
async function exchange(page: Page, texts: string[]): Promise<void> {
  const before = await page.evaluate(() => window.app.received.length);
  await page.evaluate((t) => t.forEach((m) => (window.app.socket as unknown as { send(m: string): void }).send(m)), texts);
  await expect.poll(() => page.evaluate((n) => window.app.received.slice(n), before), { intervals: [50, 100, 200] }).toEqual(texts);
}

/**
 * What `mode` does to the page's WebSockets, as the page sees them (every one of them, at least the
 * first connection's and the upgrade probe's):
 * - refused (and sse-buffered, which refuses upgrades): never opened, closed by the network (not by
 *   the page's own close());
 * - black-holed: never opened, and still CONNECTING or ended by the page's own timeout, never by the
 *   network;
 * - silent: opened, and not one message reached the page.
 */
async function expectSignature(page: Page, mode: NetworkMode): Promise<void> {
  const all = (check: (s: SocketRecord) => boolean) => async () => {
    const list = await webSockets(page);
    return list.length >= 2 && list.every(check) ? 'yes' : JSON.stringify(list);
  };
  const opts = { intervals: [50, 100, 200] };
  switch (mode) {
    case 'ws-refused':
    case 'sse-buffered':
      // Polled: the probe's refusal may still be on its way.
      await expect.poll(all((s) => !s.opened && s.closed !== null && !s.closed.byClient), { message: 'every WebSocket refused by the network', ...opts }).toBe('yes');
      break;
    case 'ws-blackhole':
      // Not polled: an answer at any time breaks the signature.
      expect(await all((s) => !s.opened && (s.readyState === 0 || s.closeCalled) && !(s.closed && !s.closed.byClient))(), 'every WebSocket unanswered').toBe('yes');
      break;
    case 'ws-silent':
      // Polled: the probe may still be connecting.
      await expect.poll(all((s) => s.opened && s.messages === 0), { message: 'every WebSocket opened and got nothing', ...opts }).toBe('yes');
      break;
    default:
      throw new Error(`no signature for ${mode}`);
  }
}

/** The app never saw error or close: transport trouble stayed below it. */
const appEvents = (page: Page) => page.evaluate(() => window.app.events);

test.describe('the default client behind each network mode', () => {
  // The app's own options, the client's defaults: what a user's app runs with.
  test.use({ burrowTransport: 'auto' });

  const cases: Array<[NetworkMode, BurrowTransport, 'blocked' | 'held']> = [
    ['ws-refused', 'sse', 'blocked'],
    ['ws-blackhole', 'sse', 'blocked'],
    ['ws-silent', 'sse', 'blocked'],
    ['sse-buffered', 'polling', 'held'],
  ];
  for (const [mode, expected, counter] of cases) {
    test(`${mode}: ends on ${expected}`, async ({ page }) => {
      const net = await restrictNetwork(page, mode);
      await recordWebSockets(page);
      await page.goto(pagePath());
      await expectTransport(page, expected);
      await exchange(page, ['a', 'b']);
      expect(net[counter]).toBeGreaterThan(0);
      if (counter === 'held') expect(net.blocked).toBeGreaterThan(0);
      // The background upgrade probe (1 s after open) meets the same network and changes nothing.
      await expect.poll(() => net.blocked, { message: 'an upgrade probe was blocked', intervals: [50, 100, 200] }).toBeGreaterThan(1);
      await expectTransport(page, expected);
      expect(await appEvents(page)).toEqual(['open']);
      // Each mode has its own signature in what the page's WebSockets went through (the first one
      // and the probe's), so one mode standing in for another fails here.
      await expectSignature(page, mode);
    });
  }
  test('idle-cut: the WebSocket is cut when idle, the session lives on, on websocket', async ({ page }) => {
    // Server heartbeats come every 1 s (server.ts): a 0.5 s idle cut hits the quiet gap between two.
    const net = await restrictNetwork(page, 'idle-cut', { idleSeconds: 0.5 });
    await page.goto(pagePath());
    await expectTransport(page, 'websocket');
    await expect.poll(() => net.cuts, { intervals: [50, 100, 200] }).toBeGreaterThan(0);
    await exchange(page, ['a', 'b']);
    await expectTransport(page, 'websocket');
    expect(await appEvents(page)).toEqual(['open']);
  });

  test('mid-stream-cut: a flood crosses the cuts whole and in order, on websocket', async ({ page }) => {
    const net = await restrictNetwork(page, 'mid-stream-cut', { cutAfter: 10, maxCuts: 2 });
    await page.goto(pagePath());
    await expectTransport(page, 'websocket');
    await page.evaluate(() => (window.app.socket as unknown as { send(m: string): void }).send('flood:100'));
    const want = Array.from({ length: 100 }, (_, i) => `s${i + 1}`);
    await expect.poll(() => page.evaluate(() => window.app.received), { intervals: [50, 100, 200] }).toEqual(want);
    expect(net.cuts).toBe(2);
    await expectTransport(page, 'websocket');
    expect(await appEvents(page)).toEqual(['open']);
  });
});

test.describe('the hook', () => {
  for (const t of ['websocket', 'sse', 'polling'] as const) {
    test.describe(`burrowTransport '${t}'`, () => {
      test.use({ burrowTransport: t });
      test(`pins ${t} over the app's own options`, async ({ page }) => {
        const sockets: string[] = [];
        page.on('websocket', (ws) => sockets.push(ws.url()));
        // The app asks for WebSocket only and an upgrade probe 100 ms after open: the hook wins over both.
        await page.goto(pagePath({ transports: ['websocket'], upgradeDelay: 100 }));
        expect(await waitForBurrow(page)).toBe(t);
        const openedAt = await page.evaluate(() => performance.now());
        await exchange(page, ['x']);
        // An absence: give the 100 ms probe timer five times its delay to show itself, then check.
        await expect.poll(() => page.evaluate(() => performance.now()), { intervals: [50] }).toBeGreaterThan(openedAt + 500);
        await expectTransport(page, t);
        expect(sockets.length).toBe(t === 'websocket' ? 1 : 0);
      });
    });
  }

  test('pinTransport turns the upgrade off: WebSocket back in the chain is never probed', async ({ page }) => {
    // The pins above cannot show it: a chain without websocket never probes, upgrade or not. Here the
    // pin's own fields are kept and WebSocket is put back after sse, so only `upgrade: false` (and
    // the app's probe 100 ms after open) decides whether a WebSocket is made.
    expect(pinTransport('sse')).toEqual({ transports: ['sse'], upgrade: false, remember: false });
    await installBurrowHook(page, { ...pinTransport('sse'), transports: ['sse', 'websocket'] });
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(pagePath({ upgradeDelay: 100 }));
    expect(await waitForBurrow(page)).toBe('sse');
    const openedAt = await page.evaluate(() => performance.now());
    await exchange(page, ['x']);
    // An absence: give the 100 ms probe timer ten times its delay to show itself, then check.
    await expect.poll(() => page.evaluate(() => performance.now()), { intervals: [50] }).toBeGreaterThan(openedAt + 1000);
    await expectTransport(page, 'sse');
    expect(sockets).toEqual([]);
  });

  test.describe('pinned to polling', () => {
    test.use({ burrowTransport: 'polling' });
    test('a page-level hook replaces the pin (what planBehind().hook relies on)', async ({ page }) => {
      const plan = planBehind('ws-refused', 'websocket')!;
      await installBurrowHook(page, plan.hook);
      await page.goto(pagePath());
      expect(await waitForBurrow(page)).toBe('websocket');
    });
  });

  test('with remember off, nothing is written to localStorage', async ({ page }) => {
    await installBurrowHook(page, { remember: false });
    await page.goto(pagePath());
    await waitForBurrow(page);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('burrow:')))).toEqual([]);
  });
});

test('cutTransports drops the live transport and the page resumes unseen', async ({ page, app }) => {
  await page.goto(pagePath());
  await expectTransport(page, 'websocket');
  await exchange(page, ['before']);
  expect(cutTransports(app.burrow)).toBeGreaterThanOrEqual(1);
  await exchange(page, ['after']);
  expect(await appEvents(page)).toEqual(['open']);
});

plain('an app with no test hook still opens on WebSocket and remembers it', async ({ page }) => {
  const app = await startKitServer();
  try {
    await page.goto(app.url + pagePath());
    await expect.poll(() => page.evaluate(() => window.app.socket.transport)).toBe('websocket');
    expect(await page.evaluate(() => 'globalThis.__BURROW_TEST__' in globalThis || '__BURROW_TEST__' in globalThis)).toBe(false);
    await expect.poll(() => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('burrow:')).length)).toBe(1);
  } finally {
    await app.close();
  }
});
