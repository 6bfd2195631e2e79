/**
 * `@burrow/server/testing`: the store conformance kit. `runStoreConformance` registers `node:test`
 * suites that hold a {@link Store} to every contract of `store.ts`, using two handles `a` and `b` on the
 * same data — two nodes of a networked store, or the same in-process store twice.
 *
 * ```ts
 * runStoreConformance('MyStore', async () => {
 *   const a = new MyStore(opts), b = new MyStore(opts);
 *   return { a, b, cleanup: async () => { await a.close?.(); await b.close?.(); } };
 * });
 * ```
 *
 * Nothing waits on a timer for synchronisation: events are awaited, and "did not happen" is checked
 * against a later event that must come after it. Session ids are random, so the suites share a store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AppendLimits, NewFrame, SessionRecord, Store, WakeEvent } from './store/store.js';

export interface StoreConformanceFixture {
  /** One node's handle. */
  readonly a: Store;
  /** Another node's handle on the same data (may be `a` itself for an in-process store). */
  readonly b: Store;
  /**
   * For a store with an inbound journal (`replayInbound`): another node on the same data, with
   * `crash()` ending it as `kill -9` would — no confirm flushed, no goodbye; its liveness must be gone
   * when `crash()` resolves. The journal suite is skipped without it.
   */
  node?(): Promise<{ readonly store: Store; crash(): Promise<void> }>;
  cleanup(): Promise<void>;
}

/** How long any awaited event may take before the test fails. */
const WAIT_MS = 5000;
/** Short TTL for expiry tests. */
const TTL = 150;
const LONG = 60_000;
const roomy: AppendLimits = { maxBufferedMessages: 1000, maxBufferedBytes: 1 << 20 };

function sid(): string {
  return randomBytes(16).toString('base64url');
}

function record(id: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { id, tokenHash: 'ab'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0, ...extra };
}

function text(data: string, size?: number): NewFrame {
  return size === undefined ? { t: 'd', data } : { t: 'd', data, size };
}

/** Resolves when `check()` holds; re-checked after each `poke` (a publish, say). Fails after WAIT_MS. */
async function until(what: string, check: () => boolean | Promise<boolean>, poke?: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (poke) await poke();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Subscribes `on` to `id`'s channel and waits until the subscription demonstrably works (a networked
 * store subscribes asynchronously): probes are published from `from` until one arrives. Probe events
 * are never recorded.
 */
async function recorder(on: Store, from: Store, id: string): Promise<{ events: WakeEvent[]; stop: () => void }> {
  const events: WakeEvent[] = [];
  let probed = false;
  const stop = on.subscribe(id, (ev) => {
    if (ev.type === 'attach' && ev.owner === 'probe') probed = true;
    // "Read again" (see WakeEvent) may come at any time and carries no event of its own.
    else if (!(ev.type === 'append' && ev.lastSeq === Number.MAX_SAFE_INTEGER)) events.push(ev);
  });
  await until('the subscription to work', () => probed, () => from.publish(id, { type: 'attach', owner: 'probe' }));
  return { events, stop };
}

function seqs(frames: readonly { frame: { seq: number } }[]): number[] {
  return frames.map((f) => f.frame.seq);
}

