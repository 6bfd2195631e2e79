/** Conformance suites: wake-ups, expiry, rooms and health. */
import assert from 'node:assert/strict';
import type { Store, AppendLimits, SessionRecord } from '../store.js';
import { TTL, LONG, roomy, sid, record, text, until, recorder, seqs, type Handles, type Kit } from './kit.js';

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

    t.it('a TTL that runs out reaches exactly one onExpired listener across nodes, with the last state', async () => {
      const id = sid();
      const id2 = sid();
      const room = `r-${sid()}`;
      const heard: [string, SessionRecord][] = [];
      const offs = [a.onExpired((r) => heard.push(['a', r])), b.onExpired((r) => heard.push(['b', r]))];
      try {
        await a.create(record(id), LONG);
        await b.setData(id, { last: 'state' });
        await b.append(id, [text('pending')], roomy);
        await a.acceptInbound(id, 1);
        assert.equal(await a.join(id, room), true);
        await b.touch(id, TTL, false);
        await a.create(record(id2), TTL);
        await until('both expiries', () => heard.filter(([, r]) => r.id === id || r.id === id2).length >= 2);
        // A barrier: an expiry set up after these ones has been reported; no duplicate came before it.
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
      } finally {
        for (const off of offs) off();
      }
    });

    t.it('touch pushes the expiry back; a closed record expires too', async () => {
      const kept = sid();
      const closed = sid();
      const witness = sid();
      const heard: string[] = [];
      const off = a.onExpired((r) => heard.push(r.id));
      try {
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
      } finally {
        off();
      }
    });

    t.it('delete is not an expiry', async () => {
      const id = sid();
      const witness = sid();
      const heard: string[] = [];
      const off = b.onExpired((r) => heard.push(r.id));
      try {
        await a.create(record(id), TTL);
        await a.create(record(witness), TTL * 2);
        await b.delete(id);
        await until('the witness expiry', () => heard.includes(witness));
        assert.ok(!heard.includes(id));
      } finally {
        off();
      }
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
