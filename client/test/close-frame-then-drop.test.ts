/**
 * A server close frame followed at once by the socket's close (what the server's failSession does for
 * a violated limit). Regression: the socket's close, arriving before our echo was written, was taken
 * as a lost transport: a fatal code was reported without the frame's reason and as unclean, and any
 * other code started a resume of the finished session (the close came a second later, on a timer).
 */
import assert from 'node:assert/strict';
import { afterEach, it } from 'vitest';
import { BurrowSocket } from '../src/index.js';
import { FakeWS, fakeOptions, next, record } from './helpers.js';

afterEach(() => FakeWS.reset());

it('regression: close frame 1009 with a reason, then the socket closes 1009: a clean close with that reason, no error event', async () => {
  const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions());
  const log = record(s);
  const ws = FakeWS.last();
  ws.accept();
  await next(s, 'open');
  // What failSession does: the sequenced close frame, then ws.close(code, reason).
  ws.deliver('{"t":"close","seq":1,"code":1009,"reason":"payload_too_large"}');
  ws.drop(1009);
  const ev = (await next(s, 'close')) as CloseEvent;
  assert.deepEqual(log.map((e) => e.type), ['open', 'transport', 'close']);
  assert.equal(ev.code, 1009);
  assert.equal(ev.reason, 'payload_too_large');
  assert.equal(ev.wasClean, true);
});

it('regression: close frame 4003, then the socket closes 4003: the close at once, no resume of the finished session', async () => {
  const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions());
  const ws = FakeWS.last();
  ws.accept();
  await next(s, 'open');
  ws.deliver('{"t":"close","seq":1,"code":4003,"reason":"buffer full"}');
  ws.drop(4003);
  const ev = (await next(s, 'close')) as CloseEvent;
  assert.equal(ev.code, 4003);
  assert.equal(ev.reason, 'buffer full');
  assert.equal(FakeWS.instances.length, 1, 'a resume was attempted for a session the server closed');
});
