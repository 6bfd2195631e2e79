/**
 * `@burrow/server/redis`: the Redis store, so nodes sharing one Redis serve the same sessions.
 * Needs the optional peer dependency `ioredis` (5.x).
 */
export { RedisStore } from './redis-store.js';
export type { RedisStoreOptions } from './options.js';
