/**
 * The demo a newcomer runs (the @playwright/test port of the vitest demo smoke): two chat pages
 * exchange messages over the project's transport in real Chromium, forced with the demo's own
 * `?transport=` selector, and each page shows the transport it is on. User input renders as text.
 */
import { expect, test } from './fixtures.js';

test('two pages chat', async ({ browser, chat, burrowTransport }) => {
  const transport = burrowTransport === 'auto' ? 'websocket' : burrowTransport;
  // A context of its own, outside the kit's hook: the demo's selector is what is under test.
  const ctx = await browser.newContext();
  try {
    const [alice, bob] = await Promise.all([ctx.newPage(), ctx.newPage()]);
    for (const [page, name] of [[alice, 'alice'], [bob, 'bob']] as const) {
      await page.goto(`${chat.url}/?transport=${transport}`);
      await page.fill('#name', name);
      await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
      await expect(page.locator('#transport')).toHaveText(transport);
    }
    await alice.fill('#text', `hello from alice over ${transport} <b>not bold</b>`);
    await alice.click('#send');
    const said = bob.locator('#log li', { hasText: `hello from alice over ${transport}` });
    await expect(said.locator('.name')).toHaveText('alice');
    // Rendered as text: the markup arrives literally, no <b> element is created.
    await expect(bob.locator('#log b')).toHaveCount(0);
    await bob.fill('#text', 'hi alice');
    await bob.click('#send');
    await expect(alice.locator('#log li', { hasText: 'hi alice' })).toHaveCount(1);
  } finally {
    await ctx.close();
  }
});

test('back from the back/forward cache, the page joins again', async ({ playwright, launchOptions, chat, burrowTransport }) => {
  const transport = burrowTransport === 'auto' ? 'websocket' : burrowTransport;
  // Playwright turns the back/forward cache off in the browsers it launches; this one keeps it.
  const browser = await playwright.chromium.launch({ ...launchOptions, ignoreDefaultArgs: ['--disable-back-forward-cache'] });
  try {
    const page = await browser.newPage();
    await page.addInitScript(() => addEventListener('pageshow', (e) => ((window as unknown as { restored?: boolean }).restored = e.persisted)));
    await page.goto(`${chat.url}/?transport=${transport}`);
    await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
    const sid = () => page.evaluate(() => (window as unknown as { chatSocket: { sessionId: string } }).chatSocket.sessionId);
    const first = await sid();
    // pagehide ends the session (so the others' online count is right); the page goes into the cache.
    await page.goto(`${chat.url}/stats`);
    // A page restored from the cache fires no load event: wait for the navigation to commit.
    await page.goBack({ waitUntil: 'commit' });
    // Really restored from the cache (else this test would show nothing).
    await expect.poll(() => page.evaluate(() => (window as unknown as { restored?: boolean }).restored)).toBe(true);
    await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
    await expect(page.locator('#transport')).toHaveText(transport);
    expect(await sid()).not.toBe(first);
    await page.fill('#text', 'back again');
    await page.click('#send');
    await expect(page.locator('#log li', { hasText: 'back again' })).toHaveCount(1);
  } finally {
    await browser.close();
  }
});

test('an unknown ?transport= is said and ignored: the page opens on auto', async ({ browser, chat, burrowTransport }) => {
  test.skip(burrowTransport !== 'websocket', 'about the page, not a transport: once is enough');
  // Outside the kit's hook, as above: the demo's own choice is under test.
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`${chat.url}/?transport=ws`);
    await expect(page.locator('#log li', { hasText: 'unknown transport "ws"' })).toHaveCount(1);
    await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
    await expect(page.locator('#transport')).toHaveText('websocket');
    await expect(page.locator('#force')).toHaveValue('');
    // Any case of a known one is that one.
    await page.goto(`${chat.url}/?transport=SSE`);
    await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
    await expect(page.locator('#transport')).toHaveText('sse');
    await expect(page.locator('#force')).toHaveValue('sse');
  } finally {
    await ctx.close();
  }
});
