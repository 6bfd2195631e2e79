/**
 * Regression (issues #14, #16: the Redis Cluster failover case of the cluster suite, one echo one to
 * three places late). Traced in the cluster: node A's echo of e-124 failed on the dying primary and
 * was held for a retry; A's confirm of e-124 went through anyway, so node B accepted e-125, and B's
 * echo of it reached the promoted replica before A's retry did: the client got e-125 before e-124.
 * Nothing was lost in replication (the old primary's last acknowledged writes were all on the
 * replica): the two nodes' writes simply landed out of order.
 *
 * Made deterministic here on one Redis: A's connection refuses its appends (as a dying primary does)
 * until B has asked to accept the next frame. The same hole within one node: two sends in flight, the
 * first refused and the second through, and two retries whose first tries both ran.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, test } from 'vitest';
import { Redis } from 'ioredis';
import { encodeSendRequest, type Frame } from '@burrow/shared';
import { createBurrow, type Session } from '../src/index.js';
import { RedisStore } from '../src/store/redis/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { dropRedisPrefix } from './helpers.js';

const URL = 'redis://127.0.0.1:6379';
const prefix = `burrow-order-${randomBytes(6).toString('hex')}`;
const servers: TestServer[] = [];
const stores: RedisStore[] = [];
const clients: Redis[] = [];

afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  for (const c of clients) c.disconnect();
  await dropRedisPrefix(URL, prefix);
});

/** A node running the echo app on its own connection (which the test may patch). */
async function node() {
  const client = new Redis(URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  clients.push(client);
  const store = new RedisStore({ redis: client, prefix, sweepIntervalMs: 0 });
  stores.push(store);
  await store.ready();
  const burrow = createBurrow({ store });
  const errors: unknown[] = [];
  burrow.on('error', (err) => errors.push(err));
  const srv = await startTestServer(burrow, { app: true });
  servers.push(srv);
  return { client, store, srv, errors, burrow };
}

test('an echo held on one node through a failing primary is not overtaken by the next POST\'s echo on another node', { timeout: 30_000 }, async () => {
  const a = await node();
  const b = await node();

  // A's appends fail without running, as on a primary that just died, until `broken` is cleared.
  let broken = true;
  let refused = 0;
  const append = a.client.burrowAppend.bind(a.client);
  a.client.burrowAppend = (async (...args: Parameters<typeof append>) => {
    if (broken) {
      refused++;
      throw new Error('Connection is closed.');
    }
    return append(...args);
  }) as typeof append;
  // A's primary comes back once B's store has answered B's first try at the next frame (whatever it said).
  const accept = b.client.burrowAcceptBuffer.bind(b.client);
  b.client.burrowAcceptBuffer = (async (...args: Parameters<typeof accept>) => {
    const r = await accept(...args);
    broken = false;
    return r;
  }) as typeof accept;

  // B's echo of e-2 written (or refused): then both echoes are in the log, or one is late.
  let echoed: () => void = () => {};
  const bEchoed = new Promise<void>((r) => (echoed = r));
  const bAppend = b.client.burrowAppend.bind(b.client);
  b.client.burrowAppend = (async (...args: Parameters<typeof bAppend>) => {
    try {
      return await bAppend(...args);
    } finally {
      echoed();
    }
  }) as typeof bAppend;

  const open = (await (await fetch(`${a.srv.http}/sessions`, { method: 'POST', body: '{}' })).json()) as { sid: string; token: string };
  const post = (base: string, frames: Frame[]) =>
    fetch(`${base}/sessions/${open.sid}/send?token=${open.token}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: encodeSendRequest({ frames }) });
  const d = (seq: number): Frame => ({ t: 'd', seq, data: `e-${seq}` });

  // e-1 on A: accepted and emitted; its echo's append is refused and held for a retry.
  const first = await post(a.srv.http, [d(1)]);
  assert.deepEqual([first.status, await first.json()], [200, { ack: 1 }]);
  assert.ok(refused > 0, 'A\'s echo of e-1 was refused');
  // e-2 on B (a round-robin balancer's next node).
  const second = await post(b.srv.http, [d(2)]);
  assert.deepEqual([second.status, await second.json()], [200, { ack: 2 }]);

  await bEchoed;
  const frames = await a.store.read(open.sid, 0, 10, 1 << 20);
  assert.deepEqual(
    frames.map((f) => [f.frame.seq, f.frame.t === 'd' ? String(f.frame.data) : f.frame.t]),
    [
      [1, 'e-1'],
      [2, 'e-2'],
    ],
    'the echoes take seqs in the order the apps sent them',
  );
  assert.deepEqual([...a.errors, ...b.errors], [], 'no send rejected, no error event');
});

/** A session opened on `n` over HTTP, and the server's handle of it. */
async function session(n: Awaited<ReturnType<typeof node>>): Promise<{ sid: string; s: Session }> {
  const opened = new Promise<Session>((r) => n.burrow.once('connection', r));
  const open = (await (await fetch(`${n.srv.http}/sessions`, { method: 'POST', body: '{}' })).json()) as { sid: string };
  return { sid: open.sid, s: await opened };
}

/** The session's outbound log as [seq, text] pairs. */
async function log(n: Awaited<ReturnType<typeof node>>, sid: string): Promise<Array<[number, string]>> {
  return (await n.store.read(sid, 0, 100, 1 << 20)).map((f) => [f.frame.seq, f.frame.t === 'd' ? String(f.frame.data) : f.frame.t]);
}

test('two sends in flight on one node, the first refused by a failing primary and the second through: they keep their order', { timeout: 30_000 }, async () => {
  const a = await node();
  const { sid, s } = await session(a);
  const append = a.client.burrowAppend.bind(a.client);
  let refuse = true;
  a.client.burrowAppend = (async (...args: Parameters<typeof append>) => {
    // The first try of the first send never reaches a live primary; everything after it does.
    if (refuse) {
      refuse = false;
      throw new Error('Connection is closed.');
    }
    return append(...args);
  }) as typeof append;
  await Promise.all([s.send('x1'), s.send('x2'), s.send('x3')]);
  assert.deepEqual(await log(a, sid), [
    [1, 'x1'],
    [2, 'x2'],
    [3, 'x3'],
  ]);
  assert.deepEqual(a.errors, []);
});

test('two sends whose first tries both ran, their replies lost: the retries append neither again', { timeout: 30_000 }, async () => {
  const a = await node();
  const { sid, s } = await session(a);
  const append = a.client.burrowAppend.bind(a.client);
  let lose = 2;
  a.client.burrowAppend = (async (...args: Parameters<typeof append>) => {
    const r = await append(...args);
    if (lose > 0) {
      lose--;
      throw new Error('Connection is closed.');
    }
    return r;
  }) as typeof append;
  await Promise.all([s.send('y1'), s.send('y2')]);
  await s.send('y3');
  assert.deepEqual(await log(a, sid), [
    [1, 'y1'],
    [2, 'y2'],
    [3, 'y3'],
  ]);
  assert.deepEqual(a.errors, []);
});
