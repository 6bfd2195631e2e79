/**
 * Temporary: `redis-store.ts` still imports the store interface from here. It is moving to
 * `store/redis/` in another branch; once it imports `../store.js` (store/store.ts), delete this file.
 */
export * from './store/store.js';
