/** Conformance suites: wake-ups, expiry, rooms and health. */
import assert from 'node:assert/strict';
import type { Store, AppendLimits, SessionRecord } from '../store.js';
import { TTL, LONG, roomy, sid, record, text, until, recorder, seqs, type Handles, type Kit, type TestContext } from './kit.js';

export function wakeUpsSuite(t: Kit, h: Handles): void {
  t.describe('wake-ups', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('publish on one node reaches subscribers on the other, in order', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const rec = await recorder(b, a, id);
      await a.publish(id, { type: 'pong' });
      await a.publish(id, { type: 'attach', owner: 'node-1:7' });
      await until('two events', () => rec.events.length >= 2);
      assert.deepEqual(rec.events.slice(0, 2), [{ type: 'pong' }, { type: 'attach', owner: 'node-1:7' }]);
      rec.stop();
    });

    t.it('append and appendClose publish an append event with the last seq', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const rec = await recorder(b, a, id);
      await a.append(id, [text('1'), text('2')], roomy);
      await until('an append event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 2));
      await a.appendClose(id, 'server', 1000, '');
      await until('the close event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 3));
      rec.stop();
    });

    t.it('an append wake that carries frames carries the log\'s frames ending at its lastSeq', async (c) => {
      const id = sid();
      await a.create(record(id), LONG);
      const rec = await recorder(b, a, id);
      c.defer(rec.stop);
      await a.append(id, [text('one')], roomy);
      await a.append(id, [text('two'), text('three'), text('4')], roomy);
      await b.append(id, [text('five'), text('six')], roomy);
      await until('the last append event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 6));
      const log = await a.read(id, 0, 100, 1 << 20);
      const entry = (f: { frame: unknown; size: number }): [unknown, number] => [f.frame, f.size];
      for (const e of rec.events) {
        if (e.type !== 'append' || e.frames === undefined) continue; // a store may wake with the seq only
        assert.ok(e.frames.length > 0, 'frames, when present, are not empty');
        const want = log.filter((f) => f.frame.seq <= e.lastSeq).slice(-e.frames.length);
        assert.deepEqual(e.frames.map(entry), want.map(entry), `the frames of the wake for ${e.lastSeq}`);
        assert.equal(e.frames[e.frames.length - 1]?.frame.seq, e.lastSeq);
      }
    });

    t.it('an unsubscribed listener hears nothing more; other listeners still do', async () => {
      const id = sid();
      const other = sid();
      await a.create(record(id), LONG);
      await a.create(record(other), LONG);
      const gone = await recorder(b, a, id);
      const stays = await recorder(b, a, id);
      const last = await recorder(b, a, other);
      gone.stop();
      gone.stop(); // idempotent
      await a.publish(id, { type: 'pong' });
      await until('the remaining listener', () => stays.events.length > 0);
      stays.stop(); // last listener of the channel
      await a.publish(id, { type: 'pong' });
      await a.publish(other, { type: 'pong' }); // published after: arrives after
      await until('the later event on another channel', () => last.events.length > 0);
      assert.deepEqual(gone.events, []);
      assert.deepEqual(stays.events, [{ type: 'pong' }]);
      last.stop();
    });
  });
}

