/**
 * The demo a newcomer runs: two chat pages exchange messages over each forced transport in real
 * Chromium, and each page shows the transport it is on.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startChat } from '../../examples/chat/app.mjs';
import { launchChromium } from './fixtures/browser.js';

const transports = ['websocket', 'sse', 'polling'] as const;

describe('chat demo in Chromium', () => {
  let chat: { url: string; close(): Promise<void> };
  let browser: Browser;
  beforeAll(async () => {
    chat = await startChat({ port: 0 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await chat?.close();
  });

  it.each(transports)('two pages chat over %s', async (transport) => {
    const ctx = await browser.newContext();
    try {
      const [alice, bob] = await Promise.all([ctx.newPage(), ctx.newPage()]);
      for (const [page, name] of [[alice, 'alice'], [bob, 'bob']] as const) {
        await page.goto(`${chat.url}/?transport=${transport}`);
        await page.fill('#name', name);
        await page.waitForFunction(() => (window as any).chatSocket?.readyState === 1);
      }
      for (const page of [alice, bob]) {
        assert.equal(await page.textContent('#transport'), transport);
        assert.equal(await page.getAttribute('#state', 'data-state'), 'open');
      }
      await alice.fill('#text', `hello from alice over ${transport} <b>not bold</b>`);
      await alice.click('#send');
      const said = bob.locator('#log li', { hasText: `hello from alice over ${transport}` });
      await said.waitFor();
      assert.equal(await said.locator('.name').textContent(), 'alice');
      // Rendered as text: the markup arrives literally, no <b> element is created.
      assert.equal(await bob.locator('#log b').count(), 0);
      await bob.fill('#text', 'hi alice');
      await bob.click('#send');
      await alice.locator('#log li', { hasText: 'hi alice' }).waitFor();
    } finally {
      await ctx.close();
    }
  });
});
