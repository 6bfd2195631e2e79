/**
 * Regression: the race torn down (close() while CONNECTING, or the raced WebSocket failing for good)
 * aborted the polling handshake racing it, so a session the server had made for it was never
 * abandoned: it stayed, unclaimed and counted against maxSessions, until its claim window ended.
 */
import assert from 'node:assert/strict';
import { afterEach, it } from 'vitest';
import { BurrowSocket, type FetchFunction } from '../src/node.js';
import { FakeWS, fakeOptions, openFrame, SID } from './helpers.js';

afterEach(() => FakeWS.reset());

it('regression: close() while the polling handshake races a pending WebSocket: its session is abandoned once it answers', async () => {
  let answerHandshake: ((r: Response) => void) | undefined;
  let handshakeMade!: () => void;
  const handshake = new Promise<void>((resolve) => (handshakeMade = resolve));
  const abandons: URL[] = [];
  let abandoned!: () => void;
  const abandon = new Promise<void>((resolve) => (abandoned = resolve));
  const json = (b: unknown, status = 200): Response => new Response(JSON.stringify(b), { status, headers: { 'content-type': 'application/json' } });
  const fetch: FetchFunction = async (input) => {
    const url = new URL(String(input));
    if (url.pathname.endsWith('/sessions')) {
      assert.equal(url.searchParams.get('race'), '1');
      return new Promise((resolve) => {
        answerHandshake = resolve;
        handshakeMade();
      });
    }
    if (url.pathname.endsWith('/send') && url.searchParams.get('abandon') === '1') {
      abandons.push(url);
      abandoned();
    }
    return json({ ack: 0 });
  };
  const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions({ transports: ['websocket', 'polling'], fetch, raceDelay: 1 }));
  const closed = new Promise<CloseEvent>((resolve) => s.addEventListener('close', (e) => resolve(e as CloseEvent)));
  // The WebSocket attempt never answers; the polling handshake starts beside it.
  await handshake;
  s.close();
  assert.equal((await closed).code, 1006);
  answerHandshake!(json(JSON.parse(openFrame())));
  await abandon;
  assert.equal(abandons.length, 1);
  assert.equal(abandons[0]!.pathname.split('/').at(-2), SID);
});
