import assert from 'node:assert/strict';
import { test } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import type { SessionRecord, WakeEvent } from '../src/store/store.js';

const limits = { maxBufferedMessages: 3, maxBufferedBytes: 100 };

function record(id = 'AAAAAAAAAAAAAAAAAAAAAA'): SessionRecord {
  return { id, tokenHash: 'ab', protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 };
}

test('append assigns consecutive seqs; read, ack and the buffer bounds', async () => {
  const s = new MemoryStore();
  await s.create(record(), 60000);
  const a = await s.append('AAAAAAAAAAAAAAAAAAAAAA', [{ t: 'd', data: 'a' }, { t: 'd', data: 'b' }], limits);
  assert.ok(a.ok);
  assert.deepEqual(a.frames.map((f) => f.frame.seq), [1, 2]);
  assert.deepEqual((await s.read('AAAAAAAAAAAAAAAAAAAAAA', 0, 10, 1000)).map((f) => f.frame.seq), [1, 2]);
  assert.deepEqual((await s.read('AAAAAAAAAAAAAAAAAAAAAA', 1, 10, 1000)).map((f) => f.frame.seq), [2]);
  // Two more would pass maxBufferedMessages: refused whole.
  assert.deepEqual(await s.append('AAAAAAAAAAAAAAAAAAAAAA', [{ t: 'd', data: 'c' }, { t: 'd', data: 'd' }], limits), { ok: false, reason: 'overflow' });
  // An ack beyond what was sent trims only what exists, and frames appended later survive it.
  await s.ack('AAAAAAAAAAAAAAAAAAAAAA', 99);
  assert.equal((await s.get('AAAAAAAAAAAAAAAAAAAAAA'))!.outAck, 2);
  const c = await s.append('AAAAAAAAAAAAAAAAAAAAAA', [{ t: 'd', data: 'c' }], limits);
  assert.ok(c.ok);
  assert.equal(c.frames[0]!.frame.seq, 3);
  assert.deepEqual((await s.read('AAAAAAAAAAAAAAAAAAAAAA', 0, 10, 1000)).map((f) => f.frame.seq), [3]);
  // Bytes bound, and at least one frame per read even past maxBytes.
  assert.deepEqual(await s.append('AAAAAAAAAAAAAAAAAAAAAA', [{ t: 'd', data: 'x'.repeat(100) }], limits), { ok: false, reason: 'overflow' });
  assert.equal((await s.read('AAAAAAAAAAAAAAAAAAAAAA', 0, 10, 0)).length, 1);
  await s.close();
});

test('acceptInbound: new, dup, gap, unknown', async () => {
  const s = new MemoryStore();
  await s.create(record(), 60000);
  const id = 'AAAAAAAAAAAAAAAAAAAAAA';
  assert.deepEqual(await s.acceptInbound(id, 1), { status: 'new', ack: 1 });
  assert.deepEqual(await s.acceptInbound(id, 1), { status: 'dup', ack: 1 });
  assert.deepEqual(await s.acceptInbound(id, 3), { status: 'gap', ack: 1 });
  assert.deepEqual(await s.acceptInbound(id, 2), { status: 'new', ack: 2 });
  assert.equal((await s.acceptInbound('__proto__', 1)).status, 'unknown');
  await s.close();
});

test('appendClose is first once and ignores the buffer bounds; data after it is refused', async () => {
  const s = new MemoryStore();
  const id = 'AAAAAAAAAAAAAAAAAAAAAA';
  await s.create(record(), 60000);
  const a = await s.appendClose(id, 'server', 4000, 'x');
  assert.ok(a.ok && a.first);
  assert.equal(a.frame!.frame.seq, 1);
  const b = await s.appendClose(id, 'client', 4000, 'x');
  assert.ok(b.ok && !b.first);
  assert.deepEqual(await s.append(id, [{ t: 'd', data: 'late' }], limits), { ok: false, reason: 'closed' });
  await s.close();
});

test('wake-ups are coalesced and delivered after the append returns; expiry reaches one listener', async () => {
  const s = new MemoryStore();
  const id = 'AAAAAAAAAAAAAAAAAAAAAA';
  await s.create(record(), 60000);
  const events: WakeEvent[] = [];
  let done!: () => void;
  const delivered = new Promise<void>((r) => (done = r));
  s.subscribe(id, (e) => {
    events.push(e);
    done();
  });
  await s.append(id, [{ t: 'd', data: 'a' }], limits);
  await s.append(id, [{ t: 'd', data: 'b' }], limits);
  assert.equal(events.length, 0);
  await delivered;
  assert.deepEqual(events, [{ type: 'append', lastSeq: 2 }]);

  const expired: string[] = [];
  let onExpired!: () => void;
  const gone = new Promise<void>((r) => (onExpired = r));
  s.onExpired((r) => {
    expired.push(`first:${r.id}`);
    onExpired();
  });
  s.onExpired((r) => expired.push(`second:${r.id}`));
  await s.touch(id, 1, false);
  // Store timers are unref()'d; keep the loop alive while we wait for the expiry itself.
  const keepAlive = setInterval(() => {}, 1000);
  await gone;
  clearInterval(keepAlive);
  assert.deepEqual(expired, [`first:${id}`]);
  assert.equal(await s.get(id), undefined);
  await s.close();
});

