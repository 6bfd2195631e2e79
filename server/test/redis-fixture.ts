/**
 * RedisStores on the machine's Redis (127.0.0.1:6379) under a prefix of their own: made for a suite,
 * closed and their keys removed after it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../src/store/redis/index.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisStores {
  /** The suite's key prefix. */
  readonly prefix: string;
  /** A ready store under the suite's prefix. */
  store(options?: Partial<RedisStoreOptions>): Promise<RedisStore>;
  /** Closes every store made, then deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

/** Stores for one suite, under `<name>-<random>`. */
export function redisStores(name: string): RedisStores {
  const prefix = `${name}-${randomBytes(6).toString('hex')}`;
  const made: RedisStore[] = [];
  return {
    prefix,
    async store(options = {}) {
      const s = new RedisStore({ redis: REDIS_URL, prefix, sweepIntervalMs: 0, ...options });
      made.push(s);
      await s.ready();
      return s;
    },
    async cleanup() {
      await Promise.all(made.map((s) => s.close()));
      const admin = new Redis(REDIS_URL);
      const keys = await admin.keys(`${prefix}:*`);
      if (keys.length) await admin.del(...keys);
      admin.disconnect();
    },
  };
}
