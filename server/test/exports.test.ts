/**
 * The suites run on the TypeScript sources: `@burrow/server` and its subpaths, imported by name as an
 * app (or e2e, or @burrow/test-support) would, resolve through the `burrow-src` export condition
 * (vitest.config.ts) to the very modules under src/, not to the build in dist/. One module instance,
 * so `instanceof` and module state agree whichever way a test imports the server.
 */
import assert from 'node:assert/strict';
import { it } from 'vitest';
import * as server from '@burrow/server';
import * as redis from '@burrow/server/redis';
import * as testing from '@burrow/server/testing';
import * as serverSrc from '../src/index.js';
import * as redisSrc from '../src/store/redis/index.js';
import * as testingSrc from '../src/testing.js';

it('@burrow/server is server/src/index.ts', () => {
  assert.equal(server, serverSrc);
  assert.equal(server.createBurrow, serverSrc.createBurrow);
});

it('@burrow/server/redis is server/src/store/redis/index.ts', () => {
  assert.equal(redis, redisSrc);
  assert.equal(redis.RedisStore, redisSrc.RedisStore);
});

it('@burrow/server/testing is server/src/testing.ts', () => {
  assert.equal(testing, testingSrc);
  assert.equal(testing.runStoreConformance, testingSrc.runStoreConformance);
});
