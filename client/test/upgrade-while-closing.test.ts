/**
 * Regression: close() while an upgrade probe was pending. The server resumes the session on the probe
 * and moves the downstream to it (the held poll is answered 409 poll_replaced); the client refused the
 * probe because it was ending, closed it, and was left with neither: a resume, and a late close.
 */
import assert from 'node:assert/strict';
import { afterEach, it } from 'vitest';
import { BurrowSocket, type FetchFunction } from '../src/node.js';
import { FakeWS, fakeOptions, openFrame, SID } from './helpers.js';

afterEach(() => FakeWS.reset());

it('regression: close() during an upgrade probe: the probe that took the session carries the close handshake', async () => {
  const polls: Array<(status: number, body: unknown) => void> = [];
  let closePosted!: () => void;
  const closeFrame = new Promise<void>((resolve) => (closePosted = resolve));
  const json = (b: unknown, status = 200): Response => new Response(JSON.stringify(b), { status, headers: { 'content-type': 'application/json' } });
  const fetch: FetchFunction = async (input, init) => {
    const url = new URL(String(input));
    if (url.pathname.endsWith('/sessions')) return json(JSON.parse(openFrame()));
    if (url.pathname.endsWith('/poll')) return new Promise((resolve) => polls.push((s, b) => resolve(json(b, s))));
    if (url.pathname.endsWith('/send')) {
      const body = JSON.parse(String(init?.body)) as { frames: Array<{ t: string; seq?: number }> };
      if (body.frames.some((f) => f.t === 'close')) closePosted();
      return json({ ack: body.frames.reduce((m, f) => Math.max(m, f.seq ?? 0), 0) });
    }
    return json({ error: 'not_found' }, 404);
  };
  const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions({ transports: ['polling', 'websocket'], fetch, upgradeDelay: 5 }));
  await new Promise((r) => (s.onopen = r));
  await FakeWS.changes.until(() => FakeWS.instances.length === 1, 'the upgrade probe');
  const probe = FakeWS.last();
  assert.equal(probe.url.searchParams.get('sid'), SID);
  s.close(4000, 'bye');
  await closeFrame;
  const pollsBefore = polls.length;
  const closed = new Promise<CloseEvent>((resolve) => s.addEventListener('close', (e) => resolve(e as CloseEvent)));
  // The server attaches the probe, which replaces the held poll, and echoes the close on it.
  probe.accept({ resumed: true, ack: 1 });
  polls.at(-1)!(409, { error: 'poll_replaced', close: 4009 });
  assert.equal(probe.closedWith, undefined, 'the probe that carries the session now was closed by the client');
  probe.deliver(JSON.stringify({ t: 'close', seq: 1, code: 4000, reason: 'bye' }));
  const ev = await closed;
  assert.equal(ev.code, 4000);
  assert.equal(ev.reason, 'bye');
  assert.equal(ev.wasClean, true);
  assert.equal(polls.length, pollsBefore, 'no resume');
  assert.equal(FakeWS.instances.length, 1);
});
