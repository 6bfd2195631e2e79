/**
 * The cross-transport conformance suite: the same behaviour, asserted once per transport, between the
 * Node client and a real server over loopback.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BurrowSocket } from '@burrow/client';
import type { Session } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { once } from './fixtures/wait.js';

const transports = ['websocket', 'sse', 'polling'] as const;
type Transport = (typeof transports)[number];
const SIZES = [0, 1, 64 * 1024, 1024 * 1024 - 1];

function pattern(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function open(srv: TestServer, transport: Transport, binaryType: BinaryType = 'arraybuffer'): Promise<BurrowSocket> {
  const s = new BurrowSocket(srv.ws, undefined, { transports: [transport], remember: false });
  s.binaryType = binaryType;
  return new Promise((resolve, reject) => {
    s.addEventListener('open', () => resolve(s), { once: true });
    s.addEventListener('close', (e) => reject(new Error(`closed before open: ${(e as CloseEvent).code}`)), { once: true });
  });
}

/** Collects messages; `next(n)` resolves once n in total have arrived. */
function inbox(s: BurrowSocket) {
  const got: unknown[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  s.addEventListener('message', (e) => {
    got.push((e as MessageEvent).data);
    if (waiter && got.length >= waiter.n) waiter.resolve();
  });
  return {
    got,
    next(n: number): Promise<unknown[]> {
      if (got.length >= n) return Promise.resolve(got);
      return new Promise((resolve) => (waiter = { n, resolve: () => resolve(got) }));
    },
  };
}

async function closeCleanly(s: BurrowSocket): Promise<CloseEvent> {
  const closed = once<CloseEvent>(s, 'close');
  s.close(1000, 'done');
  return closed;
}

describe.each(transports)('conformance over %s', (transport) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({}, { app: true });
  });
  afterAll(() => srv.close());

  it('opens on the forced transport and reports the W3C surface', async () => {
    const s = new BurrowSocket(srv.ws, undefined, { transports: [transport], remember: false });
    assert.equal(s.readyState, BurrowSocket.CONNECTING);
    assert.equal(s.url, srv.ws);
    assert.equal(s.protocol, '');
    assert.equal(s.extensions, '');
    assert.equal(s.binaryType, 'blob');
    await once(s, 'open');
    assert.equal(s.readyState, BurrowSocket.OPEN);
    assert.equal(s.transport, transport);
    assert.match(s.sessionId, /^[A-Za-z0-9_-]{16,64}$/);
    const ev = await closeCleanly(s);
    assert.equal(s.readyState, BurrowSocket.CLOSED);
    assert.deepEqual([ev.code, ev.reason, ev.wasClean], [1000, 'done', true]);
  });

  it.each(SIZES)('text round trip of %i bytes', async (size) => {
    const s = await open(srv, transport);
    const box = inbox(s);
    const text = 'a'.repeat(Math.max(0, size - 1)) + (size ? 'z' : '');
    s.send(text);
    const [got] = await box.next(1);
    assert.equal(typeof got, 'string');
    assert.equal((got as string).length, size);
    assert.equal(got, text);
    await closeCleanly(s);
  });

  it.each(SIZES)('binary round trip of %i bytes (arraybuffer and blob)', async (size) => {
    const s = await open(srv, transport, 'arraybuffer');
    const box = inbox(s);
    const bytes = pattern(size);
    s.send(bytes);
    const [ab] = await box.next(1);
    assert.ok(ab instanceof ArrayBuffer, 'arraybuffer binaryType delivers an ArrayBuffer');
    assert.equal(ab.byteLength, size);
    assert.deepEqual(new Uint8Array(ab), bytes);
    s.binaryType = 'blob';
    s.send(new Blob([bytes]));
    const [, blob] = await box.next(2);
    assert.ok(blob instanceof Blob, 'blob binaryType delivers a Blob');
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes);
    await closeCleanly(s);
  });

  it('10,000 messages each way arrive once and in order', async () => {
    const N = 10_000;
    const s = await open(srv, transport);
    const box = inbox(s);
    s.send(`flood:${N}`);
    for (let i = 1; i <= N; i++) s.send(`quiet:c${i}`);
    const got = await box.next(N);
    assert.equal(got.length, N);
    for (let i = 0; i < N; i++) if (got[i] !== `s${i + 1}`) assert.fail(`message ${i}: ${String(got[i])}`);
    // The server app sees the client's messages once, in order, before the close frame.
    await closeCleanly(s);
    const seen = srv.received.get(s.sessionId)!;
    assert.equal(seen.length, N + 1);
    for (let i = 1; i <= N; i++) if (seen[i] !== `quiet:c${i}`) assert.fail(`server message ${i}: ${String(seen[i])}`);
  });

  it('bufferedAmount counts unsent bytes and drains to 0', async () => {
    const s = await open(srv, transport);
    const box = inbox(s);
    s.send('12345');
    s.send(new Uint8Array(10));
    assert.equal(s.bufferedAmount, 15, 'bytes passed to send() and not yet written');
    await box.next(2);
    assert.equal(s.bufferedAmount, 0);
    await closeCleanly(s);
  });

  it('close codes and reasons reach both sides', async () => {
    const s = await open(srv, transport);
    const closed = once<CloseEvent>(s, 'close');
    s.close(4000, 'bye now');
    assert.equal(s.readyState, BurrowSocket.CLOSING);
    const ev = await closed;
    assert.deepEqual([ev.code, ev.reason, ev.wasClean], [4000, 'bye now', true]);
    assert.deepEqual(srv.closes.get(s.sessionId), { code: 4000, reason: 'bye now' });

    const t = await open(srv, transport);
    const closed2 = once<CloseEvent>(t, 'close');
    t.close();
    const ev2 = await closed2;
    assert.equal(ev2.code, 1005, 'close() without a code reports 1005');
    assert.equal(srv.closes.get(t.sessionId)?.code, 1005);
  });

  it('a server-side close reaches the client with its code and reason', async () => {
    const s = await open(srv, transport);
    const closed = once<CloseEvent>(s, 'close');
    s.send('cmd:close:4100:kicked');
    const ev = await closed;
    assert.deepEqual([ev.code, ev.reason, ev.wasClean], [4100, 'kicked', true]);
    assert.deepEqual(srv.closes.get(s.sessionId), { code: 4100, reason: 'kicked' });
  });

  it('a transport killed mid-stream loses and repeats nothing, and the app sees no close', async () => {
    const N = 1000;
    const s = await open(srv, transport);
    let closedEarly = false;
    s.addEventListener('close', () => (closedEarly = true));
    s.addEventListener('error', () => (closedEarly = true));
    const got: string[] = [];
    const transportsSeen: string[] = [];
    s.addEventListener('transport', () => transportsSeen.push(s.transport));
    let kills = 0;
    const done = new Promise<void>((resolve) => {
      s.addEventListener('message', (e) => {
        const data = (e as MessageEvent).data as string;
        got.push(data);
        // Upstream flows too: one client message for every server message.
        if (got.length <= N) s.send(`quiet:c${got.length}`);
        if (got.length === 300 || got.length === 700) {
          kills += srv.killConnections() > 0 ? 1 : 0;
        }
        if (got.length === N) resolve();
      });
    });
    s.send(`flood:${N}`);
    await done;
    assert.equal(kills, 2, 'the connections were cut twice');
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => `s${i + 1}`));
    assert.equal(closedEarly, false, 'the app saw no error or close event');
    await closeCleanly(s);
    const seen = srv.received.get(s.sessionId)!.slice(1);
    assert.deepEqual(seen, Array.from({ length: N }, (_, i) => `quiet:c${i + 1}`));
  });
});