/** Registers the conformance suites for one store. */
export function runStoreConformance(name: string, factory: () => Promise<StoreConformanceFixture>): void {
  describe(`Store conformance: ${name}`, { timeout: 30_000 }, () => {
    let fx: StoreConformanceFixture;
    let a: Store;
    let b: Store;
    before(async () => {
      fx = await factory();
      a = fx.a;
      b = fx.b;
    });
    after(async () => {
      await fx?.cleanup();
    });

    describe('records', () => {
      it('create, then get from either node returns the record as given', async () => {
        const id = sid();
        const rec = record(id, { protocol: 'chat.v1', data: { user: 'ann', n: [1, 2] } });
        await a.create(rec, LONG);
        assert.deepEqual(await a.get(id), rec);
        assert.deepEqual(await b.get(id), rec);
        assert.equal(await a.get(sid()), undefined);
        assert.equal(await b.get('__proto__'), undefined);
      });

      it('create refuses an id that exists', async () => {
        const id = sid();
        await a.create(record(id), LONG);
        await assert.rejects(b.create(record(id), LONG));
      });

      it('touch returns the record, bumps activity only when asked, and unknown is undefined', async () => {
        const id = sid();
        await a.create(record(id), LONG);
        assert.equal((await a.touch(id, LONG, false))?.activity, 0);
        assert.equal((await b.touch(id, LONG, true))?.activity, 1);
        assert.equal((await a.touch(id, LONG, true))?.activity, 2);
        assert.equal((await b.get(id))?.activity, 2);
        assert.equal(await a.touch(sid(), LONG, true), undefined);
      });

      it('delete removes the record, its log and its memberships at once', async () => {
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

      it('setData round-trips JSON across nodes; unknown is false', async () => {
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

    describe('outbound log', () => {
      it('append assigns consecutive seqs across nodes and returns the frames', async () => {
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

      it('concurrent appends from both nodes never share a seq', async () => {
        const id = sid();
        await a.create(record(id), LONG);
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append(id, [text(`m${i}`)], roomy)));
        const got = results.flatMap((r) => (r.ok ? seqs(r.frames) : [])).sort((x, y) => x - y);
        assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1));
      });

      it('binary and text payloads come back byte-exact, sizes in bytes', async () => {
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

      it('append refuses the whole batch past either bound, and unknown sessions', async () => {
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

      it('read: after a seq, bounded by frames and bytes, at least one', async () => {
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

      it('ack trims, is clamped to outSeq and never goes back; unknown is false', async () => {
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

      it('appendClose: first caller wins across nodes, ignores the bounds, ends appends', async () => {
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

      it('appendClose without code or reason', async () => {
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

    describe('inbound', () => {
      it('acceptInbound: new, dup, gap, unknown — across nodes', async () => {
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

      it('the same seq offered on both nodes at once is new exactly once', async () => {
        const id = sid();
        await a.create(record(id), LONG);
        for (let seq = 1; seq <= 5; seq++) {
          const rs = await Promise.all([a.acceptInbound(id, seq), b.acceptInbound(id, seq)]);
          assert.deepEqual(rs.map((r) => r.status).sort(), ['dup', 'new']);
          assert.ok(rs.every((r) => r.ack === seq));
        }
      });
    });

    describe('inbound journal', () => {
      const journal = (): { node: NonNullable<StoreConformanceFixture['node']> } | undefined =>
        fx.node && b.replayInbound ? { node: fx.node.bind(fx) } : undefined;

      it('entries of a live owner are never returned and hold the next seq back; of a dead one, once, to one node', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        await a.create(record(id), LONG);
        const c = await j.node();
        assert.equal((await c.store.acceptInbound(id, 1, { data: 'one' })).status, 'new');
        // c is alive: its unconfirmed entry is left to it, and seq 2 waits so it is not emitted first.
        const live = await b.acceptInbound(id, 2, { data: 'two' });
        assert.equal(live.status, 'wait');
        assert.equal(live.ack, 1, 'seq 2 was not accepted');
        assert.equal(live.replay, undefined);
        assert.ok(live.recheckMs !== undefined && live.recheckMs > 0, 'told to look again later');
        assert.equal((await a.replayInbound!(id)).replay, undefined);
        await c.crash();
        // Dead owner: exactly one node takes the entry over.
        const [ra, rb] = await Promise.all([a.replayInbound!(id), b.replayInbound!(id)]);
        const got = [...(ra.replay ?? []), ...(rb.replay ?? [])];
        assert.deepEqual(got, [{ seq: 1, data: 'one' }]);
        const taker = ra.replay ? a : b;
        // The taker's own unconfirmed entry no longer holds anyone back once it confirms.
        taker.confirmInbound?.(id, 1);
        assert.equal((await a.replayInbound!(id)).replay, undefined);
        assert.equal((await b.replayInbound!(id)).replay, undefined);
        const next = await b.acceptInbound(id, 2, { data: 'two' });
        assert.equal(next.status, 'new');
        assert.equal(next.replay, undefined);
      });

      it('force accepts behind a live owner\'s entry (the caller\'s last resort)', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        await a.create(record(id), LONG);
        const c = await j.node();
        await c.store.acceptInbound(id, 1, { data: 'one' });
        assert.equal((await b.acceptInbound(id, 2, { data: 'two' })).status, 'wait');
        const forced = await b.acceptInbound(id, 2, { data: 'two' }, true);
        assert.equal(forced.status, 'new');
        assert.equal(forced.ack, 2);
        c.store.confirmInbound?.(id, 1);
        b.confirmInbound?.(id, 2);
      });

      it('binary entries come back as bytes; a close frame is not journaled', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        await a.create(record(id), LONG);
        const c = await j.node();
        await c.store.acceptInbound(id, 1, { data: new Uint8Array([0, 1, 255]) });
        await c.store.acceptInbound(id, 2);
        await c.crash();
        const r = await a.replayInbound!(id);
        assert.deepEqual(r.replay?.map((e) => [e.seq, Buffer.from(e.data as Uint8Array).toString('hex')]), [[1, '0001ff']]);
      });

      it('confirms piggyback on the next accept (no flush needed) and keep the journal bounded', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        await a.create(record(id), LONG);
        const c = await j.node();
        for (let seq = 1; seq <= 50; seq++) {
          const r = await c.store.acceptInbound(id, seq, { data: `m${seq}` });
          assert.equal(r.status, 'new');
          assert.equal(r.replay, undefined, 'nothing to redeliver in a normal burst');
          // Emitted: confirmed without a call of its own (the crash below drops any unsent confirm).
          if (seq < 50) c.store.confirmInbound!(id, seq);
        }
        await c.crash();
        // Only the one entry never confirmed is left: 1..49 went with the accepts that followed them.
        assert.deepEqual((await a.replayInbound!(id)).replay, [{ seq: 50, data: 'm50' }]);
      });

      it('a confirm with no accept after it is flushed on a short timer', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        await a.create(record(id), LONG);
        const c = await j.node();
        await c.store.acceptInbound(id, 1, { data: 'x' });
        c.store.confirmInbound!(id, 1);
        await new Promise((r) => setTimeout(r, 300));
        await c.crash();
        assert.equal((await a.replayInbound!(id)).replay, undefined);
      });

      it('a reply that never reached its node: the same node gets the entry back on its next call', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        await a.create(record(id), LONG);
        const c = await j.node();
        await c.store.acceptInbound(id, 1, { data: 'lost' }); // the caller "never saw" this reply
        const r = await c.store.acceptInbound(id, 1, { data: 'lost' }); // the client's retry
        assert.equal(r.status, 'dup');
        assert.deepEqual(r.replay, [{ seq: 1, data: 'lost' }]);
        c.store.confirmInbound!(id, 1);
        assert.equal((await c.store.acceptInbound(id, 2, { data: 'y' })).replay, undefined);
        c.store.confirmInbound!(id, 2);
        await c.store.close?.();
      });

      it('the journal goes with the session', async (t) => {
        const j = journal();
        if (!j) return t.skip('no inbound journal');
        const id = sid();
        const id2 = sid();
        await a.create(record(id), LONG);
        await a.create(record(id2), TTL);
        const c = await j.node();
        await c.store.acceptInbound(id, 1, { data: 'x' });
        await c.store.acceptInbound(id2, 1, { data: 'y' });
        await c.crash();
        await a.delete(id);
        await a.create(record(id), LONG);
        assert.equal((await b.replayInbound!(id)).replay, undefined, 'a deleted session leaves no journal');
        await until('the short session to expire', async () => (await b.get(id2)) === undefined);
        assert.equal((await b.replayInbound!(id2)).replay, undefined, 'an expired session leaves no journal');
        assert.equal((await b.acceptInbound(id2, 2, { data: 'z' })).status, 'unknown');
      });
    });

    describe('wake-ups', () => {
      it('publish on one node reaches subscribers on the other, in order', async () => {
        const id = sid();
        await a.create(record(id), LONG);
        const rec = await recorder(b, a, id);
        await a.publish(id, { type: 'pong' });
        await a.publish(id, { type: 'attach', owner: 'node-1:7' });
        await until('two events', () => rec.events.length >= 2);
        assert.deepEqual(rec.events.slice(0, 2), [{ type: 'pong' }, { type: 'attach', owner: 'node-1:7' }]);
        rec.stop();
      });

      it('append and appendClose publish an append event with the last seq', async () => {
        const id = sid();
        await a.create(record(id), LONG);
        const rec = await recorder(b, a, id);
        await a.append(id, [text('1'), text('2')], roomy);
        await until('an append event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 2));
        await a.appendClose(id, 'server', 1000, '');
        await until('the close event', () => rec.events.some((e) => e.type === 'append' && e.lastSeq === 3));
        rec.stop();
      });

      it('an unsubscribed listener hears nothing more; other listeners still do', async () => {
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

    describe('expiry', () => {
      it('a TTL that runs out reaches exactly one onExpired listener across nodes, with the last state', async () => {
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

      it('touch pushes the expiry back; a closed record expires too', async () => {
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

      it('delete is not an expiry', async () => {
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

    describe('rooms', () => {
      it('join, leave, rooms and members across nodes', async () => {
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

      it('appendEach appends one frame to each session, each bounded, and wakes each', async () => {
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

    describe('health', () => {
      it('status is up and onStatus returns an unsubscribe function', () => {
        assert.equal(a.status(), 'up');
        assert.equal(b.status(), 'up');
        const off = a.onStatus(() => {});
        assert.equal(typeof off, 'function');
        off();
      });
    });
  });
}
