import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from 'vitest';
import { MemoryStore, type Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { connectWs, waitFor } from './helpers.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ handleProtocols: (set) => (set.has('chat') ? 'chat' : false), ackDelay: 100 });
  // Echo server: text back as text, binary back as binary; "close-me" closes from the server side.
  srv.burrow.on('message', (session, data) => {
    if (data === 'close-me') void session.close(4000, 'asked to');
    else void session.send(data);
  });
});

afterAll(() => srv.close());

function binaryFrame(seq: number, bytes: number[]): Buffer {
  const b = Buffer.alloc(8 + bytes.length);
  b.writeDoubleBE(seq, 0);
  Buffer.from(bytes).copy(b, 8);
  return b;
}

test('open first, then text and binary round trips with acks', async () => {
  const connected = waitFor<[Session]>(srv.burrow, 'connection');
  const c = await connectWs(`${srv.ws}/ws`, ['chat']);
  assert.equal(c.ws.protocol, 'chat');
  const open = await c.nextJson();
  assert.equal(open.t, 'open');
  assert.equal(open.resumed, false);
  assert.equal(open.ack, 0);
  assert.equal(open.protocol, 'chat');
  assert.match(String(open.sid), /^[A-Za-z0-9_-]{22}$/);
  const [session] = await connected;
  assert.equal(session.id, open.sid);
  assert.equal(session.protocol, 'chat');

  c.ws.send('1:héllo');
  assert.deepEqual(await c.nextFrame(), { kind: 'text', text: '1:héllo' });
  c.ws.send(binaryFrame(2, [0, 1, 255]));
  const bin = await c.nextFrame();
  assert.equal(bin.kind, 'binary');
  assert.deepEqual(bin.kind === 'binary' && bin.bytes, binaryFrame(2, [0, 1, 255]));
  // The server acks what it delivered, lazily: here within ackDelay (100 ms).
  for (;;) {
    const m = await c.nextJson();
    if (m.t === 'ack' && m.ack === 2) break;
  }
  c.ws.send('{"t":"ping"}');
  assert.deepEqual(await c.nextJson(), { t: 'pong' });
  c.ws.close();
  await c.closed;
});

test('resume resends everything after the client ack; a duplicate resend is delivered once', async () => {
  const connected = waitFor<[Session]>(srv.burrow, 'connection');
  const c = await connectWs(`${srv.ws}/ws`);
  const open = await c.nextJson();
  const [session] = await connected;
  await session.send('a');
  await session.send('b');
  await session.send('c');
  assert.deepEqual(await c.nextFrame(), { kind: 'text', text: '1:a' });
  assert.deepEqual(await c.nextFrame(), { kind: 'text', text: '2:b' });
  assert.deepEqual(await c.nextFrame(), { kind: 'text', text: '3:c' });
  c.ws.send('{"t":"ack","ack":1}');
  const got: string[] = [];
  const onMessage = (s: Session, d: string | Buffer): void => {
    if (s.id === session.id) got.push(String(d));
  };
  srv.burrow.on('message', onMessage);
  const firstIn = waitFor(srv.burrow, 'message', (s: Session) => s.id === session.id);
  c.ws.send('1:x');
  await firstIn;
  c.ws.terminate();
  await c.closed;

  const r = await connectWs(`${srv.ws}/ws?sid=${open.sid}&token=${open.token}&ack=1`);
  const reopen = await r.nextJson();
  assert.equal(reopen.t, 'open');
  assert.equal(reopen.resumed, true);
  assert.equal(reopen.ack, 1);
  assert.equal(reopen.sid, open.sid);
  assert.deepEqual(await r.nextFrame(), { kind: 'text', text: '2:b' });
  assert.deepEqual(await r.nextFrame(), { kind: 'text', text: '3:c' });
  assert.deepEqual(await r.nextFrame(), { kind: 'text', text: '4:x' }); // the echo of 1:x
  // The client resends seq 1 (it never saw an ack): dropped as a duplicate; seq 2 is new.
  r.ws.send('1:x');
  r.ws.send('2:y');
  assert.deepEqual(await r.nextFrame(), { kind: 'text', text: '5:y' });
  assert.deepEqual(got, ['x', 'y']);
  srv.burrow.off('message', onMessage);
  r.ws.close();
  await r.closed;
});

test('resume of an unknown session or with a wrong token: upgrade accepted, then close 4001', async () => {
  const a = await connectWs(`${srv.ws}/ws?sid=AAAAAAAAAAAAAAAAAAAAAA&token=nope&ack=0`);
  assert.deepEqual(await a.closed, { code: 4001, reason: 'session_unknown' });
  const c = await connectWs(`${srv.ws}/ws`);
  const open = await c.nextJson();
  const b = await connectWs(`${srv.ws}/ws?sid=${open.sid}&token=wrong&ack=0`);
  assert.equal((await b.closed).code, 4001);
  c.ws.close();
  await c.closed;
});

