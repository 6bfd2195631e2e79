/**
 * RedisStore's group commit (append-groups.ts, burrowAcceptBatch) keeps every single-call guarantee:
 * appends of one turn are judged one by one in call order (caps, tokens, `after`), a batch of inbound
 * frames is judged like single accepts, and a node's own wake-up reaches its listener only after the
 * append's reply (so the core holding the downstream does not read what the reply carries).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RedisStore } from '../src/store/redis/index.js';
import { REDIS_URL, redisStores } from './redis-fixture.js';
import type { AppendResult, SessionRecord, WakeEvent } from '../src/store/store.js';

const redis = redisStores('burrow-group');
const { prefix } = redis;
const URL = REDIS_URL;
const LONG = 60_000;
const roomy = { maxBufferedMessages: 100, maxBufferedBytes: 1 << 20 };

function sid(): string {
  return randomBytes(12).toString('base64url');
}
function record(id: string): SessionRecord {
  return { id, tokenHash: 'ab'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 };
}
const text = (data: string) => ({ t: 'd' as const, data });
const seqsOf = (frames: readonly { frame: { seq: number } }[]) => frames.map((f) => f.frame.seq);
const outcome = (r: AppendResult) => (r.ok ? r.frames.map((f) => f.frame.seq) : r.reason);

const store = (): Promise<RedisStore> => redis.store();

describe('RedisStore group commit', { timeout: 20_000 }, () => {
  let a: RedisStore;
  let b: RedisStore;
  beforeAll(async () => {
    [a, b] = await Promise.all([store(), store()]);
  });
  afterAll(() => redis.cleanup());

  it('an append behind one that has not run is refused; once that one ran, an older retry is "ran already"', async () => {
    const id = sid();
    await a.create(record(id), LONG);
    const behind = a.append(id, [text('four')], roomy, 'n 4', 'n 3');
    const first = a.append(id, [text('one')], roomy, 'n 1');
    await assert.rejects(behind, /held behind an earlier append/);
    assert.deepEqual(outcome(await first), [1]);
    const [repeat, three, again] = await Promise.all([
      a.append(id, [text('one')], roomy, 'n 1'),
      a.append(id, [text('three')], roomy, 'n 3', 'n 1'),
      a.append(id, [text('one')], roomy, 'n 1'),
    ]);
    // The same token again, before a later one ran: answered with its seq, not appended twice.
    assert.deepEqual(outcome(repeat), [1]);
    assert.deepEqual(outcome(three), [2]);
    // After n 3 ran, a retry of n 1 is "ran already" (its seqs no longer known), as in separate calls.
    assert.deepEqual(again, { ok: true, frames: [] });
    assert.deepEqual((await b.read(id, 0, 10, 1000)).map((f) => (f.frame.t === 'd' ? f.frame.data : null)), ['one', 'three']);
  });

  it('appends of one turn are judged one by one against the caps, and an unknown session refuses them all', async () => {
    const id = sid();
    const limits = { maxBufferedMessages: 4, maxBufferedBytes: 10 };
    await a.create(record(id), LONG);
    const rs = await Promise.all([
      a.append(id, [text('abcd')], limits),
      a.append(id, [text('123456789')], limits), // 4 + 9 bytes > 10: refused alone
      a.append(id, [text('ef'), text('gh')], limits),
      a.append(id, [text('\u{1F994}')], limits), // 4 bytes: 8 + 4 > 10
      a.append(id, [text('i')], limits),
      a.append(id, [text('j')], limits), // a fifth message
    ]);
    assert.deepEqual(rs.map(outcome), [[1], 'overflow', [2, 3], 'overflow', [4], 'overflow']);
    assert.deepEqual(rs.flatMap((r) => (r.ok ? r.frames.map((f) => f.size) : [])), [4, 2, 2, 1]);
    assert.deepEqual((await b.read(id, 0, 10, 1000)).map((f) => (f.frame.t === 'd' ? f.frame.data : null)), ['abcd', 'ef', 'gh', 'i']);
    const gone = await Promise.all([a.append(sid(), [text('x')], limits), a.append(sid(), [text('y')], limits)]);
    assert.deepEqual(gone.map(outcome), ['unknown', 'unknown']);
  });

  it("a group whose script fails rejects each of its appends and its ack; another session's group of the same round trip runs", async () => {
    const bad = sid();
    const good = sid();
    await Promise.all([a.create(record(bad), LONG), a.create(record(good), LONG)]);
    // The log a string, not a list: the group's RPUSH fails, after its ack ran in the same script.
    const admin = new Redis(URL);
    await admin.set(`${prefix}:{${bad}}:log`, 'not a list');
    admin.disconnect();
    const settled = await Promise.allSettled([
      a.append(bad, [text('one')], roomy, 'n 1'),
      a.ack(bad, 0),
      a.append(good, [text('fine')], roomy),
      a.append(bad, [text('two'), text('three')], roomy, 'n 2', 'n 1'),
    ]);
    assert.deepEqual(
      settled.map((r) => (r.status === 'fulfilled' ? (typeof r.value === 'boolean' ? r.value : outcome(r.value)) : 'rejected')),
      ['rejected', 'rejected', [1], 'rejected'],
    );
  });

  it('a burst of chained one-frame sends (written as short lines) is judged as the same appends one turn each', async () => {
    // [token, after]: a run of node k, broken by node j, a token of another shape and a retry.
    const calls: Array<[string, string | undefined]> = [
      ['k 1', undefined],
      ['k 2', 'k 1'],
      ['k 3', 'k 2'],
      ['j 1', undefined],
      ['k 4', 'k 3'],
      ['k 5', 'k 4'],
      ['k 6', 'k 5'],
      ['k 5', 'k 4'],
      ['odd token', undefined],
      ['k 7', 'odd token'],
      // A node whose name starts with the last one's, then back: each a full line, never a short one.
      ['kk 1', 'k 7'],
      ['kk 2', 'kk 1'],
      ['k 8', 'kk 2'],
      ['k 9', 'k 8'],
      ['k 10 x', 'k 9'],
      ['k 11', 'k 10 x'],
    ];
    const settle = (p: Promise<AppendResult>) => p.then(outcome, (e: unknown) => `rejected: ${(e as Error).name}`);
    const judged = async (limits: { maxBufferedMessages: number; maxBufferedBytes: number }) => {
      const burst = sid();
      const alone = sid();
      await Promise.all([a.create(record(burst), LONG), a.create(record(alone), LONG)]);
      const inOneTurn = await Promise.all(calls.map(([t, after], i) => settle(a.append(burst, [text(`m${i}`)], limits, t, after))));
      const oneByOne: unknown[] = [];
      for (const [i, [t, after]] of calls.entries()) oneByOne.push(await settle(a.append(alone, [text(`m${i}`)], limits, t, after)));
      assert.deepEqual(inOneTurn, oneByOne);
      return inOneTurn;
    };
    // Five fit; k 5 overflows, k 6 waits on it, its retry overflows again, the rest overflow.
    const capped = await judged({ maxBufferedMessages: 5, maxBufferedBytes: 1 << 20 });
    assert.deepEqual(capped.slice(0, 8), [[1], [2], [3], [4], [5], 'overflow', 'rejected: AppendBehind', 'overflow']);
    // With room for all, every append that runs takes the next seq, whichever line shape carried it;
    // the retry of k 5 after k 6 ran is "ran already", and a token of no known shape is judged as none.
    const roomyRun = await judged(roomy);
    assert.deepEqual(roomyRun, [[1], [2], [3], [4], [5], [6], [7], [], [8], [9], [10], [11], [12], [13], [14], [15]]);
  });

  it('a batch of inbound frames is judged like single accepts: dups skipped, stops at a gap or behind a live node', async () => {
    const id = sid();
    await a.create(record(id), LONG);
    const f = (seq: number) => ({ seq, data: `m${seq}` });
    assert.deepEqual(await a.acceptInboundBatch(id, [f(1), f(2), f(3)]), { statuses: ['new', 'new', 'new'], ack: 3 });
    a.confirmInbound(id, 3);
    assert.deepEqual(await a.acceptInboundBatch(id, [f(2), f(3), f(4), f(6), f(7)]), { statuses: ['dup', 'dup', 'new', 'gap'], ack: 4 });
    // a's entry of 4 is unconfirmed and a is alive: b's next frame waits, nothing of its batch is taken.
    const waiting = await b.acceptInboundBatch(id, [f(5), f(6)]);
    assert.deepEqual(waiting.statuses, ['wait']);
    assert.equal(waiting.ack, 4);
    a.confirmInbound(id, 4);
    await a.replayInbound(id); // carries the confirm
    assert.deepEqual((await b.acceptInboundBatch(id, [f(5), f(6)])).statuses, ['new', 'new']);
    assert.deepEqual(await a.acceptInboundBatch(sid(), [f(1)]), { statuses: ['unknown'], ack: 0 });
  });

  it('a long run of inbound frames is journaled in a hash table, one field per frame and nothing else, holding another node back until confirmed', async () => {
    const id = sid();
    await a.create(record(id), LONG);
    const run = Array.from({ length: 40 }, (_, i) => ({ seq: i + 1, data: `m${i + 1}` }));
    const accepted = await a.acceptInboundBatch(id, run);
    assert.equal(accepted.ack, 40);
    assert.ok(accepted.statuses.every((s) => s === 'new'));
    const admin = new Redis(URL);
    try {
      const journal = `${prefix}:{${id}}:journal`;
      // The script's padding value made Redis build a hash table (no quadratic listpack inserts) and
      // went again in the same script: the journal holds the run's 40 entries only.
      assert.equal(await admin.object('ENCODING', journal), 'hashtable');
      const fields = await admin.hkeys(journal);
      assert.deepEqual(fields.map(Number).sort((x, y) => x - y), run.map((f) => f.seq));
    } finally {
      admin.disconnect();
    }
    // Unconfirmed and a alive: b waits behind them; confirmed, b goes on.
    assert.deepEqual((await b.acceptInboundBatch(id, [{ seq: 41, data: 'm41' }, { seq: 42, data: 'm42' }])).statuses, ['wait']);
    a.confirmInbound(id, 40);
    await a.replayInbound(id);
    assert.deepEqual((await b.acceptInboundBatch(id, [{ seq: 41, data: 'm41' }, { seq: 42, data: 'm42' }])).statuses, ['new', 'new']);
  });

  it('an ack frees exactly the bytes it trims, counted from whichever side of the cut is shorter', async () => {
    const id = sid();
    await a.create(record(id), LONG);
    const limits = { maxBufferedMessages: 100, maxBufferedBytes: 20 };
    for (const d of ['a', 'bb', 'ccc', 'dddd', 'eeeee']) assert.ok((await a.append(id, [text(d)], limits)).ok);
    // Trims 1 of 5 (the side that goes is shorter): 14 bytes stay, so 6 more fit and 7 do not.
    assert.equal(await a.ack(id, 1), true);
    assert.equal(outcome(await a.append(id, [text('x'.repeat(7))], limits)), 'overflow');
    assert.deepEqual(outcome(await a.append(id, [text('x'.repeat(6))], limits)), [6]);
    // Trims 4 of 5 (the side that stays is shorter): the 6 bytes of seq 6 stay.
    assert.equal(await a.ack(id, 5), true);
    assert.equal(outcome(await a.append(id, [text('y'.repeat(15))], limits)), 'overflow');
    assert.deepEqual(outcome(await a.append(id, [text('y'.repeat(14))], limits)), [7]);
    // Trims everything: nothing stays.
    assert.equal(await a.ack(id, 7), true);
    assert.deepEqual(outcome(await a.append(id, [text('z'.repeat(20))], limits)), [8]);
    assert.deepEqual((await b.read(id, 0, 10, 1000)).map((f) => f.frame.seq), [8]);
  });

  it("a node's own wake-up reaches its listener after the append's reply, never before", async () => {
    const id = sid();
    await a.create(record(id), LONG);
    const heard: Array<{ lastSeq: number; answered: number }> = [];
    let answered = 0;
    let subscribed = false;
    let allHeard: () => void = () => {};
    const done = new Promise<void>((resolve) => (allHeard = resolve));
    const stop = a.subscribe(id, (ev: WakeEvent) => {
      if (ev.type === 'attach') subscribed = true;
      else if (ev.type === 'append' && ev.lastSeq !== Number.MAX_SAFE_INTEGER) {
        heard.push({ lastSeq: ev.lastSeq, answered });
        if (ev.lastSeq === 21) allHeard();
      }
    });
    while (!subscribed) await a.publish(id, { type: 'attach', owner: 'probe' });
    for (let i = 1; i <= 20; i++) {
      const r = await a.append(id, [text(`w${i}`)], roomy);
      if (r.ok) answered = r.frames[0]!.frame.seq;
    }
    // Another node's append is heard as it comes.
    await b.append(id, [text('from b')], roomy);
    await done;
    stop();
    // Wakes may be merged (one "up to" for several appends), never early, never out of order.
    for (const h of heard) if (h.lastSeq <= 20) assert.ok(h.answered >= h.lastSeq, `wake ${h.lastSeq} before its reply (${h.answered})`);
    const order = heard.map((h) => h.lastSeq);
    assert.deepEqual(order, [...order].sort((x, y) => x - y));
    assert.equal(order.at(-1), 21);
  });

  it("a client ack rides on the session's appends of the same turn (one script), applied before them", async () => {
    const id = sid();
    const limits = { maxBufferedMessages: 3, maxBufferedBytes: 1 << 20 };
    // Its own connection, whose commands are counted (the shared Redis serves other suites too).
    const client = new Redis(URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    let sent = 0;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<typeof send>) => {
      sent++;
      return send(...args);
    }) as typeof client.sendCommand;
    const c = await redis.store({ redis: client });
    await c.create(record(id), LONG);
    assert.deepEqual(outcome(await c.append(id, [text('1'), text('2'), text('3')], limits)), [1, 2, 3]);
    try {
      const before = sent;
      // The buffer is full (3 of 3): the append fits only because the ack of the same turn trims first.
      const [acked, appended, ackedToo] = await Promise.all([c.ack(id, 1), c.append(id, [text('4')], limits), c.ack(id, 2)]);
      const used = sent - before;
      assert.equal(acked, true);
      assert.equal(ackedToo, true);
      assert.deepEqual(outcome(appended), [4]);
      assert.equal(used, 1, 'the acks and the append went as one script');
      assert.deepEqual(seqsOf(await b.read(id, 0, 10, 1000)), [3, 4]);
      // Alone (no append that turn), an ack still goes, and an unknown session answers false.
      const [alone, unknown] = await Promise.all([a.ack(id, 4), a.ack(sid(), 1)]);
      assert.equal(alone, true);
      assert.equal(unknown, false);
      assert.deepEqual(await b.read(id, 0, 10, 1000), []);
      // An append to an unknown session with an ack of the same turn: both refused.
      const gone = sid();
      const [goneAck, goneAppend] = await Promise.all([a.ack(gone, 1), a.append(gone, [text('x')], limits)]);
      assert.equal(goneAck, false);
      assert.equal(outcome(goneAppend), 'unknown');
    } finally {
      await c.close();
      client.disconnect();
    }
  });
});
