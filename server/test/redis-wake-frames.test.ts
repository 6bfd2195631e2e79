/**
 * An append of a few text frames carries them in its wake-up (RedisStore `wakeFramesMaxBytes`, issue
 * #14), so the node holding the downstream writes them without reading the log. What could break:
 * the carried frames differing from the log's (seqs, escaping, sizes), frames carried that must not
 * be (binary, over the bound, none appended), and the pump writing carried frames out of line or twice.
 * Runs on the machine's Redis (127.0.0.1:6379) under a prefix of its own, removed afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { RedisStore, RedisStoreOptions } from '../src/store/redis/index.js';
import { redisStores } from './redis-fixture.js';
import type { NewFrame, OutboundFrame, SessionRecord, WakeEvent } from '../src/store/store.js';
import { OutboundPump } from '../src/session/pump.js';
import { parseWake } from '../src/store/redis/wake-message.js';
import { settings } from '../src/store/redis/options.js';
import type { Downstream, SessionHost } from '../src/session/types.js';

const redis = redisStores('burrow-wake');
const LONG = 60_000;
const roomy = { maxBufferedMessages: 100, maxBufferedBytes: 1 << 20 };
const text = (data: string): NewFrame => ({ t: 'd', data });

function record(id: string): SessionRecord {
  return { id, tokenHash: 'ab'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 };
}

const store = (options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> => redis.store(options);

/** A session on `on`, and the `append` wakes `on` hears of it (the subscription proven effective first). */
async function listen(on: RedisStore): Promise<{ id: string; next: () => Promise<Extract<WakeEvent, { type: 'append' }>> }> {
  const id = randomBytes(12).toString('base64url');
  await on.create(record(id), LONG);
  const queue: Extract<WakeEvent, { type: 'append' }>[] = [];
  let wakeUp: () => void = () => {};
  let subscribed = false;
  on.subscribe(id, (ev) => {
    if (ev.type === 'attach') subscribed = true;
    else if (ev.type === 'append' && ev.lastSeq !== Number.MAX_SAFE_INTEGER) {
      queue.push(ev);
      wakeUp();
    }
  });
  while (!subscribed) await on.publish(id, { type: 'attach', owner: 'probe' });
  return {
    id,
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (wakeUp = r));
      return queue.shift()!;
    },
  };
}

