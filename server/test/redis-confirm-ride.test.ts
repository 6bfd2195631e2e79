/**
 * A POST's journal confirm rides on the session's append script of the same turn (the app's answers
 * to the POST's frames) instead of a round trip of its own (issue #14, lead d). What could break:
 * a confirm applied before the append it waits for has run (another node would then take seqs before
 * this node's answers), a held or failed confirm lost (the next node waits on this one's entries until
 * ACCEPT_WAIT_MS), or a confirm sent twice. Runs on the machine's Redis under a prefix of its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStore } from '../src/store/redis/index.js';
import type { SessionRecord } from '../src/store/store.js';

const URL = 'redis://127.0.0.1:6379';
const prefix = `burrow-ride-${randomBytes(6).toString('hex')}`;
const LONG = 60_000;
const roomy = { maxBufferedMessages: 100, maxBufferedBytes: 1 << 20 };
const stores: RedisStore[] = [];
const text = (data: string) => ({ t: 'd' as const, data });

function record(id: string): SessionRecord {
  return { id, tokenHash: 'ab'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 };
}

/** A store whose commands are counted by script (EVALSHA's first argument mapped back is not needed: the names are ioredis's). */
async function store(): Promise<{ s: RedisStore; sent: string[] }> {
  const client = new Redis(URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const sent: string[] = [];
  const orig = client.sendCommand.bind(client);
  client.sendCommand = ((cmd: { name: string; args: unknown[] }, ...rest: unknown[]) => {
    sent.push(cmd.name);
    return (orig as (...a: unknown[]) => unknown)(cmd, ...rest);
  }) as typeof client.sendCommand;
  const s = new RedisStore({ redis: client, prefix, sweepIntervalMs: 0 });
  stores.push(s);
  await s.ready();
  return { s, sent };
}

describe('RedisStore: the journal confirm rides on the append', { timeout: 20_000 }, () => {
  let a: Awaited<ReturnType<typeof store>>;
  let b: Awaited<ReturnType<typeof store>>;
  let admin: Redis;
  beforeAll(async () => {
    [a, b] = await Promise.all([store(), store()]);
    admin = new Redis(URL);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  const journal = (sid: string) => admin.hkeys(`${prefix}:{${sid}}:journal`);
  async function session(): Promise<string> {
    const sid = randomBytes(12).toString('base64url');
    await a.s.create(record(sid), LONG);
    return sid;
  }
  /** Waits (bounded) until `check` holds: the retries run on timers of the store's own. */
  async function until(check: () => Promise<boolean>): Promise<void> {
    const giveUp = Date.now() + 5000;
    while (!(await check())) {
      if (Date.now() > giveUp) throw new Error('condition not met in 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("a POST's confirm goes in its answers' append script: no confirm of its own, the next node not held back", async () => {
    const sid = await session();
    assert.deepEqual((await a.s.acceptInboundBatch!(sid, [{ seq: 1, data: 'q1' }, { seq: 2, data: 'q2' }])).statuses, ['new', 'new']);
    assert.deepEqual(await journal(sid), ['1', '2']);
    a.sent.length = 0;
    // As the session core does: the app answers each frame, then its confirm is registered (`soon`).
    const answers = [a.s.append(sid, [text('r1')], roomy, 'n 1'), a.s.append(sid, [text('r2')], roomy, 'n 2', 'n 1')];
    a.s.confirmInbound(sid, 2, true, () => 'n 2');
    assert.ok((await Promise.all(answers)).every((r) => r.ok));
    assert.deepEqual(await journal(sid), [], 'confirmed by the append script');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(a.sent.filter((n) => n === 'evalsha' || n === 'eval').length, 1, 'one script for the answers and the confirm');
    assert.equal((await b.s.acceptInbound(sid, 3, { data: 'q3' })).status, 'new');
  });

  it('held while the append it waits for has not run; confirmed once it has, by the retry', async () => {
    const sid = await session();
    assert.equal((await a.s.acceptInbound(sid, 1, { data: 'q1' })).status, 'new');
    // The answer is behind an append ('n 7') that has not run: refused, and the confirm waits for 'n 8'.
    let after = 'n 8';
    const behind = a.s.append(sid, [text('r1')], roomy, 'n 8', 'n 7');
    a.s.confirmInbound(sid, 1, true, () => after);
    await assert.rejects(behind, /held behind an earlier append/);
    assert.deepEqual(await journal(sid), ['1'], 'held: the entry stays');
    assert.equal((await b.s.acceptInbound(sid, 2, { data: 'q2' })).status, 'wait', 'another node waits for it');
    // The answer went another way (failed for good): nothing unsettled is left to wait for.
    after = '';
    await until(async () => (await journal(sid)).length === 0);
    assert.equal((await b.s.acceptInbound(sid, 2, { data: 'q2' })).status, 'new');
  });

  it('an append script that fails keeps the confirm, and a flush sends it', async () => {
    const sid = await session();
    assert.equal((await a.s.acceptInbound(sid, 1, { data: 'q1' })).status, 'new');
    await admin.set(`${prefix}:{${sid}}:log`, 'not a list');
    const failing = a.s.append(sid, [text('r1')], roomy);
    a.s.confirmInbound(sid, 1, true);
    await assert.rejects(failing);
    await until(async () => (await journal(sid)).length === 0);
  });
});
