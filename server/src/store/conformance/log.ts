/** Conformance suite: the outbound log (append, read, ack, limits, wakes). */
import assert from 'node:assert/strict';
import type { Store, AppendLimits } from '../store.js';
import { LONG, roomy, sid, record, text, seqs, type Handles, type Kit } from './kit.js';

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

    t.it('read returns frames oldest first by seq, past seq 10 too', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const data = Array.from({ length: 13 }, (_, i) => `m${i + 1}`);
      assert.ok((await a.append(id, data.slice(0, 7).map((d) => text(d)), roomy)).ok);
      assert.ok((await b.append(id, data.slice(7).map((d) => text(d)), roomy)).ok);
      const all = await b.read(id, 0, 100, 1 << 20);
      assert.deepEqual(seqs(all), Array.from({ length: 13 }, (_, i) => i + 1));
      assert.deepEqual(all.map((f) => (f.frame.t === 'd' ? f.frame.data : null)), data);
      assert.deepEqual(seqs(await a.read(id, 8, 100, 1 << 20)), [9, 10, 11, 12, 13]);
      assert.deepEqual(seqs(await a.read(id, 1, 10, 1 << 20)), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      assert.equal(await a.ack(id, 9), true);
      assert.deepEqual(seqs(await b.read(id, 0, 100, 1 << 20)), [10, 11, 12, 13]);
    });

    t.it('after an ack of more than 1024 frames, read returns every frame after it', async () => {
      const id = sid();
      const big: AppendLimits = { maxBufferedMessages: 5000, maxBufferedBytes: 1 << 20 };
      await a.create(record(id), LONG);
      const n = 1100;
      for (let from = 1; from <= n; from += 500) {
        const batch = Array.from({ length: Math.min(500, n - from + 1) }, (_, i) => text(`f${from + i}`));
        assert.ok((await a.append(id, batch, big)).ok);
      }
      // Past a thousand trimmed frames: a store that compacts its log does it here.
      assert.equal(await b.ack(id, 1030), true);
      const rest = await a.read(id, 0, 5000, 1 << 20);
      assert.deepEqual(seqs(rest), Array.from({ length: n - 1030 }, (_, i) => 1031 + i));
      assert.deepEqual(rest.map((f) => (f.frame.t === 'd' ? f.frame.data : null)), seqs(rest).map((s) => `f${s}`));
      assert.deepEqual(seqs(await b.read(id, 1030, 3, 1 << 20)), [1031, 1032, 1033]);
      assert.ok((await b.append(id, [text('late')], big)).ok);
      assert.equal(await a.ack(id, 1099), true);
      assert.deepEqual((await b.read(id, 0, 10, 1 << 20)).map((f) => [f.frame.seq, f.frame.t === 'd' ? f.frame.data : null]), [
        [1100, 'f1100'],
        [1101, 'late'],
      ]);
    });

    t.it('maxTotalBufferedBytes (where the store enforces it): crossing it is overflow; acked bytes are freed', async () => {
      if (!(t.options.maxTotalBufferedBytes ?? a.sync !== undefined)) return; // a store keeping logs elsewhere may ignore it
      const id = sid();
      const probe = sid();
      const many: AppendLimits = { maxBufferedMessages: 1000, maxBufferedBytes: 1 << 20 };
      await a.create(record(id), LONG);
      await a.create(record(probe), LONG);
      // Other tests' sessions hold bytes too: find what the store holds now (B) by the smallest cap an
      // empty frame fits under (it adds nothing).
      const fits = async (cap: number): Promise<boolean> => (await a.append(probe, [text('')], { ...many, maxTotalBufferedBytes: cap })).ok;
      let lo = 0;
      let hi = 1;
      while (!(await fits(hi))) {
        lo = hi + 1;
        hi *= 2;
        assert.ok(hi < 2 ** 40, 'an empty frame fits under some cap');
      }
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (await fits(mid)) hi = mid;
        else lo = mid + 1;
      }
      const held = lo;
      const cap = (extra: number): AppendLimits => ({ ...many, maxTotalBufferedBytes: held + extra });
      assert.deepEqual(await b.append(id, [text('0123456789')], cap(9)), { ok: false, reason: 'overflow' });
      assert.deepEqual(await b.append(id, [text('01234'), text('56789')], cap(9)), { ok: false, reason: 'overflow' });
      const r = await b.append(id, [text('0123456789')], cap(10)); // exactly at the cap
      assert.ok(r.ok);
      assert.deepEqual(seqs(r.frames), [1]);
      assert.deepEqual(await a.append(id, [text('x')], cap(10)), { ok: false, reason: 'overflow' });
      assert.ok((await a.append(id, [text('')], cap(10))).ok);
      // The ack releases the bytes: the same append fits again.
      assert.equal(await a.ack(id, 2), true);
      const again = await b.append(id, [text('abcdefghij')], cap(10));
      assert.ok(again.ok);
      assert.deepEqual(seqs(again.frames), [3]);
      assert.deepEqual(await a.append(id, [text('x')], cap(10)), { ok: false, reason: 'overflow' });
      // So does a delete.
      await a.delete(id);
      assert.ok((await a.append(probe, [text('abcdefghij')], cap(10))).ok);
      await a.delete(probe);
    });

    t.it('append tokens and after: a repeated token is not a second message; after holds an append back (where kept)', async () => {
      const id = sid();
      const node = `n${sid().slice(0, 8)}`;
      await a.create(record(id), LONG);
      const log = async () => (await b.read(id, 0, 100, 1 << 20)).map((f) => (f.frame.t === 'd' ? f.frame.data : null));
      const first = await a.append(id, [text('one')], roomy, `${node} 1`);
      assert.ok(first.ok);
      assert.deepEqual(seqs(first.frames), [1]);
      if (!t.options.appendTokens) {
        // A store that ignores tokens and `after` makes every such call a plain append: its frames,
        // in the log, with the seqs it answers — never an `ok` without them.
        const again = await a.append(id, [text('one')], roomy, `${node} 1`);
        assert.ok(again.ok);
        const want = ['one'];
        if (seqs(again.frames)[0] === 2) want.push('one');
        else assert.deepEqual(seqs(again.frames), [1], 'a repeated token answers its first seq, or is appended as a plain append');
        const held = await a.append(id, [text('two')], roomy, `${node} 3`, `${node} 2`).then(
          (r) => r,
          () => undefined, // a store that keeps `after` after all: refused until node 2 runs
        );
        if (held !== undefined) {
          assert.ok(held.ok);
          assert.deepEqual(seqs(held.frames), [want.length + 1], 'an append with `after` ignored is a plain append, with its frames');
          want.push('two');
        }
        assert.deepEqual(await log(), want);
        return;
      }
      // A repeated token (a retry after a lost reply) answers the first seq and appends nothing.
      const retry = await b.append(id, [text('one')], roomy, `${node} 1`);
      assert.ok(retry.ok);
      assert.deepEqual(seqs(retry.frames), [1]);
      assert.deepEqual(await log(), ['one']);
      // `after` names an append of this node that has not run: refused (as a store failure) until it has.
      await assert.rejects(a.append(id, [text('three')], roomy, `${node} 3`, `${node} 2`));
      assert.deepEqual(await log(), ['one']);
      const two = await b.append(id, [text('two')], roomy, `${node} 2`, `${node} 1`);
      assert.ok(two.ok);
      assert.deepEqual(seqs(two.frames), [2]);
      const three = await a.append(id, [text('three')], roomy, `${node} 3`, `${node} 2`);
      assert.ok(three.ok);
      assert.deepEqual(seqs(three.frames), [3]);
      // A retry overtaken by a later append of its node ran already: ok, nothing appended.
      assert.deepEqual(await b.append(id, [text('two')], roomy, `${node} 2`, `${node} 1`), { ok: true, frames: [] });
      assert.deepEqual(await log(), ['one', 'two', 'three']);
      // Another node's tokens are its own.
      const other = await a.append(id, [text('four')], roomy, `m${node} 1`);
      assert.ok(other.ok);
      assert.deepEqual(seqs(other.frames), [4]);
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
