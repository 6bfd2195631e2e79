/** Conformance suites: session records, the outbound log and inbound acceptance. */
import assert from 'node:assert/strict';
import type { Store, AppendLimits } from '../store.js';
import { LONG, roomy, sid, record, text, seqs, type Handles, type Kit } from './kit.js';

export function recordsSuite(t: Kit, h: Handles): void {
  t.describe('records', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('create, then get from either node returns the record as given', async () => {
      const id = sid();
      const rec = record(id, { protocol: 'chat.v1', data: { user: 'ann', n: [1, 2] } });
      await a.create(rec, LONG);
      assert.deepEqual(await a.get(id), rec);
      assert.deepEqual(await b.get(id), rec);
      assert.equal(await a.get(sid()), undefined);
      assert.equal(await b.get('__proto__'), undefined);
    });

    t.it('create refuses an id that exists', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      await assert.rejects(b.create(record(id), LONG));
    });

    t.it('touch returns the record, bumps activity only when asked, and unknown is undefined', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      assert.equal((await a.touch(id, LONG, false))?.activity, 0);
      assert.equal((await b.touch(id, LONG, true))?.activity, 1);
      assert.equal((await a.touch(id, LONG, true))?.activity, 2);
      assert.equal((await b.get(id))?.activity, 2);
      assert.equal(await a.touch(sid(), LONG, true), undefined);
    });

    t.it('touchProven (when the store has it) touches only for the right token hash, and not a closed record or an abandon', async () => {
      if (!a.touchProven || !b.touchProven) return; // optional: the session core calls get, then touch
      const good = 'ab'.repeat(32);
      const id = sid();
      await a.create(record(id, { tokenHash: good }), LONG);
      // A wrong hash (or an unknown session) is undefined, and touches nothing.
      assert.equal(await b.touchProven(id, 'cd'.repeat(32), LONG, true), undefined);
      assert.equal(await b.touchProven(id, '', LONG, true), undefined);
      assert.equal(await a.touchProven(sid(), good, LONG, true), undefined);
      assert.equal((await a.get(id))?.activity, 0);
      assert.equal((await b.touchProven(id, good, LONG, true))?.activity, 1);
      assert.equal((await a.touchProven(id, good, LONG, false))?.activity, 2);
      // An abandon (claim false) of an unclaimed raced session reads it untouched; the claim touches.
      const raced = sid();
      await a.create(record(raced, { tokenHash: good, raced: true }), LONG);
      assert.equal((await b.touchProven(raced, good, LONG, false))?.activity, 0);
      assert.equal((await a.touchProven(raced, good, LONG, true))?.activity, 1);
      assert.equal((await b.touchProven(raced, good, LONG, false))?.activity, 2);
      // A closed record keeps its linger: answered, not touched.
      const closed = sid();
      await a.create(record(closed, { tokenHash: good, closed: { by: 'server', code: 1000 } }), LONG);
      const c = await b.touchProven(closed, good, LONG, true);
      assert.equal(c?.activity, 0);
      assert.equal(c?.closed?.by, 'server');
    });

    t.it('delete removes the record, its log and its memberships at once', async () => {
      const id = sid();
      const room = `r-${sid()}`;
      await a.create(record(id), LONG);
      assert.ok((await a.append(id, [text('x')], roomy)).ok);
      assert.equal(await a.join(id, room), true);
      await b.delete(id);
      assert.equal(await a.get(id), undefined);
      assert.deepEqual(await a.read(id, 0, 10, 1000), []);
      assert.deepEqual(await a.append(id, [text('y')], roomy), { ok: false, reason: 'unknown' });
      assert.deepEqual(await b.members(room), []);
      assert.ok(!(await b.members(undefined)).includes(id));
      await a.delete(id); // twice, and unknown: no error
      await a.delete(sid());
    });

    t.it('setData round-trips JSON across nodes; unknown is false', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const data = { name: 'zoë 🦔', list: [1, 'two', null, { deep: true }], n: 1.5 };
      assert.equal(await a.setData(id, data), true);
      assert.deepEqual((await b.get(id))?.data, data);
      assert.equal(await b.setData(id, 'plain'), true);
      assert.equal((await a.get(id))?.data, 'plain');
      assert.equal(await a.setData(sid(), 1), false);
    });
  });
}