describe('RedisStore: frames carried in the wake', { timeout: 20_000 }, () => {
  let a: RedisStore;
  let b: RedisStore;
  beforeAll(async () => {
    [a, b] = await Promise.all([store(), store()]);
  });
  afterAll(() => redis.cleanup());

  it("another node's append of text frames wakes the listener with the frames a read returns", async () => {
    const { id, next } = await listen(b);
    const texts = ['plain', 'ünï 🐇', '', '"quoted" \\ back/slash', 'ctl \u0000\u0001\n\t end', '\u2028\u2029'];
    const rs = await Promise.all([a.append(id, texts.slice(0, 2).map(text), roomy), a.append(id, texts.slice(2).map(text), roomy)]);
    assert.ok(rs.every((r) => r.ok));
    const ev = await next();
    const read = await b.read(id, 0, 100, 1 << 20);
    assert.equal(ev.lastSeq, 6);
    assert.deepEqual(ev.frames, read);
    assert.deepEqual(
      ev.frames?.map((f) => (f.frame.t === 'd' ? f.frame.data : null)),
      texts,
    );
  });

  it('carries only what the group appended: a refused append in the middle leaves no gap', async () => {
    const { id, next } = await listen(b);
    const limits = { maxBufferedMessages: 3, maxBufferedBytes: 1 << 20 };
    const rs = await Promise.all([a.append(id, [text('one')], limits), a.append(id, [text('x'), text('y'), text('z')], limits), a.append(id, [text('two')], limits)]);
    assert.deepEqual(rs.map((r) => r.ok), [true, false, true]);
    const ev = await next();
    assert.deepEqual(ev.frames?.map((f) => [f.frame.seq, f.frame.t === 'd' && f.frame.data]), [[1, 'one'], [2, 'two']]);
  });

  it('a binary frame, an append past the bound, and a store with the bound at 0 wake with the seq only', async () => {
    const small = await store({ wakeFramesMaxBytes: 8 });
    const off = await store({ wakeFramesMaxBytes: 0 });
    const { id, next } = await listen(b);
    await a.append(id, [text('t'), { t: 'd', data: Uint8Array.from([0xff, 0x00]) }], roomy);
    assert.deepEqual(await next(), { type: 'append', lastSeq: 2 });
    // 't' + 7 bytes = 8: carried; 't' + 8 = 9: not.
    await small.append(id, [text('1234567')], roomy);
    assert.equal((await next()).frames?.length, 1);
    await small.append(id, [text('12345678')], roomy);
    assert.deepEqual(await next(), { type: 'append', lastSeq: 4 });
    await off.append(id, [text('x')], roomy);
    assert.deepEqual(await next(), { type: 'append', lastSeq: 5 });
  });

  it('a broadcast (appendEach) wakes with the seq only: N copies of one message pushed at once could overrun a busy subscriber', async () => {
    const one = await listen(b);
    const two = await listen(b);
    const res = await a.appendEach([one.id, two.id], text('to all'), roomy);
    assert.ok([...res.values()].every((r) => r.ok));
    assert.deepEqual(await one.next(), { type: 'append', lastSeq: 1 });
    assert.deepEqual(await two.next(), { type: 'append', lastSeq: 1 });
  });

  it("one turn's wakes carry at most 4 × wakeFramesMaxBytes in all; the sessions past it wake with the seq only", async () => {
    // Each append is 't' + 99 bytes = 100 in the log's encoding: four fit the turn's 400, the rest do not.
    const capped = await store({ wakeFramesMaxBytes: 100 });
    const listeners = await Promise.all(Array.from({ length: 6 }, () => listen(b)));
    const rs = await Promise.all(listeners.map((l) => capped.append(l.id, [text('x'.repeat(99))], roomy)));
    assert.ok(rs.every((r) => r.ok));
    const events = await Promise.all(listeners.map((l) => l.next()));
    assert.deepEqual(
      events.map((ev) => ev.frames?.length ?? 0),
      [1, 1, 1, 1, 0, 0],
    );
  });
});

describe('wakeFramesMaxBytes', () => {
  it('is clamped to 1 MiB, and 0 or less turns it off', () => {
    assert.equal(settings({ wakeFramesMaxBytes: 1e9 }).wakeFramesMaxBytes, String(1 << 20));
    assert.equal(settings({ wakeFramesMaxBytes: -5 }).wakeFramesMaxBytes, '0');
    assert.equal(settings({}).wakeFramesMaxBytes, '16384');
  });
});

