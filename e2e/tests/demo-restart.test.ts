/**
 * The demo through a server restart, as a newcomer would try it (issue 16), at phone and desktop
 * widths: the page shows "reconnecting" soon after the server dies and is back "open" with a working
 * chat soon after it returns (a new session: the restarted demo's in-memory store forgot the old one).
 * The bounds are the (2 s and 3 s); the measured times are noted on the test.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startChat } from '../../examples/chat/app.mjs';
import { launchChromium } from './fixtures/browser.js';

type Chat = { url: string; port: number; close(): Promise<void> };

describe('chat demo through a server restart in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  // it.for, not it.each: it hands the test context (for the timing note) to the test.
  it.for([
    ['phone', 360, 'auto', 740],
    ['desktop', 1280, 'auto', 800],
    // SSE: a browser's EventSource hides the 404 of a forgotten session; it used to take the whole
    // resume window (~60 s) to notice.
    ['desktop', 1280, 'sse', 800],
    ['desktop', 1280, 'polling', 800],
  ] as const)('%s (%i px, %s): the send button fits; reconnecting within 2 s of the death, open within 3 s of the return', async ([, width, transport, height], ctx) => {
    let chat: Chat = await startChat({ port: 0 });
    const port = chat.port;
    const context = await browser.newContext({ viewport: { width, height } });
    try {
      const page = await context.newPage();
      await page.goto(transport === 'auto' ? chat.url : `${chat.url}/?transport=${transport}`);
      await page.fill('#name', 'rita');
      await page.waitForFunction(() => (window as any).chatSocket?.readyState === 1);
      // Everything needed to chat is on screen at this width.
      for (const sel of ['#text', '#send', '#name']) {
        const box = await page.locator(sel).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= width, `${sel} is inside the ${width} px viewport: ${JSON.stringify(box)}`);
      }

      const died = Date.now();
      await chat.close();
      await page.locator('#state[data-state="reconnecting"]').waitFor({ timeout: 2000 });
      const reconnectingMs = Date.now() - died;

      chat = await startChat({ port });
      const back = Date.now();
      await page.locator('#state[data-state="open"]').waitFor({ timeout: 3000 });
      const openMs = Date.now() - back;
      ctx.annotate(`reconnecting after ${reconnectingMs} ms; open again ${openMs} ms after the return`);

      await page.fill('#text', 'back again');
      await page.click('#send');
      await page.locator('#log li', { hasText: 'back again' }).waitFor();
    } finally {
      await context.close();
      await chat.close();
    }
  });
});
