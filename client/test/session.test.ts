/** The session engine through BurrowSocket on a scripted fake WebSocket: seqs, acks, dedup, resume, close. */
import assert from 'node:assert/strict';
import { afterEach, describe, it, vi } from 'vitest';
import { BurrowSocket, type BurrowSocketOptions, TransportEvent } from '../src/index.js';
import { LAZY_ACK_DELAY } from '../src/transports/transport.js';
import { FakeWS, fakeOptions, next, record, SID, TOKEN, turn, when } from './helpers.js';

const sockets: BurrowSocket[] = [];
async function opened(protocols?: string | string[], options: BurrowSocketOptions = {}, openExtra = {}, serverProtocol = ''): Promise<{ s: BurrowSocket; ws: FakeWS; log: Event[] }> {
  const s = new BurrowSocket('ws://example.test/burrow', protocols, fakeOptions(options));
  sockets.push(s);
  const log = record(s);
  const ws = FakeWS.last();
  ws.accept(openExtra, serverProtocol);
  await next(s, 'open');
  return { s, ws, log };
}
afterEach(async () => {
  for (const s of sockets.splice(0)) {
    if (s.readyState === 3) continue;
    if (s.readyState === 1) s.close();
    // Echo our close frame so no close timeout is left running.
    for (const ws of FakeWS.instances) ws.echoClose();
    // Read again: close() and the echoed close frame moved it on (TS keeps the narrowing from above).
    if ((s.readyState as number) !== 3) await next(s, 'close');
  }
  FakeWS.reset();
  // The trickle test's fake clock.
  vi.useRealTimers();
});

const types = (log: Event[]) => log.map((e) => e.type);
const datas = (log: Event[]) => log.filter((e) => e.type === 'message').map((e) => (e as MessageEvent).data);

describe('open', () => {
  it('opens on the open frame, then fires transport', async () => {
    const { s, ws, log } = await opened(['chat'], {}, { protocol: 'chat' }, 'chat');
    assert.equal(s.readyState, 1);
    assert.equal(s.protocol, 'chat');
    assert.equal(s.transport, 'websocket');
    assert.equal(s.sessionId, SID);
    assert.equal(ws.binaryType, 'arraybuffer');
    assert.deepEqual(types(log), ['open', 'transport']);
    assert.equal((log[1] as TransportEvent).transport, 'websocket');
    assert.equal((log[1] as TransportEvent).previous, '');
  });

  it('fails like a browser when the server picks a subprotocol not offered', async () => {
    const s = new BurrowSocket('ws://example.test/burrow', ['chat'], fakeOptions());
    sockets.push(s);
    const log = record(s);
    FakeWS.last().accept({ protocol: 'other' }, 'other');
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.deepEqual(types(log), ['error', 'close']);
    assert.equal(ev.code, 1006);
  });

  it('fails with error + close 1006 when every transport fails before open', async () => {
    const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions());
    sockets.push(s);
    const log = record(s);
    FakeWS.last().drop(1006);
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.deepEqual(types(log), ['error', 'close']);
    assert.equal(ev.code, 1006);
    assert.equal(ev.wasClean, false);
  });

  it('gives up on a WebSocket that never delivers open after connectTimeout', async () => {
    const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions({ connectTimeout: 30 }));
    sockets.push(s);
    const ws = FakeWS.last();
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.equal(ev.code, 1006);
    assert.notEqual(ws.closedWith, undefined);
  });
});

