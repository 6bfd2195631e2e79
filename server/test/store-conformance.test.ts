/**
 * The store conformance kit run against both stores: MemoryStore (one instance as both nodes) and
 * RedisStore (two instances, i.e. two nodes, on the machine's Redis at 127.0.0.1:6379 under a prefix of
 * their own, removed afterwards). Starts that Redis when it is not running.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import { MemoryStore } from '../src/store/memory-store.js';
import { RedisStore } from '../src/store/redis/index.js';
import { runStoreConformance, type StoreConformanceFixture } from '../src/testing.js';
import { dropRedisPrefix } from './helpers.js';

const runner = { describe, it, beforeAll, afterAll };

runStoreConformance(runner, 'MemoryStore', async () => {
  const store = new MemoryStore();
  return { a: store, b: store, cleanup: () => store.close() };
});

const URL = 'redis://127.0.0.1:6379';

async function ensureRedis(): Promise<void> {
  const probe = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    probe.disconnect();
    return;
  } catch {
    probe.disconnect();
  }
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no']);
}

/** Two RedisStores (two nodes) on one prefix; `node()` is a third one whose crash is a kill -9. */
async function redisFixture(): Promise<StoreConformanceFixture> {
  await ensureRedis();
  const prefix = `burrow-test-${randomBytes(6).toString('hex')}`;
  // A short sweep period keeps expiry prompt even when Redis's active expiry is slow to notice a key.
  const opts = { redis: URL, prefix, sweepIntervalMs: 200 };
  const a = new RedisStore(opts);
  const b = new RedisStore(opts);
  await Promise.all([a.ready(), b.ready()]);
  const extra: RedisStore[] = [];
  /** Connections handed to stores: a store never closes a connection it was given. */
  const clients: Redis[] = [];
  return {
    a,
    b,
    async node() {
      // Our own connection, so a crash can cut it: nothing flushed, no goodbye.
      const client = new Redis(URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      clients.push(client);
      const store = new RedisStore({ ...opts, redis: client, sweepIntervalMs: 0, nodeTtlMs: 300 });
      extra.push(store);
      await store.ready();
      return {
        store,
        async crash() {
          client.disconnect();
          await store.close();
          // Dead once its liveness key has lapsed (a short TTL here; 5 s by default).
          const admin = new Redis(URL);
          try {
            while ((await admin.exists(`${prefix}:node:{${store.nodeId}}`)) === 1) await new Promise((r) => setTimeout(r, 20));
          } finally {
            admin.disconnect();
          }
        },
      };
    },
    async cleanup() {
      await Promise.all([a.close(), b.close(), ...extra.map((s) => s.close())]);
      for (const c of clients) c.disconnect();
      await dropRedisPrefix(URL, prefix);
    },
  };
}

runStoreConformance(runner, 'RedisStore', redisFixture, { inboundJournal: true, appendTokens: true });
