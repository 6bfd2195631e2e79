/**
 * Regression: on a networked store a WebSocket client that sent faster than the store applied its
 * frames grew the node's heap by everything it sent (the inbound queue joined frames into runs with
 * no bound on how many runs waited). Now the socket is not read past `limits.maxInboundPendingBytes`
 * of frames waiting for the store, and TCP holds the rest back on the client's side.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, test } from 'vitest';
import { startTestServer } from '@burrow/test-support';
import { connectWs } from './helpers.js';
import { redisStores } from './redis-fixture.js';

const stores = redisStores('read-ahead');
afterAll(() => stores.cleanup());

test('a WebSocket is read no further than maxInboundPendingBytes ahead of a slow store, and nothing it sent is lost', async () => {
  const store = await stores.store();
  // A store slower than the client: its accepts wait until the test opens the gate.
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const acceptBatch = store.acceptInboundBatch.bind(store);
  const acceptOne = store.acceptInbound.bind(store);
  store.acceptInboundBatch = (...args) => gate.then(() => acceptBatch(...args));
  store.acceptInbound = (...args) => gate.then(() => acceptOne(...args));

  const limit = 64 * 1024;
  const srv = await startTestServer({ store, limits: { maxInboundPendingBytes: limit } });
  let socket: Socket | undefined;
  srv.server.on('upgrade', (_req, s: Socket) => (socket ??= s));
  try {
    const c = await connectWs(`${srv.ws}/ws`);
    const sid = String((await c.nextJson()).sid);
    const s = socket!;
    let resumed = false;
    s.on('resume', () => (resumed = true));
    // 20 MB: more than the loopback's socket buffers hold, so the client's last write completes
    // only if the server reads (nearly) all of it.
    const n = 20_000;
    const text = (i: number) => `${String(i).padStart(8, '0')}${'x'.repeat(992)}`;
    let lastWritten!: Promise<unknown>;
    for (let i = 1; i <= n; i++) {
      if (i < n) c.ws.send(`${i}:${text(i)}`);
      else lastWritten = new Promise((resolve) => c.ws.send(`${i}:${text(i)}`, resolve));
    }
    const first = await Promise.race([once(s, 'pause').then(() => 'paused'), lastWritten.then(() => 'all written')]);
    assert.equal(first, 'paused', 'the server read everything the client sent');
    // A request served meanwhile: the server's loop went on, and still did not read the socket.
    const res = await fetch(`${srv.origin}/elsewhere`);
    await res.arrayBuffer();
    const readWhilePaused = s.bytesRead;
    // What was read: the frames waiting for the store (at most the bound plus the frames of one
    // read), and what node:net buffered before the pause took effect.
    assert.ok(readWhilePaused < limit + 256 * 1024, `read ${readWhilePaused} bytes ahead of the store`);
    assert.equal(srv.received.get(sid)?.length ?? 0, 0);

    openGate();
    await srv.until(() => (srv.received.get(sid)?.length ?? 0) === n, `all ${n} messages`, 30_000);
    const got = srv.received.get(sid)!;
    for (let i = 0; i < n; i++) assert.equal(got[i], text(i + 1), `message ${i + 1}`);
    assert.ok(resumed, 'the socket was read again');
    await lastWritten;
    c.ws.close();
    await c.closed;
  } finally {
    await srv.close();
  }
}, 60_000);