describe('inbound', () => {
  it('delivers in order, drops duplicates and acks after ackDelay', async () => {
    // The ack clock's timer on a fake clock the test moves.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { s, ws, log } = await opened();
    ws.deliver('1:a');
    ws.deliver('2:b');
    ws.deliver('2:b');
    ws.deliver('1:a');
    ws.deliver('3:c');
    vi.advanceTimersByTime(LAZY_ACK_DELAY);
    await FakeWS.changes.until(() => ws.sent.includes('{"t":"ack","ack":3}'), 'the ack');
    await when(s, ['message'], () => datas(log).length === 3, 'three messages');
    // Every message the deliveries queued has been dispatched by the next turn: a duplicate would show.
    await turn();
    assert.deepEqual(datas(log), ['a', 'b', 'c']);
    assert.equal(s.readyState, 1);
  });

  it('a trickle on WebSocket draws an ack about a second later, not every 50 ms (a broadcast paid one per message)', async () => {
    // setTimeout on a fake clock the test moves (the ack clock's timer); setImmediate stays real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { ws } = await opened();
    const acks = (): string[] => ws.texts().filter((m) => m.startsWith('{"t":"ack"'));
    ws.deliver('1:a');
    vi.advanceTimersByTime(300);
    ws.deliver('2:b');
    vi.advanceTimersByTime(300);
    assert.deepEqual(acks(), [], 'no ack within 600 ms');
    // Then the clock moves a ms at a time until the first ack (a FakeWS takes the frame in the call).
    let waited = 600;
    while (acks().length === 0 && waited < 3600) {
      vi.advanceTimersByTime(1);
      waited++;
    }
    assert.deepEqual(acks(), ['{"t":"ack","ack":2}']);
    assert.ok(waited >= 800 && waited < 2500, `the ack came ${waited} ms after the first frame`);
  });

  it('acks at once after 128 frames', async () => {
    const { ws } = await opened();
    for (let i = 1; i <= 128; i++) ws.deliver(`${i}:m`);
    assert.ok(ws.sent.includes('{"t":"ack","ack":128}'));
  });

  it('delivers binary as Blob or as an exactly-sized ArrayBuffer', async () => {
    const { s, ws, log } = await opened();
    const frame = (seq: number, bytes: number[]) => {
      const b = new Uint8Array(8 + bytes.length);
      new DataView(b.buffer).setFloat64(0, seq);
      b.set(bytes, 8);
      return b.buffer;
    };
    ws.deliver(frame(1, [1, 2, 3]));
    await next(s, 'message');
    s.binaryType = 'arraybuffer';
    ws.deliver(frame(2, [4, 5]));
    await next(s, 'message');
    const [blob, buf] = datas(log) as [Blob, ArrayBuffer];
    assert.ok(blob instanceof Blob);
    assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [1, 2, 3]);
    assert.ok(buf instanceof ArrayBuffer);
    assert.equal(buf.byteLength, 2);
    assert.deepEqual([...new Uint8Array(buf)], [4, 5]);
    const msg = log.find((e) => e.type === 'message') as MessageEvent;
    assert.equal(msg.origin, 'ws://example.test');
  });

  it('treats a seq gap as a dead transport and resumes with sid, token and ack', async () => {
    const { s, ws, log } = await opened();
    ws.deliver('1:a');
    ws.deliver('3:c');
    assert.notEqual(ws.closedWith, undefined);
    await FakeWS.changes.until(() => FakeWS.instances.length === 2, 'the resume\'s WebSocket');
    const ws2 = FakeWS.last();
    assert.equal(ws2.url.searchParams.get('sid'), SID);
    assert.equal(ws2.url.searchParams.get('token'), TOKEN);
    assert.equal(ws2.url.searchParams.get('ack'), '1');
    ws2.accept({ resumed: true });
    ws2.deliver('2:b');
    ws2.deliver('3:c');
    await when(s, ['message'], () => datas(log).length === 3, 'three messages');
    assert.deepEqual(datas(log), ['a', 'b', 'c']);
    assert.deepEqual(types(log).filter((t) => t !== 'message'), ['open', 'transport']);
    assert.equal(s.readyState, 1);
  });
});