test('an append does not wake the core that made it: on a single node an append schedules nothing', async () => {
  const s = new MemoryStore();
  const id = 'AAAAAAAAAAAAAAAAAAAAAA';
  await s.create(record(id), 60000);
  const own: WakeEvent[] = [];
  const other: WakeEvent[] = [];
  const mine = (e: WakeEvent): void => void own.push(e);
  s.subscribe(id, mine);
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

  // Alone: the origin is the only listener, so nothing is queued at all.
  assert.ok(s.sync.appendSync(id, [{ t: 'd', data: 'a' }], limits, mine).ok);
  s.sync.publishSync(id, { type: 'attach', owner: 'n:1' }, mine);
  await turn();
  assert.deepEqual(own, []);

  // Another node's core listens too: it hears the append, the origin still does not.
  s.subscribe(id, (e) => void other.push(e));
  assert.ok(s.sync.appendSync(id, [{ t: 'd', data: 'b' }], limits, mine).ok);
  await turn();
  assert.deepEqual(own, []);
  assert.deepEqual(other, [{ type: 'append', lastSeq: 2 }]);

  // Appends from elsewhere in the same turn (no origin, or another one) wake everybody, coalesced.
  other.length = 0;
  assert.ok(s.sync.appendSync(id, [{ t: 'd', data: 'c' }], limits, mine).ok);
  assert.ok((await s.append(id, [{ t: 'd', data: 'd' }], { maxBufferedMessages: 10, maxBufferedBytes: 100 })).ok);
  await turn();
  assert.deepEqual(own, [{ type: 'append', lastSeq: 4 }]);
  assert.deepEqual(other, [{ type: 'append', lastSeq: 4 }]);
  await s.close();
});

test('the synchronous twins answer like the async calls (Store.sync)', async () => {
  const s = new MemoryStore();
  const id = 'AAAAAAAAAAAAAAAAAAAAAA';
  await s.create(record(id), 60000);
  assert.deepEqual(s.sync.acceptInboundSync(id, 1), { status: 'new', ack: 1 });
  assert.deepEqual(s.sync.acceptInboundSync(id, 3), { status: 'gap', ack: 1 });
  assert.deepEqual(s.sync.acceptInboundSync('__proto__', 1), { status: 'unknown', ack: 0 });
  assert.ok(s.sync.appendSync(id, [{ t: 'd', data: 'a' }, { t: 'd', data: 'b' }], limits).ok);
  assert.deepEqual(s.sync.readSync(id, 1, 10, 1000).map((f) => f.frame.seq), [2]);
  assert.equal(s.sync.ackSync(id, 1), true);
  assert.equal(s.sync.ackSync('__proto__', 1), false);
  const touched = s.sync.touchSync(id, 60000, true)!;
  assert.equal(touched.activity, 1);
  // touch hands out a copy; peek the live record, which the copy does not alias.
  assert.notEqual(touched, s.sync.peekSync(id));
  assert.equal(s.sync.peekSync(id)!.outAck, 1);
  assert.deepEqual(await s.get(id), s.sync.peekSync(id));
  await s.close();
});

test('subscribeSync / unsubscribeSync: a listener without an unsubscribe closure, heard like subscribe', async () => {
  const s = new MemoryStore();
  const id = 'AAAAAAAAAAAAAAAAAAAAAA';
  await s.create(record(id), 60000);
  const heard: string[] = [];
  const one = (e: WakeEvent): void => void heard.push(`one:${e.type}`);
  const two = (e: WakeEvent): void => void heard.push(`two:${e.type}`);
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  s.sync.subscribeSync(id, one);
  s.sync.subscribeSync(id, one);
  const off = s.subscribe(id, two);
  await s.publish(id, { type: 'pong' });
  await turn();
  // Subscribing the same listener twice is one subscription, as with a Set.
  assert.deepEqual(heard, ['one:pong', 'two:pong']);
  s.sync.unsubscribeSync(id, one);
  await s.publish(id, { type: 'pong' });
  await turn();
  assert.deepEqual(heard, ['one:pong', 'two:pong', 'two:pong']);
  off();
  await s.publish(id, { type: 'pong' });
  await turn();
  assert.equal(heard.length, 3);
  // Unknown sessions are no-ops, as subscribe's are.
  s.sync.subscribeSync('__proto__', one);
  s.sync.unsubscribeSync('__proto__', one);
  await s.close();
});

test('a touch with another TTL moves the record to that expiry; a delete leaves no expiry behind', async () => {
  const s = new MemoryStore();
  const a = 'AAAAAAAAAAAAAAAAAAAAAA';
  const b = 'BBBBBBBBBBBBBBBBBBBBBB';
  await s.create(record(a), 60000);
  await s.create(record(b), 60000);
  const expired: string[] = [];
  let onExpired!: () => void;
  const gone = new Promise<void>((r) => (onExpired = r));
  s.onExpired((r) => {
    expired.push(r.id);
    onExpired();
  });
  await s.touch(a, 60000, false);
  await s.touch(b, 5, false);
  await s.touch(a, 5, false);
  await s.delete(a);
  const keepAlive = setInterval(() => {}, 1000);
  await gone;
  clearInterval(keepAlive);
  assert.deepEqual(expired, [b]);
  assert.equal(await s.get(b), undefined);
  await s.close();
});

test('create keeps a copy of its own, with the optional fields a record has and none it lacks', async () => {
  const s = new MemoryStore();
  const plain = record('AAAAAAAAAAAAAAAAAAAAAA');
  const full: SessionRecord = { ...record('BBBBBBBBBBBBBBBBBBBBBB'), protocol: 'chat', data: { n: 1 }, user: { name: 'u' }, raced: true, inAck: 4, outSeq: 5, outAck: 3, activity: 2 };
  await s.create(plain, 60000);
  await s.create(full, 60000);
  (plain as { inAck: number }).inAck = 9;
  assert.deepEqual(await s.get(plain.id), { ...record('AAAAAAAAAAAAAAAAAAAAAA') });
  assert.deepEqual(Object.keys((await s.get(plain.id))!).sort(), Object.keys(record()).sort());
  assert.deepEqual(await s.get(full.id), full);
  await s.close();
});