describe('parseWake', () => {
  const framesOf = (m: string) => {
    const ev = parseWake(m);
    return ev?.type === 'append' ? [ev.lastSeq, ev.frames?.map((f) => [f.frame.seq, f.frame.t === 'd' && f.frame.data, f.size])] : ev;
  };

  it("reads the scripts' append wakes by their head, and their frames when asked", () => {
    assert.deepEqual(framesOf('{"type":"append","lastSeq":12}'), [12, undefined]);
    assert.deepEqual(framesOf('{"type":"append","lastSeq":3,"first":2,"texts":["tab","t\\u00fc\\/x"]}'), [3, [[2, 'ab', 2], [3, 'ü/x', 4]]]);
  });

  it('carried frames that do not end at lastSeq, are not text entries, or are not JSON: none (the listener reads)', () => {
    for (const m of [
      '{"type":"append","lastSeq":4,"first":2,"texts":["ta"]}',
      '{"type":"append","lastSeq":2,"first":2,"texts":["ba"]}',
      '{"type":"append","lastSeq":2,"first":2,"texts":[]}',
      '{"type":"append","lastSeq":2,"first":2,"texts":["ta"',
    ]) assert.deepEqual(framesOf(m), [Number(/lastSeq":(\d+)/.exec(m)?.[1]), undefined], m);
  });

  it('anything else is parsed as JSON as before; garbage is no event', () => {
    assert.deepEqual(parseWake('{"lastSeq":5,"type":"append"}'), { type: 'append', lastSeq: 5 });
    assert.deepEqual(parseWake('{"type":"attach","owner":"n1"}'), { type: 'attach', owner: 'n1' });
    assert.deepEqual(parseWake('{"type":"pong"}'), { type: 'pong' });
    for (const m of ['{"type":"append","lastSeq":}', '{"type":"append","lastSeq":1x}', 'nope']) {
      assert.equal(parseWake(m), undefined, m);
    }
  });
});

/** A pump over a fake log: records what it writes to the downstream and what it reads. */
class TestPump extends OutboundPump {
  readonly id = 's';
  readonly written_: number[] = [];
  readonly reads: number[] = [];
  readonly host: SessionHost;
  readonly downstream: Downstream;
  constructor(log: readonly OutboundFrame[]) {
    super();
    const reads = this.reads;
    this.host = {
      store: {
        read: async (_sid: string, after: number) => {
          reads.push(after);
          return log.filter((f) => f.frame.seq > after);
        },
      },
    } as unknown as SessionHost;
    const out = this.written_;
    this.downstream = { transport: 'sse', batchFrames: 100, batchBytes: 1 << 20, write: (fs: readonly OutboundFrame[]) => out.push(...fs.map((f) => f.frame.seq)) } as unknown as Downstream;
  }
  transportFailed(): void {}
  written(): void {}
  start(ack: number, outSeq: number): void {
    this.restartPump(ack, outSeq);
  }
  woken(lastSeq: number, frames?: readonly OutboundFrame[]): void {
    this.pumpWoken({ lastSeq, frames });
  }
  wokenBy(ev: { readonly lastSeq: number; readonly frames?: readonly OutboundFrame[] }): void {
    this.pumpWoken(ev);
  }
}

const frame = (seq: number): OutboundFrame => ({ frame: { t: 'd', seq, data: `m${seq}` }, size: 2 });
const settle = () => new Promise((r) => setImmediate(r));

describe('OutboundPump: a wake that carries frames', () => {
  it('next in line: written as they are, no read', async () => {
    const p = new TestPump([1, 2, 3].map(frame));
    p.start(1, 1);
    p.woken(3, [frame(2), frame(3)]);
    await settle();
    assert.deepEqual([p.written_, p.reads], [[2, 3], []]);
  });

  it('overlapping what the downstream had: only the rest is written', async () => {
    const p = new TestPump([1, 2, 3].map(frame));
    p.start(2, 2);
    p.woken(3, [frame(1), frame(2), frame(3)]);
    await settle();
    assert.deepEqual([p.written_, p.reads], [[3], []]);
  });

  it('after a gap (frames the downstream has not had come before them): read from the log, each once', async () => {
    const p = new TestPump([1, 2, 3, 4].map(frame));
    p.start(1, 1);
    p.woken(4, [frame(4)]);
    await settle();
    assert.deepEqual([p.written_, p.reads], [[2, 3, 4], [1]]);
  });

  it("a stale wake (our own append's reply came first) does not ask for its frames: a networked store parses them on first use", async () => {
    const p = new TestPump([1, 2].map(frame));
    p.start(2, 2);
    let asked = 0;
    p.wokenBy({
      lastSeq: 2,
      get frames() {
        asked++;
        return [frame(2)];
      },
    });
    await settle();
    assert.deepEqual([asked, p.written_, p.reads], [0, [], []]);
  });

  it('nothing new: neither written nor read', async () => {
    const p = new TestPump([1, 2].map(frame));
    p.start(2, 2);
    p.woken(2, [frame(2)]);
    await settle();
    assert.deepEqual([p.written_, p.reads], [[], []]);
  });
});