export function outboundLogSuite(t: Kit, h: Handles): void {
  t.describe('outbound log', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('append assigns consecutive seqs across nodes and returns the frames', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const r1 = await a.append(id, [text('one'), text('twö')], roomy);
      const r2 = await b.append(id, [text('three')], roomy);
      const r3 = await a.append(id, [text('four', 4)], roomy);
      assert.ok(r1.ok && r2.ok && r3.ok);
      assert.deepEqual(seqs(r1.frames), [1, 2]);
      assert.deepEqual(seqs(r2.frames), [3]);
      assert.deepEqual(seqs(r3.frames), [4]);
      assert.deepEqual(r1.frames.map((f) => [f.frame.t, f.frame.t === 'd' ? f.frame.data : undefined, f.size]), [
        ['d', 'one', 3],
        ['d', 'twö', 4],
      ]);
      assert.equal((await b.get(id))?.outSeq, 4);
      const all = await b.read(id, 0, 100, 1 << 20);
      assert.deepEqual(seqs(all), [1, 2, 3, 4]);
      assert.deepEqual(all.map((f) => (f.frame.t === 'd' ? f.frame.data : null)), ['one', 'twö', 'three', 'four']);
    });

    t.it('concurrent appends from both nodes never share a seq', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append(id, [text(`m${i}`)], roomy)));
      const got = results.flatMap((r) => (r.ok ? seqs(r.frames) : [])).sort((x, y) => x - y);
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1));
    });

    t.it('binary and text payloads come back byte-exact, sizes in bytes', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const bytes = new Uint8Array([0, 255, 1, 0x74, 0x63, 13, 10, 0]);
      const r = await a.append(id, [{ t: 'd', data: bytes }, text(''), text('\u{1F994}\n\0end')], roomy);
      assert.ok(r.ok);
      assert.deepEqual(r.frames.map((f) => f.size), [8, 0, 9]);
      const back = await b.read(id, 0, 10, 1 << 20);
      const first = back[0]?.frame;
      assert.ok(first?.t === 'd' && typeof first.data !== 'string');
      assert.deepEqual(Buffer.from(first.data), Buffer.from(bytes));
      assert.deepEqual(back.slice(1).map((f) => (f.frame.t === 'd' ? f.frame.data : null)), ['', '\u{1F994}\n\0end']);
      assert.deepEqual(back.map((f) => f.size), [8, 0, 9]);
    });

    t.it('append refuses the whole batch past either bound, and unknown sessions', async () => {
      const id = sid();
      const limits: AppendLimits = { maxBufferedMessages: 3, maxBufferedBytes: 10 };
      await a.create(record(id), LONG);
      assert.ok((await a.append(id, [text('ab'), text('cd')], limits)).ok);
      // One more message fits, two do not: nothing of the batch is kept.
      assert.deepEqual(await b.append(id, [text('e'), text('f')], limits), { ok: false, reason: 'overflow' });
      assert.equal((await a.get(id))?.outSeq, 2);
      // Bytes: 4 held, 7 more would pass 10.
      assert.deepEqual(await b.append(id, [text('1234567')], limits), { ok: false, reason: 'overflow' });
      assert.deepEqual(seqs(await a.read(id, 0, 10, 1000)), [1, 2]);
      const ok = await b.append(id, [text('123456')], limits); // exactly at both bounds
      assert.ok(ok.ok);
      assert.deepEqual(seqs(ok.frames), [3]);
      assert.deepEqual(await a.append(id, [text('')], limits), { ok: false, reason: 'overflow' });
      // An ack frees room, in messages and in bytes.
      assert.equal(await b.ack(id, 2), true);
      const after = await a.append(id, [text('abcd')], limits);
      assert.ok(after.ok);
      assert.deepEqual(seqs(after.frames), [4]);
      assert.deepEqual(await a.append(sid(), [text('x')], limits), { ok: false, reason: 'unknown' });
    });

    t.it('appends started together are judged one by one in call order (a store may send them as one)', async () => {
      const id = sid();
      const limits: AppendLimits = { maxBufferedMessages: 4, maxBufferedBytes: 10 };
      await a.create(record(id), LONG);
      // None awaited before the next: a networked store may group them into one round trip.
      const rs = await Promise.all([
        a.append(id, [text('abcd')], limits),
        a.append(id, [text('123456789')], limits), // 4 + 9 bytes > 10: refused alone
        a.append(id, [text('ef'), text('gh')], limits),
        a.append(id, [text('\u{1F994}')], limits), // 4 bytes: 8 + 4 > 10
        a.append(id, [text('i')], limits),
        a.append(id, [text('j')], limits), // a fifth message
      ]);
      assert.deepEqual(
        rs.map((r) => (r.ok ? seqs(r.frames) : r.reason)),
        [[1], 'overflow', [2, 3], 'overflow', [4], 'overflow'],
      );
      assert.deepEqual((await b.read(id, 0, 10, 1000)).map((f) => (f.frame.t === 'd' ? f.frame.data : null)), ['abcd', 'ef', 'gh', 'i']);
    });

    t.it('read: after a seq, bounded by frames and bytes, at least one', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      await a.append(id, [text('aaaa'), text('bbbb'), text('cccc'), text('dddd'), text('eeeeeeeeee')], roomy);
      assert.deepEqual(seqs(await b.read(id, 0, 2, 1000)), [1, 2]);
      assert.deepEqual(seqs(await b.read(id, 2, 100, 1000)), [3, 4, 5]);
      assert.deepEqual(seqs(await b.read(id, 0, 100, 8)), [1, 2]); // 12 bytes would pass 8
      assert.deepEqual(seqs(await b.read(id, 0, 100, 9)), [1, 2]);
      assert.deepEqual(seqs(await a.read(id, 4, 100, 3)), [5]); // larger than maxBytes, still one
      assert.deepEqual(seqs(await a.read(id, 0, 100, 0)), [1]);
      assert.deepEqual(await a.read(id, 5, 100, 1000), []);
      assert.deepEqual(await a.read(id, 99, 100, 1000), []);
      assert.deepEqual(await a.read(sid(), 0, 100, 1000), []);
      // After an ack, reads start at outAck+1 whatever afterSeq says.
      await b.ack(id, 3);
      assert.deepEqual(seqs(await a.read(id, 0, 100, 1000)), [4, 5]);
      assert.deepEqual(seqs(await a.read(id, 4, 100, 1000)), [5]);
    });

    t.it('ack trims, is clamped to outSeq and never goes back; unknown is false', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      await a.append(id, [text('1'), text('2'), text('3')], roomy);
      assert.equal(await b.ack(id, 1), true);
      assert.equal((await a.get(id))?.outAck, 1);
      assert.deepEqual(seqs(await a.read(id, 0, 10, 100)), [2, 3]);
      assert.equal(await a.ack(id, 0), true); // lower: nothing changes
      assert.equal((await b.get(id))?.outAck, 1);
      // An ack for frames never sent trims only what exists; frames appended later survive it.
      assert.equal(await a.ack(id, 1000), true);
      assert.equal((await b.get(id))?.outAck, 3);
      const later = await b.append(id, [text('4'), text('5')], { maxBufferedMessages: 2, maxBufferedBytes: 2 });
      assert.ok(later.ok);
      assert.deepEqual(seqs(later.frames), [4, 5]);
      assert.deepEqual(seqs(await a.read(id, 0, 10, 100)), [4, 5]);
      assert.equal((await a.get(id))?.outAck, 3);
      assert.equal(await a.ack(sid(), 1), false);
    });

    t.it('appendClose: first caller wins across nodes, ignores the bounds, ends appends', async () => {
      const id = sid();
      const full: AppendLimits = { maxBufferedMessages: 1, maxBufferedBytes: 1 };
      await a.create(record(id), LONG);
      assert.ok((await a.append(id, [text('x')], full)).ok);
      const [r1, r2] = await Promise.all([a.appendClose(id, 'server', 4000, 'bye'), b.appendClose(id, 'client', 1000, 'echo')]);
      assert.ok(r1.ok && r2.ok);
      assert.equal([r1.first, r2.first].filter(Boolean).length, 1);
      const winner = r1.first ? r1 : r2;
      const closer: 'server' | 'client' = r1.first ? 'server' : 'client';
      const code = r1.first ? 4000 : 1000;
      const reason = r1.first ? 'bye' : 'echo';
      assert.deepEqual(winner.frame?.frame, { t: 'close', seq: 2, code, reason });
      assert.deepEqual(winner.record.closed, { by: closer, code, reason });
      assert.equal(winner.record.outSeq, 2);
      const loser = r1.first ? r2 : r1;
      assert.equal(loser.frame, undefined);
      assert.deepEqual(loser.record.closed, { by: closer, code, reason });
      const again = await a.appendClose(id, 'client', undefined, undefined);
      assert.ok(again.ok && !again.first);
      assert.deepEqual(await b.append(id, [text('late')], roomy), { ok: false, reason: 'closed' });
      const log = await b.read(id, 0, 10, 1000);
      assert.deepEqual(seqs(log), [1, 2]);
      assert.deepEqual(log[1]?.frame, { t: 'close', seq: 2, code, reason });
      assert.deepEqual((await b.get(id))?.closed, { by: closer, code, reason });
      assert.deepEqual(await a.appendClose(sid(), 'server', 1000, ''), { ok: false, reason: 'unknown' });
    });

    // Regression (RedisStore): its appends went out at the end of the turn and appendClose at once,
    // so `session.send(x); session.close()` logged the close first and refused x as `closed`.
    t.it('append, then appendClose in the same turn: the close comes after the frame in the log', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const sent = a.append(id, [text('bye')], roomy, `${id} 1`);
      const closed = a.appendClose(id, 'server', 4000, 'done');
      const r = await sent;
      assert.ok(r.ok);
      assert.deepEqual(seqs(r.frames), [1]);
      const c = await closed;
      assert.ok(c.ok && c.first);
      assert.deepEqual(c.frame?.frame, { t: 'close', seq: 2, code: 4000, reason: 'done' });
      assert.deepEqual(seqs(await b.read(id, 0, 10, 1000)), [1, 2]);
    });

    t.it('appendClose without code or reason', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const r = await b.appendClose(id, 'client', undefined, undefined);
      assert.ok(r.ok && r.first);
      assert.deepEqual(r.frame?.frame, { t: 'close', seq: 1 });
      assert.deepEqual(r.record.closed, { by: 'client' });
      assert.deepEqual((await a.read(id, 0, 10, 10))[0]?.frame, { t: 'close', seq: 1 });
      assert.deepEqual((await a.get(id))?.closed, { by: 'client' });
    });
  });
}

export function inboundSuite(t: Kit, h: Handles): void {
  t.describe('inbound', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('acceptInbound: new, dup, gap, unknown — across nodes', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      assert.deepEqual(await a.acceptInbound(id, 1), { status: 'new', ack: 1 });
      assert.deepEqual(await b.acceptInbound(id, 1), { status: 'dup', ack: 1 });
      assert.deepEqual(await b.acceptInbound(id, 3), { status: 'gap', ack: 1 });
      assert.deepEqual(await b.acceptInbound(id, 2), { status: 'new', ack: 2 });
      assert.deepEqual(await a.acceptInbound(id, 2), { status: 'dup', ack: 2 });
      assert.equal((await a.get(id))?.inAck, 2);
      assert.equal((await a.acceptInbound(sid(), 1)).status, 'unknown');
    });

    t.it('the same seq offered on both nodes at once is new exactly once', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      for (let seq = 1; seq <= 5; seq++) {
        const rs = await Promise.all([a.acceptInbound(id, seq), b.acceptInbound(id, seq)]);
        assert.deepEqual(rs.map((r) => r.status).sort(), ['dup', 'new']);
        assert.ok(rs.every((r) => r.ack === seq));
      }
    });
  });
}
