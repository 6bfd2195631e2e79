/** Conformance suite: inbound acceptance (seqs, gaps, duplicates, the inbound ack). */
import assert from 'node:assert/strict';
import type { Store, AppendLimits } from '../store.js';
import { LONG, sid, record, text, seqs, type Handles, type Kit } from './kit.js';

/** A log entry as the contract defines it (a store may add cached encodings). */
const entry = (f: { frame: unknown; size: number }): [unknown, number] => [f.frame, f.size];

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

    t.it('the sync twins (when the store has them) answer exactly as the async calls', async () => {
      const sync = a.sync;
      if (!sync) return; // optional: a networked store has none
      // The same calls on two sessions, one through each side; every answer is compared.
      const viaAsync = sid();
      const viaSync = sid();
      const limits: AppendLimits = { maxBufferedMessages: 4, maxBufferedBytes: 12 };
      await a.create(record(viaAsync), LONG);
      sync.createSync(record(viaSync), LONG);
      assert.throws(() => sync.createSync(record(viaSync), LONG));
      const strip = (v: unknown): unknown =>
        Array.isArray(v)
          ? v.map(strip)
          : v && typeof v === 'object' && 'frame' in v && 'size' in v
            ? entry(v as { frame: unknown; size: number })
            : v && typeof v === 'object' && 'frames' in v
              ? { ...v, frames: strip((v as { frames: unknown }).frames) }
              : v;
      const norm = (id: string, v: unknown): unknown => JSON.parse(JSON.stringify(strip(v) ?? null).split(id).join('<sid>'));
      const steps: [string, (id: string) => Promise<unknown>, (id: string) => unknown][] = [];
      const step = (name: string, async: (id: string) => Promise<unknown>, twin: (id: string) => unknown) => steps.push([name, async, twin]);
      for (const seq of [1, 1, 3, 2, 0, 4, 3, 6, 5]) {
        step(`acceptInbound ${seq}`, (id) => a.acceptInbound(id, seq), (id) => sync.acceptInboundSync(id, seq));
      }
      const batches = [['ab', 'cd'], ['efghijkl'], ['e'], ['fg', 'hi'], ['j'], ['k'], ['l', 'm'], ['\u{1F994}']];
      batches.forEach((batch, i) => {
        step(`append ${i}`, (id) => a.append(id, batch.map((d) => text(d)), limits), (id) => sync.appendSync(id, batch.map((d) => text(d)), limits));
        for (const [after, max, bytes] of [[0, 100, 1000], [1, 2, 1000], [0, 100, 3], [2, 100, 0], [99, 10, 10]] as const) {
          step(`read ${i} ${after} ${max} ${bytes}`, (id) => a.read(id, after, max, bytes), (id) => sync.readSync(id, after, max, bytes));
        }
        if (i % 2 === 1) {
          const ack = i + 1;
          step(`ack ${ack}`, (id) => a.ack(id, ack), (id) => sync.ackSync(id, ack));
        }
      });
      step('ack past outSeq', (id) => a.ack(id, 1000), (id) => sync.ackSync(id, 1000));
      step('ack lower', (id) => a.ack(id, 1), (id) => sync.ackSync(id, 1));
      step('append after', (id) => a.append(id, [text('n'), text('o')], limits), (id) => sync.appendSync(id, [text('n'), text('o')], limits));
      step('read after', (id) => a.read(id, 0, 100, 1000), (id) => sync.readSync(id, 0, 100, 1000));
      step('touch', (id) => a.touch(id, LONG, true), (id) => sync.touchSync(id, LONG, true));
      step('touch, no activity', (id) => a.touch(id, LONG, false), (id) => sync.touchSync(id, LONG, false));
      step('get', (id) => a.get(id), (id) => ({ ...sync.peekSync(id)! }));
      for (const [name, async, twin] of steps) {
        assert.deepEqual(norm(viaSync, twin(viaSync)), norm(viaAsync, await async(viaAsync)), name);
      }
      // Unknown sessions alike.
      const unknown = sid();
      assert.deepEqual(sync.acceptInboundSync(unknown, 1), await a.acceptInbound(unknown, 1));
      assert.deepEqual(sync.appendSync(unknown, [text('x')], limits), await a.append(unknown, [text('x')], limits));
      assert.deepEqual(sync.readSync(unknown, 0, 10, 10), await a.read(unknown, 0, 10, 10));
      assert.equal(sync.ackSync(unknown, 1), await a.ack(unknown, 1));
      assert.equal(sync.touchSync(unknown, LONG, true), await a.touch(unknown, LONG, true));
      assert.equal(sync.peekSync(unknown), await a.get(unknown));
      // And either side's writes are the other's to read.
      assert.deepEqual(norm(viaSync, await a.read(viaSync, 0, 100, 1000)), norm(viaAsync, sync.readSync(viaAsync, 0, 100, 1000)));
      assert.deepEqual(norm(viaSync, await a.get(viaSync)), norm(viaAsync, { ...sync.peekSync(viaAsync)! }));
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
