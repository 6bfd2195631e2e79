/**
 * `session.send()` through a Redis restart that keeps its data (DESIGN invariant 8): sends made while
 * the store is down are held on the node, in order, and written once it is back; past
 * `storeOutageBuffer` they reject, and the app hears of it through an `error` event too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, test } from 'vitest';
import { Redis } from 'ioredis';
import { createBurrow, type Burrow, type Session } from '../src/index.js';
import { RedisStore } from '../src/store/redis/index.js';
import type { StoreStatus } from '../src/store/store.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { startRedis, type RedisProc } from '@burrow/test-support/procs';
import { connectWs } from './helpers.js';

let redis: RedisProc;
const servers: TestServer[] = [];
const stores: RedisStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  await redis?.dispose();
});

/** Resolves when `store` reports `status` (now or later). */
function status(store: RedisStore, want: StoreStatus): Promise<void> {
  if (store.status() === want) return Promise.resolve();
  return new Promise((resolve) => {
    const off = store.onStatus((s) => {
      if (s !== want) return;
      off();
      resolve();
    });
  });
}

async function node(outage: { bytes?: number; ms?: number }) {
  const store = new RedisStore({ redis: redis.url, prefix: `burrow-hold-${randomBytes(4).toString('hex')}`, sweepIntervalMs: 0 });
  stores.push(store);
  await store.ready();
  const burrow: Burrow = createBurrow({ store, storeOutageBuffer: outage });
  const errors: unknown[] = [];
  burrow.on('error', (err) => errors.push(err));
  const srv = await startTestServer(burrow);
  servers.push(srv);
  return { store, burrow, srv, errors };
}

/** A raw WebSocket session, and the server's handle of it. */
async function session(n: Awaited<ReturnType<typeof node>>) {
  const opened = once(n.burrow, 'connection') as Promise<[Session]>;
  const c = await connectWs(`${n.srv.ws}/ws`);
  const open = await c.nextJson();
  const [s] = await opened;
  return { c, open, s };
}

test('sends made while Redis restarts with its data are held in order and delivered once it is back', { timeout: 30_000 }, async () => {
  const n = await node({});
  const { c, open, s } = await session(n);
  await s.send('before');
  await redis.stop();
  await status(n.store, 'down');
  const settled: string[] = [];
  // Not awaited, as many apps do: nothing may be lost and nothing may crash.
  const held = ['held-1', 'held-2', 'held-3'].map((m) => s.send(m).then(() => settled.push(m)));
  await redis.start({ keepData: true });
  await Promise.all(held);
  assert.deepEqual(settled, ['held-1', 'held-2', 'held-3'], 'resolved in the order they were sent');
  await s.send('after');
  // The transport may have ended during the outage (1013): resume and read the log from the start.
  c.ws.terminate();
  const r = await connectWs(`${n.srv.ws}/ws?sid=${String(open.sid)}&token=${String(open.token)}&ack=0`);
  assert.equal((await r.nextJson()).resumed, true);
  const got: string[] = [];
  while (got.length < 5) {
    const f = await r.nextFrame();
    if (f.kind === 'text') got.push(f.text);
  }
  assert.deepEqual(got, ['1:before', '2:held-1', '3:held-2', '4:held-3', '5:after']);
  assert.deepEqual(n.errors.filter((e) => /outage|storeOutageBuffer/.test(String(e))), [], 'no send rejected');
  r.ws.close();
});

test('a store outage longer than storeOutageBuffer.ms rejects the held sends, and an error event says so', { timeout: 30_000 }, async () => {
  const n = await node({ ms: 200 });
  const { s } = await session(n);
  await redis.stop();
  await status(n.store, 'down');
  const results = await Promise.allSettled([s.send('x1'), s.send('x2')]);
  await redis.start({ keepData: true });
  await status(n.store, 'up');
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.equal((r.reason as { code?: string }).code, 'store_unavailable');
    assert.match(String((r.reason as Error).message), /storeOutageBuffer\.ms/);
  }
  assert.equal(n.errors.filter((e) => /storeOutageBuffer\.ms/.test(String(e))).length, 1, 'one error event for the expired hold');
});

test('a send that would hold more than storeOutageBuffer.bytes rejects at once', { timeout: 30_000 }, async () => {
  const n = await node({ bytes: 10 });
  const { s } = await session(n);
  await redis.stop();
  await status(n.store, 'down');
  const first = s.send('12345678');
  await assert.rejects(s.send('too much'), (e: Error & { code?: string }) => e.code === 'store_unavailable' && /storeOutageBuffer\.bytes/.test(e.message));
  await redis.start({ keepData: true });
  await first;
  assert.equal(n.errors.filter((e) => /storeOutageBuffer\.bytes/.test(String(e))).length, 1);
});

test('a send whose append ran in Redis but whose reply a blip cut off is retried once, not delivered twice', { timeout: 30_000 }, async () => {
  // The hold retries a write that failed on an unreachable store; when Redis had run it (the reply was
  // lost with the connection), the retry used to append the message a second time, with a new seq.
  const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const store = new RedisStore({ redis: client, prefix: `burrow-hold-${randomBytes(4).toString('hex')}`, sweepIntervalMs: 0 });
  stores.push(store);
  await store.ready();
  const append = client.burrowAppend.bind(client);
  let cut = false;
  client.burrowAppend = (async (...args: Parameters<typeof append>) => {
    const r = await append(...args);
    if (cut) {
      cut = false;
      throw new Error('Connection is closed.');
    }
    return r;
  }) as typeof append;
  const burrow: Burrow = createBurrow({ store });
  burrow.on('error', () => {});
  const srv = await startTestServer(burrow);
  servers.push(srv);
  const { c, open, s } = await session({ store, burrow, srv, errors: [] });
  await s.send('one');
  cut = true;
  await s.send('two'); // held after the cut reply, written again: the store recognises the retry
  await s.send('three');
  c.ws.terminate();
  const r = await connectWs(`${srv.ws}/ws?sid=${String(open.sid)}&token=${String(open.token)}&ack=0`);
  assert.equal((await r.nextJson()).resumed, true);
  const got: string[] = [];
  while (got.length < 3) {
    const f = await r.nextFrame();
    if (f.kind === 'text') got.push(f.text);
  }
  assert.deepEqual(got, ['1:one', '2:two', '3:three']);
  r.ws.close();
  await srv.close();
  client.disconnect();
});