export function expirySuite(t: Kit, h: Handles): void {
  t.describe('expiry', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    /**
     * Every expiry any listener of this suite heard, with when, for the last test: a duplicate that
     * comes a while later (a sweep that claims an expiry again) lands here after its test ended.
     */
    const reported: { id: string; at: number }[] = [];
    /** `store.onExpired(fn)`, logged in `reported`, and unsubscribed when the test ends however it ends. */
    const onExpired = (c: TestContext, store: Store, fn: (r: SessionRecord) => void): (() => void) =>
      c.defer(
        store.onExpired((r) => {
          reported.push({ id: r.id, at: Date.now() });
          fn(r);
        }),
      );
    /** Resolves once `id` is gone, as the store's own `get` sees it (no listener needed). */
    const gone = (store: Store, id: string): Promise<void> => until(`${id} to expire`, async () => (await store.get(id)) === undefined);

    t.it('a TTL that runs out reaches exactly one onExpired listener across nodes, with the last state', async (c) => {
      const id = sid();
      const id2 = sid();
      const room = `r-${sid()}`;
      const heard: [string, SessionRecord][] = [];
      onExpired(c, a, (r) => heard.push(['a', r]));
      onExpired(c, b, (r) => heard.push(['b', r]));
      await a.create(record(id), LONG);
      await b.setData(id, { last: 'state' });
      await b.append(id, [text('pending')], roomy);
      await a.acceptInbound(id, 1);
      assert.equal(await a.join(id, room), true);
      await b.touch(id, TTL, false);
      await a.create(record(id2), TTL);
      await until('both expiries', () => heard.filter(([, r]) => r.id === id || r.id === id2).length >= 2);
      // A barrier: an expiry set up after these ones has been reported; no duplicate came before it.
      // (The suite's last test looks for later ones.)
      const barrier = sid();
      await a.create(record(barrier), TTL);
      await until('the barrier expiry', () => heard.some(([, r]) => r.id === barrier));
      assert.equal(heard.filter(([, r]) => r.id === id).length, 1);
      assert.equal(heard.filter(([, r]) => r.id === id2).length, 1);
      const got = heard.find(([, r]) => r.id === id)?.[1];
      assert.deepEqual(got?.data, { last: 'state' });
      assert.equal(got?.outSeq, 1);
      assert.equal(got?.inAck, 1);
      assert.equal(await a.get(id), undefined);
      assert.equal(await b.touch(id, LONG, true), undefined);
      assert.deepEqual(await b.members(room), []);
      assert.ok(!(await a.members(undefined)).includes(id));
    });

    t.it('touch pushes the expiry back; a closed record expires too', async (c) => {
      const kept = sid();
      const closed = sid();
      const witness = sid();
      const heard: string[] = [];
      onExpired(c, a, (r) => heard.push(r.id));
      await a.create(record(kept), TTL);
      await a.create(record(closed), LONG);
      await b.touch(kept, LONG, false);
      await b.appendClose(closed, 'server', 1000, '');
      await a.touch(closed, TTL, false); // the close linger
      await a.create(record(witness), TTL * 2);
      await until('the witness expiry', () => heard.includes(witness));
      assert.ok(heard.includes(closed));
      assert.ok(!heard.includes(kept));
      assert.ok(await b.get(kept));
    });

    // A heartbeat touches with the TTL the record already has: that must push the expiry back too.
    t.it('touch with the same TTL, with or without activity, pushes the expiry back; nothing expires well before its TTL', async () => {
      const long = TTL * 3; // 450 ms
      const beat = sid();
      const client = sid();
      const half = sid();
      /** Creates a record with `ttl` and resolves once it is gone, failing if that came well before `ttl`. */
      const lasts = async (id: string, ttl: number): Promise<void> => {
        const start = Date.now();
        await a.create(record(id), ttl);
        await gone(b, id);
        const lived = Date.now() - start;
        assert.ok(lived >= ttl * 0.9, `a record with a TTL of ${ttl} ms expired after ${lived} ms`);
      };
      await a.create(record(beat), long);
      await b.create(record(client), long);
      await lasts(half, long / 2);
      // Half the TTL has passed: both are still there.
      assert.ok(await b.get(beat), 'still there at half its TTL');
      assert.ok(await a.get(client), 'still there at half its TTL');
      assert.equal((await b.touch(beat, long, false))?.id, beat);
      assert.equal((await a.touch(client, long, true))?.activity, 1);
      // Past the first deadline (long/2 + long*2/3 > long after the creates), well before the new one.
      await lasts(sid(), (long * 2) / 3);
      assert.ok(await a.get(beat), 'a touch with the same TTL pushed the expiry back');
      assert.ok(await b.get(client), 'a touch with activity pushed the expiry back');
    });

    t.it('delete is not an expiry', async (c) => {
      const id = sid();
      const witness = sid();
      const heard: string[] = [];
      onExpired(c, b, (r) => heard.push(r.id));
      await a.create(record(id), TTL);
      await a.create(record(witness), TTL * 2);
      await b.delete(id);
      await until('the witness expiry', () => heard.includes(witness));
      assert.ok(!heard.includes(id));
    });

    // Last in the suite: the tests before it give a late duplicate (a second claim, a sweep) time to
    // show, so this one waits only what is left of LATER_MS after the first expiry heard.
    t.it('no expiry reached a listener twice, also a while later', async (c) => {
      const LATER_MS = 1200;
      const heard: string[] = [];
      onExpired(c, a, (r) => heard.push(r.id));
      onExpired(c, b, (r) => heard.push(r.id));
      const first = reported[0]?.at ?? Date.now();
      const barrier = sid();
      await a.create(record(barrier), Math.max(TTL, first + LATER_MS - Date.now()));
      await until('the barrier expiry', () => heard.includes(barrier));
      const count = new Map<string, number>();
      for (const { id } of reported) count.set(id, (count.get(id) ?? 0) + 1);
      assert.deepEqual([...count].filter(([, n]) => n > 1), [], 'expiries reported more than once');
    });
  });
}

