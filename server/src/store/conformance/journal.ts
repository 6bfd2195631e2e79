/** Conformance suite: the inbound journal (stores with `replayInbound`), which redelivers what a dead node accepted. */
import assert from 'node:assert/strict';
import type { Store } from '../store.js';
import { TTL, LONG, sid, record, until, type Handles, type Kit, type StoreConformanceFixture } from './kit.js';

export function inboundJournalSuite(t: Kit, h: Handles): void {
  (t.options.inboundJournal ? t.describe : t.describe.skip)('inbound journal', () => {
    let a: Store;
    let b: Store;
    let fx: StoreConformanceFixture;
    t.beforeAll(() => {
      ({ a, b, fx } = h);
    });

    const journal = (): { node: NonNullable<StoreConformanceFixture['node']> } => {
      assert.ok(fx.node && b.replayInbound, 'inboundJournal: true needs fixture.node() and store.replayInbound');
      return { node: fx.node.bind(fx) };
    };

    t.it('entries of a live owner are never returned and hold the next seq back; of a dead one, once, to one node', async () => {
      const j = journal();
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

    t.it('force accepts behind a live owner\'s entry (the caller\'s last resort)', async () => {
      const j = journal();
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

    t.it('binary entries come back as bytes; a close frame is not journaled', async () => {
      const j = journal();
      const id = sid();
      await a.create(record(id), LONG);
      const c = await j.node();
      await c.store.acceptInbound(id, 1, { data: new Uint8Array([0, 1, 255]) });
      await c.store.acceptInbound(id, 2);
      await c.crash();
      const r = await a.replayInbound!(id);
      assert.deepEqual(r.replay?.map((e) => [e.seq, Buffer.from(e.data as Uint8Array).toString('hex')]), [[1, '0001ff']]);
    });

    t.it('confirms piggyback on the next accept (no flush needed) and keep the journal bounded', async () => {
      const j = journal();
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

    t.it('a confirm with no accept after it is flushed on a short timer', async () => {
      const j = journal();
      const id = sid();
      await a.create(record(id), LONG);
      const c = await j.node();
      await c.store.acceptInbound(id, 1, { data: 'x' });
      c.store.confirmInbound!(id, 1);
      await new Promise((r) => setTimeout(r, 300));
      await c.crash();
      assert.equal((await a.replayInbound!(id)).replay, undefined);
    });

    t.it('a reply that never reached its node: the same node gets the entry back on its next call', async () => {
      const j = journal();
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

    t.it('acceptInboundBatch (when the store has it): judged like single accepts, journaled, taken over once', async () => {
      const j = journal();
      const batch = b.acceptInboundBatch?.bind(b);
      if (!batch) return; // optional: the session core accepts one frame at a time instead
      const id = sid();
      await a.create(record(id), LONG);
      const c = await j.node();
      const f = (seq: number) => ({ seq, data: `m${seq}` });
      assert.deepEqual(await c.store.acceptInboundBatch!(id, [f(1), f(2), f(3)]), { statuses: ['new', 'new', 'new'], ack: 3 });
      // c is alive and 1..3 are unconfirmed: the next frame waits and nothing of the batch is taken.
      const waiting = await batch(id, [f(4), f(5)]);
      assert.deepEqual(waiting.statuses, ['wait']);
      assert.equal(waiting.ack, 3);
      c.store.confirmInbound!(id, 2);
      await c.crash();
      // c died with 1..3 unconfirmed (its confirm never left it): as acceptInbound would, the batch
      // waits at the next new seq and hands the caller the dead node's entries, taken over, in order.
      const r = await batch(id, [f(2), f(4), f(5)]);
      assert.deepEqual(r.statuses, ['dup', 'wait']);
      assert.equal(r.ack, 3);
      assert.deepEqual(r.replay, [f(1), f(2), f(3)]);
      assert.equal((await a.replayInbound!(id)).replay, undefined, 'taken over exactly once');
      // Redelivered and confirmed: the run goes on, and stops at a gap.
      b.confirmInbound?.(id, 3);
      const next = await batch(id, [f(4), f(5), f(7), f(8)]);
      assert.deepEqual(next.statuses, ['new', 'new', 'gap']);
      assert.equal(next.ack, 5);
      assert.equal(next.replay, undefined);
      b.confirmInbound?.(id, 5);
      assert.deepEqual(await batch(sid(), [f(1)]), { statuses: ['unknown'], ack: 0 });
    });

    t.it('the journal goes with the session', async () => {
      const j = journal();
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
}
