/**
 * Regression: a room member with no session (RedisStore's SREM after a refused join, or an expiry's
 * cleanup, failed during an outage) stayed in the room's set for ever, and every fan-out to the room
 * paid an append for it. The fan-out that finds it now takes it out. The same for a member whose
 * session is closed: on Redis Cluster a join's SADD can land after the close's SREM (the room's set
 * and the session are on different slots), and that member stayed until its record expired.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, test } from 'vitest';
import { Redis } from 'ioredis';
import { type Burrow, createBurrow, type Session } from '../src/index.js';
import { RedisStore } from '../src/store/redis/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { dropRedisPrefix, postJson, waitFor } from './helpers.js';

const URL = 'redis://127.0.0.1:6379';
const prefix = `burrow-stale-${randomBytes(6).toString('hex')}`;
const admin = new Redis(URL);

afterAll(async () => {
  admin.disconnect();
  await dropRedisPrefix(URL, prefix);
});

/** A Burrow node on RedisStore, its error events collected. */
async function node(): Promise<{ store: RedisStore; burrow: Burrow; errors: unknown[]; srv: TestServer }> {
  const store = new RedisStore({ redis: URL, prefix, sweepIntervalMs: 0 });
  await store.ready();
  const burrow = createBurrow({ store });
  const errors: unknown[] = [];
  burrow.on('error', (err) => errors.push(err));
  return { store, burrow, errors, srv: await startTestServer(burrow) };
}

test('a fan-out to a room drops a member whose session is gone; live members still get it', async () => {
  const { store, burrow, errors, srv } = await node();
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

test('a fan-out to a room drops a member whose session closed after a late join; members() names it no more', async () => {
  const { store, burrow, errors, srv } = await node();
  try {
    const sessions: Session[] = [];
    burrow.on('connection', (s) => sessions.push(s));
    for (let i = 0; i < 2; i++) assert.equal((await postJson(`${srv.http}/sessions`, { v: 1 })).status, 200);
    const [live, gone] = sessions as [Session, Session];
    await live.join('late');
    await gone.join('late');
    const closed = waitFor<[Session]>(burrow, 'close');
    await gone.close(4000, 'done');
    await closed;
    assert.deepEqual(await store.members('late'), [live.id], 'the close took it out of the room');
    // What a join whose SADD ran after the close's SREM leaves: the closed session back in the set
    // (its record lingers for the resume window, so its append answers `closed`, not `unknown`).
    await admin.sadd(`${prefix}:room:{late}`, gone.id);
    assert.equal((await store.get(gone.id))?.closed?.code, 4000);

    assert.deepEqual(await burrow.to('late').send('news'), { delivered: 1 });
    assert.deepEqual(await store.members('late'), [live.id]);
    assert.deepEqual(errors, []);
  } finally {
    await srv.close();
    await store.close();
  }
});
