/**
 * Frames on a POST's answer (docs/PROTOCOL.md), in Chromium with the browser bundle: the bundle
 * renames internal property names, so this proves the `carry` id reaches the server under its wire
 * name and that an echo comes back on the answer of the POST that caused it, the poll left held.
 */
import type { Response } from '@playwright/test';
import type { Session } from '@burrow/server';
import { expect, test } from './fixtures.js';

type PageSocket = { send(m: string): void; onmessage: ((e: { data: string }) => void) | null; onopen: (() => void) | null; readonly sessionId: string };
type PageWindow = { Burrow: { BurrowSocket: new (url: string, p: string[], o: object) => PageSocket } };

test('@polling an echo comes back on its POST\'s answer, and the held poll is left alone', async ({ browser, echo }) => {
  const page = await browser.newPage();
  // The server's own word that a session's poll is held: its `transport` event comes when the first
  // poll attaches. The POST must find that poll held; a POST that overtakes it (separate sockets)
  // finds nothing to carry, and the poll then answers the echo, as it should (CI saw that order).
  const polling = new Set<string>();
  let attached: ((sid: string) => void) | undefined;
  const onTransport = (s: Session, name: string): void => {
    if (name !== 'polling') return;
    polling.add(s.id);
    attached?.(s.id);
  };
  echo.burrow.on('transport', onTransport);
  try {
    await page.goto(echo.origin + '/');
    const sends: Array<{ url: URL; body: Promise<string> }> = [];
    let polls = 0;
    page.on('response', (r: Response) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith('/send')) sends.push({ url, body: r.text() });
      else if (url.pathname.endsWith('/poll')) polls++;
    });
    const sid = await page.evaluate(async (wsUrl) => {
      const s = new (window as unknown as PageWindow).Burrow.BurrowSocket(wsUrl, [], { transports: ['polling'], upgrade: false, remember: false });
      await new Promise<void>((resolve) => (s.onopen = resolve));
      (window as unknown as { carrySocket: typeof s }).carrySocket = s;
      return s.sessionId;
    }, echo.urls.burrow);
    if (!polling.has(sid)) await new Promise<void>((resolve) => (attached = (id) => id === sid && resolve()));
    const got = await page.evaluate(() => {
      const s = (window as unknown as { carrySocket: PageSocket }).carrySocket;
      const echoed = new Promise<string>((resolve) => (s.onmessage = (e) => resolve(e.data)));
      s.send('carried?');
      return echoed;
    });
    expect(got).toBe('carried?');
    const carried = sends.find((s) => s.url.searchParams.has('carry'));
    expect(carried, 'the POSTs name their transport').toBeTruthy();
    const answers = await Promise.all(sends.map(async (s) => JSON.parse(await s.body) as { frames?: Array<{ text?: string }> }));
    expect(answers.some((a) => a.frames?.some((f) => f.text === 'carried?'))).toBe(true);
    // No poll answered the echo: the only finished polls are none (the first is still held).
    expect(polls).toBe(0);
  } finally {
    echo.burrow.off('transport', onTransport);
    await page.close();
  }
});