test('malformed message closes 1002 with a reason; another session keeps working', async () => {
  const other = await connectWs(`${srv.ws}/ws`);
  await other.nextJson();
  const c = await connectWs(`${srv.ws}/ws`);
  await c.nextJson();
  const closedEvent = waitFor(srv.burrow, 'close', (_s: Session, code: number) => code === 1002);
  c.ws.send('hello there');
  const closed = await c.closed;
  assert.equal(closed.code, 1002);
  assert.match(closed.reason, /bad_frame/);
  await closedEvent;
  other.ws.send('1:still here');
  assert.deepEqual(await other.nextFrame(), { kind: 'text', text: '1:still here' });
  other.ws.close();
  await other.closed;
});

test('oversized payload: ws closes 1009', async () => {
  const small = await startTestServer({ limits: { maxPayload: 10 } });
  const c = await connectWs(`${small.ws}/ws`);
  await c.nextJson();
  c.ws.send(`1:${'x'.repeat(11)}`);
  assert.equal((await c.closed).code, 1009);
  await small.close();
});

test('client-initiated close: close event once with code and reason, echo, socket closed 1000', async () => {
  const connected = waitFor<[Session]>(srv.burrow, 'connection');
  const c = await connectWs(`${srv.ws}/ws`);
  await c.nextJson();
  const [session] = await connected;
  const closeEvent = waitFor<[Session, number, string]>(srv.burrow, 'close', (s) => s.id === session.id);
  c.ws.send('{"t":"close","seq":1,"code":1000,"reason":"bye"}');
  const [, code, reason] = await closeEvent;
  assert.deepEqual([code, reason], [1000, 'bye']);
  assert.deepEqual(JSON.parse((await c.nextFrame() as { text: string }).text), { t: 'close', seq: 1, code: 1000, reason: 'bye' });
  assert.equal((await c.closed).code, 1000);
  await assert.rejects(session.send('late'), { code: 'session_closed' });
});

test('server-initiated close: close frame sent, client echo ends the socket', async () => {
  const c = await connectWs(`${srv.ws}/ws`);
  await c.nextJson();
  const closeEvent = waitFor<[Session, number, string]>(srv.burrow, 'close', (_s, code) => code === 4000);
  c.ws.send('1:close-me');
  const [, code, reason] = await closeEvent;
  assert.deepEqual([code, reason], [4000, 'asked to']);
  const frame = JSON.parse((await c.nextFrame() as { text: string }).text);
  assert.deepEqual(frame, { t: 'close', seq: 1, code: 4000, reason: 'asked to' });
  c.ws.send('{"t":"close","seq":2,"code":4000,"reason":"asked to"}');
  assert.equal((await c.closed).code, 1000);
});

test('outbound overflow closes the session with 4003 and send rejects buffer_overflow', async () => {
  const small = await startTestServer({ limits: { maxBufferedMessages: 3 } });
  const connected = waitFor<[Session]>(small.burrow, 'connection');
  const c = await connectWs(`${small.ws}/ws`);
  await c.nextJson();
  const [session] = await connected;
  const closeEvent = waitFor<[Session, number]>(small.burrow, 'close');
  await assert.rejects(session.send('x'.repeat(2 * 1024 * 1024)), { code: 'payload_too_large' });
  await session.send('1');
  await session.send('2');
  await session.send('3');
  await assert.rejects(session.send('4'), { code: 'buffer_overflow' });
  assert.equal((await closeEvent)[1], 4003);
  // An unawaited rejection does not crash the process.
  void session.send('ignored');
  c.ws.close();
  await small.close();
});

test('a refused subprotocol refuses the upgrade with 400', async () => {
  const c = connectWs(`${srv.ws}/ws`, ['nope']);
  await assert.rejects(c.then((x) => (x.ws.readyState === x.ws.OPEN ? 'open' : Promise.reject(new Error('refused')))));
});

test('a core that makes its inbound queue on the first data frame starts it at the session ack: no duplicate, no gap', async () => {
  // Two nodes on one in-process store: the session's second core (on node b) is made from the record,
  // and the client's acks and pings there are applied before it has an inbound queue.
  const store = new MemoryStore();
  const a = await startTestServer({ store });
  const b = await startTestServer({ store });
  try {
    const c = await connectWs(`${a.ws}/ws`);
    const open = await c.nextJson();
    c.ws.send('1:one');
    c.ws.send('2:two');
    const sid = String(open.sid);
    await a.until(() => a.received.get(sid)?.length === 2, 'two messages on node a', 5000);
    c.ws.terminate();
    await c.closed;

    const r = await connectWs(`${b.ws}/ws?sid=${sid}&token=${String(open.token)}&ack=0`);
    const reopen = await r.nextJson();
    assert.equal(reopen.ack, 2);
    r.ws.send('{"t":"ping"}');
    r.ws.send('{"t":"ack","ack":0}');
    assert.deepEqual(await r.nextJson(), { t: 'pong' });
    // The client never saw an ack for seq 2 and resends it: a duplicate, dropped; seq 3 is new.
    r.ws.send('2:two');
    r.ws.send('3:three');
    await b.until(() => (b.received.get(sid)?.length ?? 0) >= 1, 'a message on node b', 5000);
    for (;;) {
      const m = await r.nextJson();
      if (m.t === 'ack' && m.ack === 3) break;
    }
    assert.deepEqual(b.received.get(sid), ['three']);
    assert.deepEqual(a.received.get(sid), ['one', 'two']);
    r.ws.close();
    await r.closed;
  } finally {
    await a.close();
    await b.close();
  }
});
