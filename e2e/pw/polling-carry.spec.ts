/**
 * Frames on a POST's answer (docs/PROTOCOL.md), in Chromium with the browser bundle: the bundle
 * renames internal property names, so this proves the `carry` id reaches the server under its wire
 * name and that an echo comes back on the answer of the POST that caused it, the poll left held.
 */
import type { Response } from '@playwright/test';
import { expect, test } from './fixtures.js';

type PageWindow = { Burrow: { BurrowSocket: new (url: string, p: string[], o: object) => { send(m: string): void; onmessage: ((e: { data: string }) => void) | null; onopen: (() => void) | null } } };

test('@polling an echo comes back on its POST\'s answer, and the held poll is left alone', async ({ browser, echo }) => {
  const page = await browser.newPage();
  try {
    await page.goto(echo.origin + '/');
    const sends: Array<{ url: URL; body: Promise<string> }> = [];
    let polls = 0;
    page.on('response', (r: Response) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith('/send')) sends.push({ url, body: r.text() });
      else if (url.pathname.endsWith('/poll')) polls++;
    });
    const got = await page.evaluate(async (wsUrl) => {
      const s = new (window as unknown as PageWindow).Burrow.BurrowSocket(wsUrl, [], { transports: ['polling'], upgrade: false, remember: false });
      await new Promise<void>((resolve) => (s.onopen = resolve));
      const echoed = new Promise<string>((resolve) => (s.onmessage = (e) => resolve(e.data)));
      s.send('carried?');
      return echoed;
    }, echo.urls.burrow);
    expect(got).toBe('carried?');
    const carried = sends.find((s) => s.url.searchParams.has('carry'));
    expect(carried, 'the POSTs name their transport').toBeTruthy();
    const answers = await Promise.all(sends.map(async (s) => JSON.parse(await s.body) as { frames?: Array<{ text?: string }> }));
    expect(answers.some((a) => a.frames?.some((f) => f.text === 'carried?'))).toBe(true);
    // No poll answered the echo: the only finished polls are none (the first is still held).
    expect(polls).toBe(0);
  } finally {
    await page.close();
  }
});
