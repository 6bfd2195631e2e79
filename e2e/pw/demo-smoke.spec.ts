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
