/**
 * `@burrow/server/redis`: the Redis store, so nodes sharing one Redis serve the same sessions.
 * Needs the optional peer dependency `ioredis` (5.x).
 */
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
