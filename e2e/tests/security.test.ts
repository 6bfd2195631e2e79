/**
 * Security from the client's side: a BurrowSocket refused by `authenticate` closes with 1008 on every
 * transport, and a shed handshake (503 + Retry-After / 1013) is retried no sooner than Retry-After.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BurrowSocket } from '@burrow/client';
import { startTestServer, type TestServer } from '@burrow/test-support';

const TRANSPORTS = ['websocket', 'sse', 'polling'] as const;

function closeOf(s: BurrowSocket): Promise<{ code: number; opened: boolean }> {
  let opened = false;
  s.onopen = () => (opened = true);
  return new Promise((resolve) => (s.onclose = (e) => resolve({ code: (e as CloseEvent).code, opened })));
}

describe('client: authentication refused', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ authenticate: () => ({ reject: 'unauthorized' }) }, { app: true });
  });
  afterAll(() => srv?.close());

  it.each(TRANSPORTS)('%s: the socket fails at once like a refused browser WebSocket (error, close 1006), never opens, no retry loop', { timeout: 5000 }, async (transport) => {
    const t0 = Date.now();
    const s = new BurrowSocket(srv.ws, [], { transports: [transport], remember: false });
    const c = await closeOf(s);
    assert.deepEqual(c, { code: 1006, opened: false });
    assert.ok(Date.now() - t0 < 2000, 'a definitive refusal is not retried');
  });
});

describe('client: load shedding (BAD-INPUTS 29)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ limits: { maxHandshakesPerSecond: 1 } }, { app: true });
  });
  afterAll(() => srv?.close());

  it('a shed handshake (503 + Retry-After: 1) is retried after Retry-After, then opens (BAD-INPUTS 29)', { timeout: 8000 }, async () => {
    const first = new BurrowSocket(srv.ws, [], { transports: ['polling'], remember: false });
    await new Promise((r) => (first.onopen = r));
    const t0 = Date.now();
    const second = new BurrowSocket(srv.ws, [], { transports: ['polling'], remember: false, reconnectDelay: 10 });
    await new Promise((r) => (second.onopen = r));
    const waited = Date.now() - t0;
    assert.ok(waited >= 900, `retried after ${waited} ms (Retry-After 1 s)`);
    // Wait for both close handshakes: the server shuts down right after this test.
    const closed = Promise.all([first, second].map((s) => new Promise((r) => s.addEventListener('close', r, { once: true }))));
    first.close();
    second.close();
    await closed;
  });
});
