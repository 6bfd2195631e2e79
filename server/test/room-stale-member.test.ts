/**
 * Regression: a room member with no session (RedisStore's SREM after a refused join, or an expiry's
 * cleanup, failed during an outage) stayed in the room's set for ever, and every fan-out to the room
 * paid an append for it. The fan-out that finds it now takes it out.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, test } from 'vitest';
import { Redis } from 'ioredis';
import { createBurrow, type Session } from '../src/index.js';
import { RedisStore } from '../src/store/redis/index.js';
import { startTestServer } from '@burrow/test-support';
import { dropRedisPrefix, postJson, waitFor } from './helpers.js';

const URL = 'redis://127.0.0.1:6379';
const prefix = `burrow-stale-${randomBytes(6).toString('hex')}`;
const admin = new Redis(URL);

afterAll(async () => {
  admin.disconnect();
  await dropRedisPrefix(URL, prefix);
});

test('a fan-out to a room drops a member whose session is gone; live members still get it', async () => {
  const store = new RedisStore({ redis: URL, prefix, sweepIntervalMs: 0 });
  await store.ready();
  const burrow = createBurrow({ store });
  const errors: unknown[] = [];
  burrow.on('error', (err) => errors.push(err));
  const srv = await startTestServer(burrow);
  try {
    const connected = waitFor<[Session]>(burrow, 'connection');
    const { status } = await postJson(`${srv.http}/sessions`, { v: 1 });
    assert.equal(status, 200);
    const [live] = await connected;
    await live.join('r');
    // What a failed SREM leaves: an id in the room's set with no session behind it.
    await admin.sadd(`${prefix}:room:{r}`, 'ghost');
    assert.deepEqual([...(await store.members('r'))].sort(), ['ghost', live.id].sort());

    assert.deepEqual(await burrow.to('r').send('news'), { delivered: 1 });
    assert.deepEqual(await store.members('r'), [live.id]);
    assert.deepEqual(await burrow.to('r').send('more'), { delivered: 1 });
    assert.deepEqual(errors, []);
  } finally {
    await srv.close();
    await store.close();
  }
});