describe('outbound', () => {
  it('numbers messages and copies payloads at send time', async () => {
    const { s, ws } = await opened();
    const bytes = new Uint8Array([1, 2, 3, 4]);
    s.send('x');
    s.send(bytes.subarray(1, 3));
    bytes[1] = 99;
    s.send(new Blob(['blob']));
    s.send('after blob');
    assert.deepEqual(ws.texts(), ['1:x', '<bin:2:2>']);
    assert.deepEqual([...(ws.sent[1] as Uint8Array).subarray(8)], [2, 3]);
    // The Blob's bytes are read asynchronously; the frames are reported written a task after they are sent.
    await FakeWS.changes.until(() => ws.sent.length === 4 && s.bufferedAmount === 0, 'all four frames sent and written');
    assert.deepEqual(ws.texts(), ['1:x', '<bin:2:2>', '<bin:3:4>', '4:after blob']);
    assert.equal(s.bufferedAmount, 0);
  });

  it('resends unacknowledged frames from the open.ack of a resume, with no open/close events', async () => {
    const { s, ws, log } = await opened();
    s.send('a');
    s.send('b');
    s.send('c');
    ws.deliver('{"t":"ack","ack":1}');
    ws.drop(1006);
    s.send('d'); // while reconnecting: queued, counted in bufferedAmount
    // The server's ack arrived after 'a'..'c' were sent, which settles them as written; 'd' is queued.
    assert.equal(s.bufferedAmount, 1);
    await FakeWS.changes.until(() => FakeWS.instances.length === 2, 'the resume\'s WebSocket');
    const ws2 = FakeWS.last();
    ws2.accept({ resumed: true, ack: 2 });
    assert.deepEqual(ws2.sent, ['3:c', '4:d']);
    // Written frames leave bufferedAmount in a later task, as in Chromium.
    assert.equal(s.bufferedAmount, 1);
    await FakeWS.changes.until(() => s.bufferedAmount === 0, 'the resent frames written');
    // Close cleanly: the whole event log shows the resume caused no open/close/error of its own.
    s.close();
    ws2.echoClose();
    await next(s, 'close');
    assert.deepEqual(types(log), ['open', 'transport', 'close']);
  });

  it('closes with 4001 (error first) when the resume is refused', async () => {
    const { s, ws, log } = await opened();
    ws.drop(1006);
    await FakeWS.changes.until(() => FakeWS.instances.length === 2, 'the resume\'s WebSocket');
    FakeWS.last().drop(4001);
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.equal(ev.code, 4001);
    assert.equal(ev.wasClean, false);
    assert.deepEqual(types(log), ['open', 'transport', 'error', 'close']);
  });

  it('fires error + close 1006 when the resume window passes', async () => {
    const { s, ws, log } = await opened([], { reconnectDelay: 20, reconnectDelayMax: 20 }, { resumeWindow: 60 });
    // Every resume attempt fails, a task after it starts (once the client has set its handlers).
    FakeWS.onCreated = (w) => setImmediate(() => w.readyState === 0 && w.drop(1006));
    ws.drop(1006);
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.equal(ev.code, 1006);
    assert.deepEqual(types(log), ['open', 'transport', 'error', 'close']);
  });
});

describe('close handshake', () => {
  it('close() sends a sequenced close frame after queued data; the echo closes cleanly', async () => {
    const { s, ws, log } = await opened();
    s.send('last');
    s.close(4000, 'done');
    assert.equal(s.readyState, 2);
    assert.deepEqual(ws.sent, ['1:last', '{"t":"close","seq":2,"code":4000,"reason":"done"}']);
    ws.deliver('1:late message'); // after close(): not dispatched
    ws.deliver('{"t":"close","seq":2,"code":4000,"reason":"done"}');
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.equal(ev.code, 4000);
    assert.equal(ev.reason, 'done');
    assert.equal(ev.wasClean, true);
    assert.equal(s.readyState, 3);
    assert.deepEqual(types(log), ['open', 'transport', 'close']);
  });

  it('reports 1005 when close() gave no code', async () => {
    const { s, ws } = await opened();
    s.close();
    assert.deepEqual(ws.sent, ['{"t":"close","seq":1}']);
    ws.deliver('{"t":"close","seq":1}');
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.equal(ev.code, 1005);
    assert.equal(ev.wasClean, true);
  });

  it('echoes a server-initiated close and reports its code', async () => {
    const { s, ws, log } = await opened();
    ws.deliver('1:bye soon');
    ws.deliver('{"t":"close","seq":2,"code":4003,"reason":"full"}');
    assert.ok(ws.sent.includes('{"t":"close","seq":1,"code":4003,"reason":"full"}'));
    const ev = (await next(s, 'close')) as CloseEvent;
    assert.equal(ev.code, 4003);
    assert.equal(ev.reason, 'full');
    assert.equal(ev.wasClean, true);
    assert.deepEqual(types(log), ['open', 'transport', 'message', 'close']);
  });
});
