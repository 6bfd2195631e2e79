/**
 * Regression (issue #16: in the cluster suite's failover case an SSE client stalled at 125 of 600
 * echoes). On a Redis Cluster the store's subscriber is one connection to one server. When that
 * server died, ioredis moved the subscriber to another server and subscribed it again by itself,
 * without a word to the store: the wake-ups published in between were lost, no listener was told to
 * read again, and a stream whose client waited for those echoes before sending more waited forever
 * (the heartbeat kept it open). Reproduced by killing exactly that server: 1 stall in 5 before, none
 * in 6 after. The store now subscribes again when the cluster's map of servers changes and wakes
 * every listener to read its log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, test } from 'vitest';
import { RedisStore } from '../src/store/redis/index.js';
import type { WakeEvent } from '../src/store/store.js';
import { REDIS_CLI_BIN, startRedisCluster, type RedisClusterProc } from '@burrow/test-support/procs';

const execFileP = promisify(execFile);
let rc: RedisClusterProc;
let client: Cluster | undefined;
let store: RedisStore | undefined;

beforeAll(async () => {
  rc = await startRedisCluster(3);
}, 60_000);
afterAll(async () => {
  await store?.close().catch(() => {});
  client?.disconnect();
  await rc?.dispose();
});

/** The server whose clients include a subscriber (this test's store has the only one). */
async function subscriberServer(): Promise<number | undefined> {
  for (const p of rc.ports) {
    const { stdout } = await execFileP(REDIS_CLI_BIN, ['-p', String(p), 'client', 'list']).catch(() => ({ stdout: '' }));
    if (/ sub=[1-9]/.test(stdout)) return p;
  }
  return undefined;
}

test('the Redis Cluster server holding the subscriber dies: every wake-up listener is told to read its log again', { timeout: 60_000 }, async () => {
  client = new Cluster(rc.ports.map((port) => ({ host: '127.0.0.1', port })), { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 0 } });
  store = new RedisStore({ redis: client, prefix: `burrow-csub-${randomBytes(4).toString('hex')}`, sweepIntervalMs: 0 });
  await store.ready();
  const sid = randomBytes(16).toString('base64url');
  const events: WakeEvent[] = [];
  let readAgain: () => void = () => {};
  let armed = false;
  const told = new Promise<void>((r) => (readAgain = r));
  store.subscribe(sid, (ev) => {
    events.push(ev);
    if (armed && ev.type === 'append' && ev.lastSeq === Number.MAX_SAFE_INTEGER) readAgain();
  });
  // Subscribed once the first "read again" (the SUBSCRIBE's confirmation) has come.
  for (let port = await subscriberServer(); port === undefined || events.length === 0; port = await subscriberServer()) {
    // Subscriptions are only visible through CLIENT LIST: nothing to wait on but polling it.
    await new Promise((r) => setTimeout(r, 50));
  }
  const victim = (await subscriberServer())!;
  armed = true;
  await rc.kill(victim);
  await rc.waitOk(30_000);
  // Without the fix nothing comes: the test times out here.
  await told;
  // And the subscription works on the server the subscriber moved to.
  const heard = new Promise<WakeEvent>((r) => store!.subscribe(sid, (ev) => ev.type === 'append' && ev.lastSeq === 7 && r(ev)));
  await store.publish(sid, { type: 'append', lastSeq: 7 });
  assert.deepEqual(await heard, { type: 'append', lastSeq: 7 });
});