export function roomsSuite(t: Kit, h: Handles): void {
  t.describe('rooms', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('join, leave, rooms and members across nodes', async () => {
      const s1 = sid();
      const s2 = sid();
      const room = `room ${sid()} {weird}`;
      const other = `other-${sid()}`;
      await a.create(record(s1), LONG);
      await b.create(record(s2), LONG);
      assert.equal(await a.join(s1, room), true);
      assert.equal(await b.join(s2, room), true);
      assert.equal(await b.join(s1, other), true);
      assert.equal(await a.join(s1, room), true); // twice: still one membership
      assert.equal(await a.join(sid(), room), false);
      assert.deepEqual([...(await b.members(room))].sort(), [s1, s2].sort());
      assert.deepEqual([...(await b.rooms(s1))].sort(), [room, other].sort());
      assert.deepEqual(await a.rooms(s2), [room]);
      await b.leave(s1, room);
      await b.leave(s1, `never-${sid()}`);
      assert.deepEqual(await a.members(room), [s2]);
      assert.deepEqual(await a.rooms(s1), [other]);
      const everyone = await b.members(undefined);
      assert.ok(everyone.includes(s1) && everyone.includes(s2));
      assert.deepEqual(await a.members(`empty-${sid()}`), []);
      assert.deepEqual(await a.rooms(sid()), []);
    });

    t.it('a closed session is no member of its rooms, while its record lingers', async () => {
      const open = sid();
      const byServer = sid();
      const byClient = sid();
      const room = `r-${sid()}`;
      for (const id of [open, byServer, byClient]) {
        await a.create(record(id), LONG);
        assert.equal(await a.join(id, room), true);
      }
      await b.appendClose(byServer, 'server', 1000, '');
      await a.appendClose(byServer, 'client', 1000, ''); // the echo
      await a.appendClose(byClient, 'client', 4000, 'bye');
      // Both records are still there (the close linger), closed.
      assert.ok((await a.get(byServer))?.closed && (await b.get(byClient))?.closed);
      assert.deepEqual(await a.members(room), [open]);
      assert.deepEqual(await b.members(room), [open]);
      assert.ok((await b.members(undefined)).includes(open));
      // A join that lands after the close (sent from another node before it heard of it) adds no member.
      await b.join(byClient, room);
      assert.deepEqual(await a.members(room), [open]);
    });

    t.it('rooms() of a closed session lists the rooms it was in while its record lingers; none once it is gone', async () => {
      const id = sid();
      const r1 = `r-${sid()}`;
      const r2 = `r-${sid()}`;
      await a.create(record(id), LONG);
      assert.equal(await a.join(id, r1), true);
      assert.equal(await b.join(id, r2), true);
      await b.appendClose(id, 'server', 1000, '');
      await a.appendClose(id, 'client', 1000, ''); // the echo
      assert.deepEqual([...(await a.rooms(id))].sort(), [r1, r2].sort());
      assert.deepEqual([...(await b.rooms(id))].sort(), [r1, r2].sort());
      assert.deepEqual(await a.members(r1), []);
      await b.leave(id, r2);
      assert.deepEqual(await a.rooms(id), [r1]);
      await a.delete(id);
      assert.deepEqual(await b.rooms(id), []);
    });

    t.it('appendEach with a session listed twice appends to it once', async (c) => {
      const s1 = sid();
      const s2 = sid();
      for (const id of [s1, s2]) await a.create(record(id), LONG);
      const rec = await recorder(a, b, s1);
      c.defer(rec.stop);
      const res = await b.appendEach([s1, s2, s1, s1], text('once'), roomy);
      assert.deepEqual([...res.keys()].sort(), [s1, s2].sort());
      for (const id of [s1, s2]) {
        const r = res.get(id);
        assert.ok(r?.ok);
        assert.deepEqual(seqs(r.frames), [1]);
        assert.deepEqual((await a.read(id, 0, 10, 1000)).map((f) => [f.frame.seq, f.frame.t === 'd' ? f.frame.data : null]), [[1, 'once']]);
        assert.equal((await b.get(id))?.outSeq, 1);
      }
      await until('the wake event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 1));
    });

    t.it('appendEach appends one frame to each session, each bounded, and wakes each', async () => {
      const ok1 = sid();
      const ok2 = sid();
      const full = sid();
      const closed = sid();
      const unknown = sid();
      const limits: AppendLimits = { maxBufferedMessages: 2, maxBufferedBytes: 100 };
      for (const id of [ok1, ok2, full, closed]) await a.create(record(id), LONG);
      await b.append(ok2, [text('first')], limits);
      await b.append(full, [text('1'), text('2')], limits);
      await b.appendClose(closed, 'server', 1000, '');
      const rec = await recorder(a, b, ok2);
      const res = await b.appendEach([ok1, ok2, full, closed, unknown], text('all'), limits);
      assert.equal(res.size, 5);
      const r1 = res.get(ok1);
      const r2 = res.get(ok2);
      assert.ok(r1?.ok && r2?.ok);
      assert.deepEqual(r1.frames.map((f) => [f.frame, f.size]), [[{ t: 'd', seq: 1, data: 'all' }, 3]]);
      assert.deepEqual(seqs(r2.frames), [2]);
      assert.deepEqual(res.get(full), { ok: false, reason: 'overflow' });
      assert.deepEqual(res.get(closed), { ok: false, reason: 'closed' });
      assert.deepEqual(res.get(unknown), { ok: false, reason: 'unknown' });
      assert.deepEqual(seqs(await a.read(ok2, 0, 10, 1000)), [1, 2]);
      assert.deepEqual(seqs(await a.read(full, 0, 10, 1000)), [1, 2]);
      await until('the wake event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 2));
      rec.stop();
      assert.equal((await a.appendEach([], text('none'), limits)).size, 0);
    });
  });
}

export function healthSuite(t: Kit, h: Handles): void {
  t.describe('health', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('status is up and onStatus returns an unsubscribe function', () => {
      assert.equal(a.status(), 'up');
      assert.equal(b.status(), 'up');
      const off = a.onStatus(() => {});
      assert.equal(typeof off, 'function');
      off();
    });
  });
}