describe.each(transports)('buffer limits below the ack cadence, over %s', (transport) => {
  // The client acked every 128 frames or 64 Ki (else after ~1 s): a server holding fewer closed a
  // client that kept up with 4003. The server's `open` now asks for a faster cadence.
  it.each([
    ['messages', { maxBufferedMessages: 40 }, 'x'],
    ['bytes', { maxBufferedBytes: 8 * 1024 }, 'y'.repeat(500)],
  ] as const)('a client that keeps up never overflows a small buffer (%s)', async (_name, limits, payload) => {
    const srv = await startTestServer({ limits });
    try {
      const connected = new Promise<Session>((resolve) => srv.burrow.on('connection', resolve));
      const s = await open(srv, transport);
      const session = await connected;
      const box = inbox(s);
      let closed: CloseEvent | undefined;
      s.addEventListener('close', (e) => (closed = e as CloseEvent));
      // One message at a time, each sent once the one before arrived: never more than the client's
      // unacknowledged tail in the buffer. 300 frames, 150 KB on the bytes run: far past either limit.
      for (let i = 1; i <= 300; i++) {
        await session.send(`${i}:${payload}`);
        await box.next(i);
      }
      assert.equal(closed, undefined);
      assert.deepEqual(box.got.slice(-1), [`300:${payload}`]);
      const ev = await closeCleanly(s);
      assert.equal(ev.code, 1000);
    } finally {
      await srv.close();
    }
  });
});
