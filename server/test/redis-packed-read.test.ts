/**
 * `burrowRead` answers with the entries packed (one lengths string, one blob) rather than a bulk
 * reply per entry (issue #14). What could break: the lengths and the blob falling out of step (a
 * multi-byte text, an empty one, a binary one with bytes that look like separators, a close), the
 * first seq after a trim or from before the log's head, and the byte and frame caps. Runs on the
 * machine's Redis (127.0.0.1:6379) under a prefix of its own, removed afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStore } from '../src/store/redis/index.js';
import { EntryPack, decodePacked } from '../src/store/redis/codec.js';
import type { SessionRecord } from '../src/store/store.js';

const URL = 'redis://127.0.0.1:6379';
const LONG = 60_000;
const roomy = { maxBufferedMessages: 100, maxBufferedBytes: 1 << 20 };

function record(id: string): SessionRecord {
  return { id, tokenHash: 'ab'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 };
}

describe('decodePacked', () => {
  it('decodes what EntryPack packs, frame for frame, with consecutive seqs', () => {
    const bin = Uint8Array.from([0x20, 0x31, 0x00, 0xff, 0x63]);
    const pack = new EntryPack();
    const items: (string | Uint8Array)[] = ['héllo 🐇', '', bin, 'x'.repeat(300), '"q" \\ \n'];
    for (const d of items) pack.add(d, typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength);
    const frames = decodePacked(7, Buffer.from(pack.lengths), pack.blob());
    assert.deepEqual(
      frames.map((f) => [f.frame.seq, f.frame.t === 'd' ? f.frame.data : undefined, f.size]),
      items.map((d, i) => [7 + i, d, typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength]),
    );
  });

  it('a binary frame is a copy, not a view that pins the whole reply', () => {
    const pack = new EntryPack();
    pack.add(Uint8Array.from([1, 2, 3]), 3);
    const blob = pack.blob();
    const [f] = decodePacked(1, Buffer.from(pack.lengths), blob);
    assert.ok(f && f.frame.t === 'd' && f.frame.data instanceof Uint8Array);
    assert.notEqual(f.frame.data.buffer, blob.buffer);
  });

  it('lengths that do not add up to the blob are refused, not decoded shifted', () => {
    const blob = Buffer.from('tabtcd');
    for (const lengths of ['3 2', '3 4', '3 3 1', '', '3  3', '0 6', '3,3', ' 3 3']) {
      assert.throws(() => decodePacked(1, Buffer.from(lengths), blob), /garbled/, lengths);
    }
    assert.equal(decodePacked(1, Buffer.from('3 3'), blob).length, 2);
  });
});

describe('RedisStore.read: the packed reply', { timeout: 20_000 }, () => {
  const prefix = `burrow-test-packed-${randomBytes(6).toString('hex')}`;
  let store: RedisStore;
  let admin: Redis;
  beforeAll(async () => {
    store = new RedisStore({ redis: URL, prefix, sweepIntervalMs: 0 });
    admin = new Redis(URL);
    await store.ready();
  });
  afterAll(async () => {
    await store.close();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  async function session(): Promise<string> {
    const id = randomBytes(12).toString('base64url');
    await store.create(record(id), LONG);
    return id;
  }

  it('text (multi-byte, empty), binary and a close read back in order with their seqs and sizes', async () => {
    const id = await session();
    const bin = Uint8Array.from([0x20, 0x0a, 0x00, 0x74]);
    assert.ok((await store.append(id, [{ t: 'd', data: 'ünï 🐇' }, { t: 'd', data: '' }, { t: 'd', data: bin }], roomy)).ok);
    assert.equal((await store.appendClose(id, 'server', 4001, 'bye')).ok, true);
    const frames = await store.read(id, 0, 10, 1 << 20);
    assert.deepEqual(
      frames.map((f) => [f.frame, f.size]),
      [
        [{ t: 'd', seq: 1, data: 'ünï 🐇' }, Buffer.byteLength('ünï 🐇')],
        [{ t: 'd', seq: 2, data: '' }, 0],
        [{ t: 'd', seq: 3, data: bin }, 4],
        [{ t: 'close', seq: 4, code: 4001, reason: 'bye' }, 0],
      ],
    );
  });

  it('after a trim, and from a seq before the head of the log: the first seq is the head', async () => {
    const id = await session();
    assert.ok((await store.append(id, ['a', 'b', 'c', 'd', 'e'].map((data) => ({ t: 'd' as const, data })), roomy)).ok);
    assert.equal(await store.ack(id, 2), true);
    const seqs = async (after: number, max = 10) => (await store.read(id, after, max, 1 << 20)).map((f) => [f.frame.seq, f.frame.t === 'd' && f.frame.data]);
    assert.deepEqual(await seqs(0), [[3, 'c'], [4, 'd'], [5, 'e']], 'acked frames are gone; the read starts at the head');
    assert.deepEqual(await seqs(3), [[4, 'd'], [5, 'e']]);
    assert.deepEqual(await seqs(3, 1), [[4, 'd']], 'maxFrames');
    assert.deepEqual(await seqs(5), [], 'nothing after the tail');
  });

  it('stops before the frame that would pass maxBytes, but returns at least one', async () => {
    const id = await session();
    assert.ok((await store.append(id, ['aaaa', 'bbbb', 'cc'].map((data) => ({ t: 'd' as const, data })), roomy)).ok);
    const datas = async (after: number, maxBytes: number) => (await store.read(id, after, 10, maxBytes)).map((f) => f.frame.t === 'd' && f.frame.data);
    assert.deepEqual(await datas(0, 9), ['aaaa', 'bbbb']);
    assert.deepEqual(await datas(0, 8), ['aaaa', 'bbbb']);
    assert.deepEqual(await datas(0, 1), ['aaaa'], 'one frame even past the cap');
    assert.deepEqual(await datas(1, 6), ['bbbb', 'cc']);
  });

  it('an unknown session reads nothing', async () => {
    assert.deepEqual(await store.read('no-such-session', 0, 10, 100), []);
  });
});
