/**
 * Black-box protocol suite: speaks Burrow wire protocol v1 (docs/PROTOCOL.md) to a real server in RAW
 * HTTP (fetch, node:net) and RAW WebSocket (`ws`, node:net), without the Burrow client, the way
 * Engine.IO's protocol test-suite does. "(BAD-INPUTS n)" cites ../shared/BAD-INPUTS.md.
 *
 * Waits are on events and responses only. A server that holds an answer it should give "at once"
 * fails by the per-test timeout (every hold the server could do here is longer than it).
 */
import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  appWatch,
  assertError,
  Canary,
  handshake,
  httpSession,
  type OpenJson,
  poll,
  pollUntil,
  rawConnect,
  rawHttp,
  RawWs,
  RawWsSocket,
  readRawResponse,
  request,
  resumeQuery,
  send,
  sendTexts,
  sessionUrl,
  SseStream,
  type Wire,
  wsFrame,
} from './fixtures/raw-protocol.js';

const T = { timeout: 5000 };
const LIMITS = { maxPayload: 1024, maxBatchBytes: 4096, maxBufferedMessages: 50 };
const HEARTBEAT = 10000;
const HEARTBEAT_TIMEOUT = 10000;
const RESUME_WINDOW = 10000;
const SID_RE = /^[A-Za-z0-9_-]{16,64}$/;

/** Picks "preferred" when offered, refuses when "nope" is offered, else the first one. */
function handleProtocols(set: Set<string>, _req: IncomingMessage): string | false {
  if (set.has('nope')) return false;
  if (set.has('preferred')) return 'preferred';
  for (const p of set) return p;
  return false;
}

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    limits: LIMITS,
    heartbeat: HEARTBEAT,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    pollTimeout: 8000, // longer than a test may run: a poll that should answer at once must not be held
    resumeWindow: RESUME_WINDOW,
    bodyTimeout: 400,
    handleProtocols,
  }, { app: true });
});
afterAll(() => srv?.close());

const app = () => appWatch(srv);
const dataOf = (frames: Wire[]) => frames.filter((f) => f.t === 'd');

function assertOpen(open: OpenJson, resumed = false) {
  assert.equal(open.t, 'open');
  assert.equal(open.v, 1);
  assert.match(open.sid, SID_RE, 'sid is base64url');
  assert.equal(Buffer.from(open.sid, 'base64url').length, 16, 'sid is 16 random bytes');
  assert.equal(typeof open.token, 'string');
  assert.equal(Buffer.from(open.token, 'base64url').length, 32, 'token is 32 random bytes');
  assert.equal(open.resumed, resumed);
  assert.equal(typeof open.protocol, 'string');
  assert.equal(open.heartbeat, HEARTBEAT);
  assert.equal(open.heartbeatTimeout, HEARTBEAT_TIMEOUT);
  assert.equal(open.maxPayload, LIMITS.maxPayload);
  assert.equal(open.resumeWindow, RESUME_WINDOW);
}

/** A poll that is known to be held by the server: poll A, then B replaces it, A's 409 proves B is in. */
async function heldPoll(s: OpenJson, ack: number) {
  const acA = new AbortController();
  const a = poll(srv, s.sid, s.token, ack, acA.signal);
  // Not a synchronisation by time: B is sent after A, and A's answer says the server has seen B.
  const acB = new AbortController();
  const b = poll(srv, s.sid, s.token, ack, acB.signal);
  const ra = await a;
  assertError(ra, 409, 'poll_replaced', 4004);
  return { answer: b, abort: () => acB.abort() };
}

// =====================================================================================================
describe('handshake', () => {
  it('WebSocket: the first message is an open frame (sid, token, ack 0, resumed false, limits)', T, async () => {
    const { c, open } = await RawWs.open(srv);
    assertOpen(open);
    assert.equal(open.ack, 0);
    assert.equal(open.protocol, '');
    c.ws.terminate();
  });

  it('HTTP: POST P/sessions answers 200 with the open frame as JSON', T, async () => {
    const r = await handshake(srv, { v: 1, protocols: [] });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assertOpen(r.json);
    assert.equal(r.json.ack, 0);
    assert.equal(r.json.protocol, '');
  });

  it('HTTP: an empty handshake body is a v1 handshake without subprotocols', T, async () => {
    const r = await request(srv, '/sessions', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
    assert.equal(r.status, 200, r.text);
    assertOpen(r.json);
  });

  it('every handshake makes a new session id and token', T, async () => {
    const a = await httpSession(srv);
    const b = await httpSession(srv);
    const { c, open } = await RawWs.open(srv);
    c.ws.terminate();
    assert.equal(new Set([a.sid, b.sid, open.sid]).size, 3);
    assert.equal(new Set([a.token, b.token, open.token]).size, 3);
  });

  it('subprotocols over WebSocket: the server picks with handleProtocols and says so in the header and open', T, async () => {
    const first = await RawWs.open(srv, '', ['chat', 'superchat']);
    assert.equal(first.c.ws.protocol, 'chat');
    assert.equal(first.open.protocol, 'chat');
    first.c.ws.terminate();
    const picked = await RawWs.open(srv, '', ['chat', 'preferred']);
    assert.equal(picked.c.ws.protocol, 'preferred');
    assert.equal(picked.open.protocol, 'preferred');
    picked.c.ws.terminate();
  });

  it('subprotocols over HTTP: the pick is open.protocol', T, async () => {
    assert.equal((await httpSession(srv, ['chat', 'superchat'])).protocol, 'chat');
    assert.equal((await httpSession(srv, ['chat', 'preferred'])).protocol, 'preferred');
  });

  it('no acceptable subprotocol: HTTP 400 no_acceptable_protocol, and the WebSocket never opens', T, async () => {
    const r = await handshake(srv, { v: 1, protocols: ['nope'] });
    assertError(r, 400, 'no_acceptable_protocol');
    const c = await RawWs.connect(srv, '', ['nope']);
    if (c.refused) {
      assert.equal(c.refused.status, 400, `upgrade refused with ${c.refused.status}`);
      assert.equal(JSON.parse(c.refused.body).error, 'no_acceptable_protocol');
    } else {
      // Accepted at the HTTP level: then it must not turn into an open session.
      const closed = await c.closed;
      assert.notEqual(closed.code, 1000);
      assert.equal(c.inbox.pending().filter((f) => f.t === 'open').length, 0, 'no open frame');
    }
  });

  it('protocol version 2 is refused: 400 unsupported_version (close 4005)', T, async () => {
    assertError(await handshake(srv, { v: 2, protocols: [] }), 400, 'unsupported_version', 4005);
  });

  it('a handshake body that is not JSON, or protocols that are not a token array, is 400', T, async () => {
    assertError(await handshake(srv, '{"v":1,'), 400, 'bad_json', 1002);
    assertError(await handshake(srv, { v: 1, protocols: 'chat' }), 400, 'bad_request', 1002);
    assertError(await handshake(srv, { v: 1, protocols: ['a b'] }), 400, 'bad_request', 1002);
    assertError(await handshake(srv, [1]), 400, 'bad_request', 1002);
  });
});

// =====================================================================================================
describe('seqs and acks', () => {
  it('WebSocket: server data frames are numbered from 1 with no gaps', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, 'flood:30');
    for (let i = 1; i <= 30; i++) {
      const f = await c.nextData();
      assert.equal(f.seq, i);
      assert.equal(f.text, `s${i}`);
    }
    c.send({ t: 'ack', ack: 30 });
    c.ws.terminate();
  });

  it('binary stays binary on WebSocket (8-byte BE float64 seq + bytes) and is base64 over HTTP, both ways', T, async () => {
    const { c, open } = await RawWs.open(srv);
    const bytes = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
    c.sendBinary(1, bytes);
    const f = await c.nextData();
    assert.equal(f.seq, 1);
    assert.ok(Buffer.isBuffer(f.bin), 'echoed as a binary message');
    assert.ok((f.bin as Buffer).equals(bytes));
    const got = (await app().received(open.sid, 1))[0];
    assert.ok(typeof got !== 'string' && Buffer.from(got!).equals(bytes), 'the app got the bytes, not text');
    await c.kill();
    // The same server frame fetched over HTTP is base64; a base64 upstream frame is bytes for the app.
    const frames = await pollUntil(srv, open, 0, (fs) => dataOf(fs).length >= 1);
    assert.deepEqual(frames[0], { t: 'd', seq: 1, bin: bytes.toString('base64') });
    const r = await send(srv, open.sid, open.token, { ack: 1, frames: [{ t: 'd', seq: 2, bin: 'AAEC' }] });
    assert.deepEqual([r.status, r.json], [200, { ack: 2 }]);
    const back = await pollUntil(srv, open, 1, (fs) => dataOf(fs).length >= 1);
    assert.deepEqual(back[0], { t: 'd', seq: 2, bin: 'AAEC' });
  });

  it('empty payloads are messages too: "N:" and an 8-byte binary header alone', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, '');
    const t = await c.nextData();
    assert.deepEqual([t.seq, t.text], [1, '']);
    c.sendBinary(2, new Uint8Array(0));
    const b = await c.nextData();
    assert.equal(b.seq, 2);
    assert.equal((b.bin as Buffer).length, 0);
    c.ws.terminate();
  });

  it('WebSocket: the server acks cumulatively, never backwards', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, 'quiet:a');
    c.sendText(2, 'quiet:b');
    c.sendText(3, 'quiet:c');
    let last = 0;
    for (;;) {
      const f = await c.take((x) => x.t === 'ack');
      assert.ok(typeof f.ack === 'number' && f.ack >= last && f.ack <= 3, `ack ${String(f.ack)} after ${last}`);
      last = f.ack as number;
      if (last === 3) break;
    }
    c.ws.terminate();
  });

  it('HTTP: each POST answers the cumulative ack of the session', T, async () => {
    const s = await httpSession(srv);
    assert.equal(await sendTexts(srv, s, 1, ['quiet:a', 'quiet:b']), 2);
    assert.equal(await sendTexts(srv, s, 3, ['quiet:c']), 3);
    const r = await send(srv, s.sid, s.token, { frames: [] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ack: 3 });
  });

  it('WebSocket resume ?sid&token&ack=N: open.ack is the inbound ack, then frames after N are resent in order, once', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.sendText(1, 'flood:5');
    for (let i = 1; i <= 5; i++) assert.equal((await c.nextData()).seq, i);
    await c.kill();
    const r = await RawWs.resume(srv, open.sid, open.token, 2);
    assert.equal(r.open.t, 'open');
    assert.equal(r.open.resumed, true);
    assert.equal(r.open.sid, open.sid);
    assert.equal(r.open.ack, 1, 'the server holds client seq 1');
    for (let i = 3; i <= 5; i++) {
      const f = await r.c.nextData();
      assert.deepEqual([f.seq, f.text], [i, `s${i}`]);
    }
    r.c.sendText(2, 'after');
    const f = await r.c.nextData();
    assert.deepEqual([f.seq, f.text], [6, 'after'], 'nothing repeated before the next new frame');
    assert.deepEqual(await app().received(open.sid, 2), ['flood:5', 'after']);
    r.c.ws.terminate();
  });

  it('poll ?ack=N: frames after N are resent; a poll never removes frames, only acks do', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['flood:5']);
    const all = await pollUntil(srv, s, 0, (fs) => dataOf(fs).length >= 5);
    assert.deepEqual(dataOf(all).map((f) => f.text), ['s1', 's2', 's3', 's4', 's5']);
    const again = await poll(srv, s.sid, s.token, 2);
    assert.equal(again.status, 200);
    assert.deepEqual(dataOf(again.json.frames).map((f: Wire) => f.seq), [3, 4, 5]);
    const lost = await poll(srv, s.sid, s.token, 2);
    assert.deepEqual(dataOf(lost.json.frames).map((f: Wire) => f.seq), [3, 4, 5], 'a lost poll response loses nothing');
  });

  it('SSE ?ack=N resends the frames after N, each event with id: <seq>', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['flood:5']);
    await pollUntil(srv, s, 0, (fs) => dataOf(fs).length >= 5); // all five exist now
    const sse = await SseStream.open(srv, s.sid, s.token, 2);
    try {
      for (let i = 3; i <= 5; i++) {
        const e = await sse.nextData();
        assert.equal(e.id, String(i));
        assert.deepEqual([e.json.seq, e.json.text], [i, `s${i}`]);
      }
    } finally {
      sse.close();
    }
  });

  it('SSE Last-Event-ID overrides a lower ack, and does not override a higher one', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['flood:5']);
    await pollUntil(srv, s, 0, (fs) => dataOf(fs).length >= 5);
    const a = await SseStream.open(srv, s.sid, s.token, 1, { 'last-event-id': '3' });
    try {
      assert.equal((await a.nextData()).id, '4');
    } finally {
      a.close();
    }
    const b = await SseStream.open(srv, s.sid, s.token, 4, { 'last-event-id': '3' });
    try {
      assert.equal((await b.nextData()).id, '5');
    } finally {
      b.close();
    }
  });

  it('HTTP: a retried upstream batch (same seqs) is acknowledged again and delivered to the app once (BAD-INPUTS 17)', T, async () => {
    const s = await httpSession(srv);
    const batch = { frames: [{ t: 'd', seq: 1, text: 'quiet:a' }, { t: 'd', seq: 2, text: 'quiet:b' }] };
    const r1 = await send(srv, s.sid, s.token, batch);
    const r2 = await send(srv, s.sid, s.token, batch);
    assert.deepEqual([r1.status, r1.json], [200, { ack: 2 }]);
    assert.deepEqual([r2.status, r2.json], [200, { ack: 2 }], 'the retry is acknowledged again');
    // A partly new retry: only the new part is delivered.
    const r3 = await send(srv, s.sid, s.token, { frames: [...batch.frames, { t: 'd', seq: 3, text: 'quiet:end' }] });
    assert.deepEqual([r3.status, r3.json], [200, { ack: 3 }]);
    await app().received(s.sid, 3);
    assert.deepEqual(srv.received.get(s.sid), ['quiet:a', 'quiet:b', 'quiet:end']);
  });

  it('WebSocket: a resent data frame (same seq) is delivered to the app once (BAD-INPUTS 17)', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.sendText(1, 'quiet:a');
    c.sendText(1, 'quiet:a');
    c.sendText(2, 'quiet:end');
    await app().received(open.sid, 2);
    // Nothing is queued behind 'quiet:end' on this session; a duplicate would have come before it.
    assert.deepEqual(srv.received.get(open.sid), ['quiet:a', 'quiet:end']);
    c.ws.terminate();
  });

  it('HTTP: an ack for seqs never sent does not trim frames sent later (BAD-INPUTS 18)', T, async () => {
    const s = await httpSession(srv);
    const bogus = await send(srv, s.sid, s.token, { ack: 1000, frames: [] });
    assert.ok([200, 400].includes(bogus.status), `ack 1000 answered ${bogus.status}`);
    if (bogus.status === 400) assertError(bogus, 400, 'bad_seq', 1002);
    await sendTexts(srv, s, 1, ['later']);
    const frames = await pollUntil(srv, s, 0, (fs) => dataOf(fs).length >= 1);
    assert.deepEqual(dataOf(frames).map((f) => [f.seq, f.text]), [[1, 'later']]);
    const again = await poll(srv, s.sid, s.token, 0);
    assert.deepEqual(
      dataOf(again.json.frames).map((f: Wire) => f.seq),
      [1],
      'seq 1 is still held: the bogus ack 1000 did not cover it',
    );
  });

  it('WebSocket: an ack for seqs never sent does not trim frames sent later (BAD-INPUTS 18)', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.send({ t: 'ack', ack: 1000 });
    c.sendText(1, 'later');
    let f: Wire;
    try {
      f = await c.nextData();
    } catch {
      // "ignored or protocol error": a protocol error must be the documented one.
      assert.equal((await c.closed).code, 1002);
      return;
    }
    assert.deepEqual([f.seq, f.text], [1, 'later']);
    await c.kill();
    const r = await RawWs.resume(srv, open.sid, open.token, 0);
    const again = await r.c.nextData();
    assert.deepEqual([again.seq, again.text], [1, 'later'], 'resent after resume: the bogus ack trimmed nothing');
    r.c.ws.terminate();
  });

  it('resume ?ack= beyond anything sent (WS, poll, SSE Last-Event-ID) does not swallow frames sent later (BAD-INPUTS 18)', T, async () => {
    const { c, open } = await RawWs.open(srv);
    await c.kill();
    const r = await RawWs.resume(srv, open.sid, open.token, 1000);
    r.c.sendText(1, 'ws-later');
    assert.deepEqual([(await r.c.nextData()).seq], [1], 'seq 1 is written although the client claimed ack 1000');
    await r.c.kill();

    const s = await httpSession(srv);
    const ac = new AbortController();
    const p = poll(srv, s.sid, s.token, 1000, ac.signal);
    await sendTexts(srv, s, 1, ['poll-later']);
    const got = await p;
    assert.deepEqual(dataOf(got.json.frames).map((f: Wire) => f.seq), [1]);

    const s2 = await httpSession(srv);
    const sse = await SseStream.open(srv, s2.sid, s2.token, 0, { 'last-event-id': '1000' });
    try {
      await sse.next();
      await sendTexts(srv, s2, 1, ['sse-later']);
      assert.equal((await sse.nextData()).id, '1');
    } finally {
      sse.close();
    }
  });

  it('HTTP: nothing after a close frame is delivered to the app', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, {
      frames: [
        { t: 'close', seq: 1, code: 4000, reason: 'end' },
        { t: 'd', seq: 2, text: 'quiet:late' },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await app().closed(s.sid), { code: 4000, reason: 'end' });
    assert.equal(srv.received.get(s.sid), undefined, 'the data frame after close was not delivered');
  });

  it('HTTP: a gap in upstream seqs is not delivered; the ack stops before it and the resend fills it', T, async () => {
    const s = await httpSession(srv);
    const r1 = await send(srv, s.sid, s.token, {
      frames: [
        { t: 'd', seq: 1, text: 'quiet:a' },
        { t: 'd', seq: 3, text: 'quiet:c' },
      ],
    });
    assert.deepEqual([r1.status, r1.json], [200, { ack: 1 }]);
    const r2 = await send(srv, s.sid, s.token, {
      frames: [
        { t: 'd', seq: 2, text: 'quiet:b' },
        { t: 'd', seq: 3, text: 'quiet:c' },
      ],
    });
    assert.deepEqual([r2.status, r2.json], [200, { ack: 3 }]);
    assert.deepEqual(await app().received(s.sid, 3), ['quiet:a', 'quiet:b', 'quiet:c']);
  });

  it('WebSocket: a gap in upstream seqs is not delivered past the gap', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.sendText(1, 'quiet:a');
    c.sendText(3, 'quiet:c');
    c.sendText(2, 'quiet:b');
    c.sendText(3, 'quiet:c');
    const outcome = await Promise.race([
      c.closed.then((x) => ({ closed: x })),
      app()
        .received(open.sid, 3)
        .then((got) => ({ got })),
    ]);
    if ('closed' in outcome) {
      // The server may treat the gap as a protocol error and end the session: documented and loud.
      assert.equal(outcome.closed.code, 1002);
      assert.equal((await app().closed(open.sid)).code, 1002);
      const f = await c.take((x) => x.t === 'close').catch(() => undefined);
      assert.ok(!f || f.code === 1002, 'the close frame says 1002');
      assert.deepEqual(srv.received.get(open.sid), ['quiet:a'], 'nothing past the gap delivered');
    } else {
      assert.deepEqual(outcome.got, ['quiet:a', 'quiet:b', 'quiet:c'], 'c never delivered before b');
      c.ws.terminate();
    }
  });
});

// =====================================================================================================
describe('resume across transports', () => {
  it('WebSocket → poll: messages sent while no transport is attached arrive on the next poll, in order, once', T, async () => {
    const { c, open } = await RawWs.open(srv);
    await c.kill();
    // Upstream over HTTP while nothing is attached downstream; the app answers with s1..s5.
    await sendTexts(srv, open, 1, ['flood:5']);
    const frames = await pollUntil(srv, open, 0, (fs) => dataOf(fs).length >= 5);
    assert.deepEqual(dataOf(frames).map((f) => [f.seq, f.text]), [1, 2, 3, 4, 5].map((i) => [i, `s${i}`]));
    await sendTexts(srv, open, 2, ['next'], 5);
    const later = await pollUntil(srv, open, 5, (fs) => dataOf(fs).length >= 1);
    assert.deepEqual(dataOf(later).map((f) => [f.seq, f.text]), [[6, 'next']], 'nothing delivered twice');
  });

  it('SSE → WebSocket: messages sent while no transport is attached arrive on the resumed WebSocket, in order, once', T, async () => {
    const s = await httpSession(srv);
    const sse = await SseStream.open(srv, s.sid, s.token, 0);
    assert.equal((await sse.next()).json.t, 'ack');
    sse.close();
    await sse.ended;
    await sendTexts(srv, s, 1, ['flood:3']);
    const r = await RawWs.resume(srv, s.sid, s.token, 0);
    assert.equal(r.open.resumed, true);
    assert.equal(r.open.ack, 1);
    for (let i = 1; i <= 3; i++) assert.deepEqual([(await r.c.nextData()).seq], [i]);
    r.c.sendText(2, 'next');
    const f = await r.c.nextData();
    assert.deepEqual([f.seq, f.text], [4, 'next']);
    r.c.ws.terminate();
  });

  it('a newer WebSocket for the session closes the older one with 4004; the newer one carries on', T, async () => {
    const a = await RawWs.open(srv);
    const b = await RawWs.resume(srv, a.open.sid, a.open.token, 0);
    assert.equal((await a.c.closed).code, 4004);
    assert.equal(b.open.resumed, true);
    b.c.sendText(1, 'still here');
    assert.equal((await b.c.nextData()).text, 'still here');
    b.c.ws.terminate();
  });

  it('attaching SSE ends a held poll with 409 poll_replaced; a poll then ends the SSE response', T, async () => {
    const s = await httpSession(srv);
    const p = await heldPoll(s, 0);
    const sse = await SseStream.open(srv, s.sid, s.token, 0);
    try {
      assert.equal((await sse.next()).json.t, 'ack');
      assertError(await p.answer, 409, 'poll_replaced', 4004);
    } finally {
      p.abort();
    }
    const ac = new AbortController();
    const p2 = poll(srv, s.sid, s.token, 0, ac.signal).catch(() => undefined);
    await sse.ended; // the SSE response ends when the poll attaches
    ac.abort();
    await p2;
  });

  it('poll after WebSocket: the WebSocket is closed with 4004', T, async () => {
    const { c, open } = await RawWs.open(srv);
    const ac = new AbortController();
    const p = poll(srv, open.sid, open.token, 0, ac.signal).catch(() => undefined);
    assert.equal((await c.closed).code, 4004);
    ac.abort();
    await p;
  });
});

// =====================================================================================================
describe('heartbeats', () => {
  it('WebSocket: a client ping is answered by a pong', T, async () => {
    const { c } = await RawWs.open(srv);
    c.send({ t: 'ping' });
    assert.deepEqual(await c.take((f) => f.t === 'pong'), { t: 'pong' });
    c.ws.terminate();
  });

  it('SSE: a ping POSTed upstream is answered by a pong event on the stream', T, async () => {
    const s = await httpSession(srv);
    const sse = await SseStream.open(srv, s.sid, s.token, 0);
    try {
      await sse.next();
      const r = await send(srv, s.sid, s.token, { frames: [{ t: 'ping' }] });
      assert.equal(r.status, 200, r.text);
      const e = await sse.next((x) => x.json.t === 'pong');
      assert.equal(e.id, undefined, 'pong is not sequenced: no id');
    } finally {
      sse.close();
    }
  });

  it('poll: a ping POSTed upstream is answered by a pong in the held poll', T, async () => {
    const s = await httpSession(srv);
    const p = await heldPoll(s, 0);
    try {
      const r = await send(srv, s.sid, s.token, { frames: [{ t: 'ping' }] });
      assert.equal(r.status, 200, r.text);
      const got = await p.answer;
      assert.equal(got.status, 200);
      assert.ok(
        got.json.frames.some((f: Wire) => f.t === 'pong'),
        `poll answered ${got.text}`,
      );
    } finally {
      p.abort();
    }
  });
});

describe('heartbeats: idle transports', () => {
  let hb: TestServer;
  beforeAll(async () => {
    hb = await startTestServer({ heartbeat: 150, heartbeatTimeout: 300, resumeWindow: 5000 }, { app: true });
  });
  afterAll(() => hb?.close());

  it('SSE: an idle stream gets a ":hb" comment after heartbeat ms', T, async () => {
    const s = await httpSession(hb);
    const sse = await SseStream.open(hb, s.sid, s.token, 0);
    try {
      await sse.next();
      await sse.untilRaw((raw) => /(^|\n):hb\r?\n/.test(raw.slice(raw.indexOf('data:'))));
    } finally {
      sse.close();
    }
  });

  it('WebSocket: a client silent past heartbeat + heartbeatTimeout loses the transport, not the session (BAD-INPUTS 25)', T, async () => {
    const { c, open } = await RawWs.open(hb);
    const closed = await c.closed; // we never ping
    assert.notEqual(closed.code, 1000, 'not a normal closure: the session goes on');
    assert.equal(hb.closes.get(open.sid), undefined, 'no session close event');
    const r = await RawWs.resume(hb, open.sid, open.token, 0);
    assert.equal(r.open.resumed, true);
    r.c.sendText(1, 'back');
    assert.equal((await r.c.nextData()).text, 'back');
    r.c.ws.terminate();
  });
});

// =====================================================================================================
describe('close', () => {
  it('WebSocket: a client close frame → server close event with its code and reason, and an echoed close frame', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.send({ t: 'close', seq: 1, code: 4100, reason: 'bye' });
    assert.deepEqual(await app().closed(open.sid), { code: 4100, reason: 'bye' });
    const echo = await c.take((f) => f.t === 'close');
    assert.equal(echo.seq, 1, 'the echo is the first sequenced server frame');
    assert.equal(echo.code, 4100);
    c.ws.terminate();
  });

  it('WebSocket: a close frame without a code → server close event 1005', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.send({ t: 'close', seq: 1 });
    const closed = await app().closed(open.sid);
    assert.equal(closed.code, 1005);
    assert.equal(closed.reason, '');
    const echo = await c.take((f) => f.t === 'close');
    assert.equal(echo.seq, 1);
    c.ws.terminate();
  });

  it('HTTP: a close frame POSTed → server close event, and the echo is on the next poll', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, { frames: [{ t: 'close', seq: 1, code: 1000, reason: 'done' }] });
    assert.deepEqual([r.status, r.json], [200, { ack: 1 }]);
    assert.deepEqual(await app().closed(s.sid), { code: 1000, reason: 'done' });
    const frames = await pollUntil(srv, s, 0, (fs) => fs.some((f) => f.t === 'close'));
    const echo = frames.find((f) => f.t === 'close')!;
    assert.equal(echo.seq, 1);
  });

  it('WebSocket: a server-side session.close reaches the raw client as a close frame', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.sendText(1, 'cmd:close:4200:server-bye');
    const f = await c.take((x) => x.t === 'close');
    assert.deepEqual([f.seq, f.code, f.reason], [1, 4200, 'server-bye']);
    assert.deepEqual(await app().closed(open.sid), { code: 4200, reason: 'server-bye' });
    c.ws.terminate();
  });

  it('poll: a server-side session.close reaches the raw client as a close frame', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['cmd:close:4201:poll-bye']);
    const frames = await pollUntil(srv, s, 0, (fs) => fs.some((f) => f.t === 'close'));
    const f = frames.find((x) => x.t === 'close')!;
    assert.deepEqual([f.seq, f.code, f.reason], [1, 4201, 'poll-bye']);
  });

  it('the close frame is sequenced after every message sent before it', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, 'flood:3');
    for (let i = 1; i <= 3; i++) assert.equal((await c.nextData()).seq, i);
    c.sendText(2, 'cmd:close:4202:after');
    const f = await c.take((x) => x.t === 'close' || x.t === 'd');
    assert.deepEqual([f.t, f.seq, f.code], ['close', 4, 4202]);
    c.ws.terminate();
  });

  it('a session with no transport for resumeWindow ends with close 4002', T, async () => {
    const short = await startTestServer({ resumeWindow: 300, closeLinger: 100 }, { app: true });
    try {
      const s = await httpSession(short);
      const closed = await appWatch(short).closed(s.sid);
      assert.equal(closed.code, 4002);
    } finally {
      await short.close();
    }
  });
});

// =====================================================================================================
describe('HTTP transport details', () => {
  it('SSE: event-stream headers, a 2 KiB comment, then at once an ack event', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['quiet:x']);
    const sse = await SseStream.open(srv, s.sid, s.token, 0);
    try {
      assert.equal(sse.res.status, 200);
      const h = sse.res.headers;
      assert.match(h.get('content-type') ?? '', /^text\/event-stream/);
      const cc = h.get('cache-control') ?? '';
      assert.match(cc, /no-cache/);
      assert.match(cc, /no-transform/);
      assert.equal(h.get('x-accel-buffering'), 'no');
      const first = await sse.next();
      assert.deepEqual(first.json, { t: 'ack', ack: 1 }, 'the first event carries the inbound ack');
      assert.equal(first.id, undefined);
      const before = sse.raw.slice(0, sse.raw.indexOf('data:'));
      assert.ok(before.startsWith(':'), 'the stream starts with a comment');
      assert.ok(before.length >= 2048, `comment prefix is ${before.length} bytes, expected >= 2048`);
    } finally {
      sse.close();
    }
  });

  it('SSE: a frame sent while the stream is open arrives as an event with id = seq', T, async () => {
    const s = await httpSession(srv);
    const sse = await SseStream.open(srv, s.sid, s.token, 0);
    try {
      await sse.next();
      await sendTexts(srv, s, 1, ['live']);
      const e = await sse.nextData();
      assert.equal(e.id, '1');
      assert.deepEqual(e.json, { t: 'd', seq: 1, text: 'live' });
    } finally {
      sse.close();
    }
  });

  it('SSE and poll answer at once when frames are already buffered', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['buffered']);
    await sendTexts(srv, s, 2, ['quiet:sync']); // the echo of seq 1 was appended before seq 2 was applied
    const sse = await SseStream.open(srv, s.sid, s.token, 0);
    try {
      assert.equal((await sse.nextData()).json.text, 'buffered');
    } finally {
      sse.close();
    }
    const r = await poll(srv, s.sid, s.token, 0);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { frames: [{ t: 'd', seq: 1, text: 'buffered' }] });
  });

  it('poll: held until data arrives, then answered with it', T, async () => {
    const s = await httpSession(srv);
    const ac = new AbortController();
    const p = poll(srv, s.sid, s.token, 0, ac.signal);
    await sendTexts(srv, s, 1, ['wake']);
    const r = await p;
    assert.equal(r.status, 200);
    assert.deepEqual(dataOf(r.json.frames).map((f: Wire) => f.text), ['wake']);
  });

  it('poll: held until pollTimeout, then {"frames":[]}', T, async () => {
    const quick = await startTestServer({ pollTimeout: 200 }, { app: true });
    try {
      const s = await httpSession(quick);
      const r = await poll(quick, s.sid, s.token, 0);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { frames: [] });
    } finally {
      await quick.close();
    }
  });

  it('poll: a second concurrent poll makes the older one answer 409 poll_replaced (close 4004)', T, async () => {
    const s = await httpSession(srv);
    const p = await heldPoll(s, 0); // asserts the 409 of the older poll
    try {
      await sendTexts(srv, s, 1, ['to-the-newer']);
      const r = await p.answer;
      assert.equal(r.status, 200);
      assert.deepEqual(dataOf(r.json.frames).map((f: Wire) => f.text), ['to-the-newer']);
    } finally {
      p.abort();
    }
  });

  it('send: the token may be in the body instead of the query', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, undefined, { token: s.token, frames: [{ t: 'd', seq: 1, text: 'quiet:body-token' }] });
    assert.deepEqual([r.status, r.json], [200, { ack: 1 }]);
  });
});

// =====================================================================================================
// Bad input. After every test the process still serves and another, already-open session still
// exchanges messages (DESIGN invariant 6).

function withCanary(server: () => TestServer) {
  let canary: Canary;
  beforeAll(async () => {
    canary = await Canary.start(server());
  });
  afterEach(async () => {
    await canary.check();
  });
  afterAll(() => canary?.stop());
}

/** Opens a fresh WebSocket session, sends `msg` raw, and returns the close code it gets. */
async function wsCloseCodeAfter(server: TestServer, msg: string | Buffer): Promise<number> {
  const { c } = await RawWs.open(server);
  c.ws.send(msg);
  return (await c.closed).code;
}

describe('bad input: malformed Burrow frames (BAD-INPUTS 11)', () => {
  withCanary(() => srv);

  const wsCases: Array<[string, string | Buffer]> = [
    ['non-JSON text without a seq', 'hello'],
    ['an empty text message', ''],
    ['a seq with a leading zero', '01:x'],
    ['seq 0', '0:x'],
    ['a seq of 17 digits', '12345678901234567:x'],
    ['truncated JSON', '{"t":"d","seq":1,"te'],
    ['a JSON array', '[1,2,3]'],
    ['wrong shape: seq is a string', '{"t":"d","seq":"1","text":"x"}'],
    ['wrong shape: data with both text and bin', '{"t":"d","seq":1,"text":"x","bin":"AA=="}'],
    ['wrong shape: close code not valid on the wire', '{"t":"close","seq":1,"code":1005}'],
    ['wrong shape: negative ack', '{"t":"ack","ack":-1}'],
    ['unknown frame type', '{"t":"zap"}'],
    ['an open frame from the client', '{"t":"open","v":1,"sid":"x","token":"y","ack":0,"resumed":false}'],
    ['__proto__ as frame type', '{"t":"__proto__"}'],
    ['a binary message shorter than its seq header', Buffer.from([1, 2, 3])],
    ['a binary message with seq NaN', Buffer.from([0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 1])],
  ];
  for (const [name, msg] of wsCases) {
    it(`WebSocket: ${name} → close 1002 (BAD-INPUTS 11)`, T, async () => {
      assert.equal(await wsCloseCodeAfter(srv, msg), 1002);
    });
  }

  const httpCases: Array<[string, string, string]> = [
    ['non-JSON body', 'hello', 'bad_json'],
    ['truncated JSON body', '{"frames":[{"t":"d","seq":1,"text":"x"', 'bad_json'],
    ['an empty body', '', 'bad_json'],
    ['a body that is an array', '[]', 'bad_request'],
    ['frames that are not an array', '{"frames":{}}', 'bad_request'],
    ['a frame that is not an object', '{"frames":[1]}', 'bad_frame'],
    ['a data frame without text or bin', '{"frames":[{"t":"d","seq":1}]}', 'bad_frame'],
    ['bin that is not base64', '{"frames":[{"t":"d","seq":1,"bin":"***"}]}', 'bad_frame'],
    ['a seq that is a string', '{"frames":[{"t":"d","seq":"1","text":"x"}]}', 'bad_seq'],
    ['a fractional seq', '{"frames":[{"t":"d","seq":1.5,"text":"x"}]}', 'bad_seq'],
    ['an ack that is negative', '{"ack":-1,"frames":[]}', 'bad_seq'],
    ['a token that is not a string', '{"token":5,"frames":[]}', 'bad_request'],
    ['an unknown frame type', '{"frames":[{"t":"zap"}]}', 'unknown_frame_type'],
    ['a frame type inherited from Object.prototype', '{"frames":[{"t":"constructor"}]}', 'unknown_frame_type'],
    ['an open frame from the client', '{"frames":[{"t":"open"}]}', 'bad_frame'],
  ];
  for (const [name, body, code] of httpCases) {
    it(`POST send: ${name} → 400 ${code} (BAD-INPUTS 11)`, T, async () => {
      const s = await httpSession(srv);
      assertError(await send(srv, s.sid, s.token, body), 400, code, 1002);
    });
  }

  for (const bad of ['abc', '-1', '1.5', '1e3', '99999999999999999', '0x10']) {
    it(`?ack=${bad} on poll and SSE → 400; on a WebSocket resume → close 1002 (BAD-INPUTS 11)`, T, async () => {
      const s = await httpSession(srv);
      assertError(await request(srv, `${sessionUrl(s.sid, 'poll')}?token=${s.token}&ack=${bad}`), 400, ['bad_request', 'bad_seq'], 1002);
      assertError(await request(srv, `${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=${bad}`), 400, ['bad_request', 'bad_seq'], 1002);
      const c = await RawWs.connect(srv, `?sid=${s.sid}&token=${s.token}&ack=${bad}`);
      assert.equal(c.refused, undefined, `upgrade refused with ${c.refused?.status}`);
      assert.equal((await c.closed).code, 1002);
    });
  }

  it('WebSocket: a close reason over 123 bytes → close 1002 (BAD-INPUTS 11)', T, async () => {
    assert.equal(await wsCloseCodeAfter(srv, JSON.stringify({ t: 'close', seq: 1, code: 4000, reason: 'r'.repeat(124) })), 1002);
  });

  it('POST send: a close reason without a code → 400 bad_frame (BAD-INPUTS 11)', T, async () => {
    const s = await httpSession(srv);
    assertError(await send(srv, s.sid, s.token, { frames: [{ t: 'close', seq: 1, reason: 'why' }] }), 400, 'bad_frame', 1002);
  });

  it('POST send: a body that is not valid UTF-8 → 400 (BAD-INPUTS 7, 11)', T, async () => {
    const s = await httpSession(srv);
    const body = Buffer.concat([Buffer.from('{"frames":[{"t":"d","seq":1,"text":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    const r = await request(srv, `${sessionUrl(s.sid, 'send')}?token=${s.token}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body,
    });
    assertError(r, 400, ['bad_request', 'bad_json'], 1002);
    assert.equal(srv.received.get(s.sid), undefined);
  });

  it('a malformed batch delivers none of its frames before the bad one', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, '{"frames":[{"t":"d","seq":1,"text":"quiet:first"},{"t":"zap"}]}');
    assertError(r, 400, 'unknown_frame_type', 1002);
    assert.equal(srv.received.get(s.sid), undefined, 'the batch is refused as a whole');
  });

  it('WebSocket: a text message over maxPayload → close 1009', T, async () => {
    assert.equal(await wsCloseCodeAfter(srv, `1:${'x'.repeat(LIMITS.maxPayload + 1)}`), 1009);
  });

  it('WebSocket: a binary message over maxPayload → close 1009', T, async () => {
    const b = Buffer.alloc(8 + LIMITS.maxPayload + 1);
    b.writeDoubleBE(1, 0);
    assert.equal(await wsCloseCodeAfter(srv, b), 1009);
  });

  it('WebSocket: a payload of exactly maxPayload is accepted', T, async () => {
    const { c } = await RawWs.open(srv);
    const text = 'y'.repeat(LIMITS.maxPayload);
    c.sendText(1, text);
    assert.equal((await c.nextData()).text, text);
    c.ws.terminate();
  });

  it('POST send: a data frame over maxPayload → 413 payload_too_large (close 1009)', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, { frames: [{ t: 'd', seq: 1, text: 'x'.repeat(LIMITS.maxPayload + 1) }] });
    assertError(r, 413, 'payload_too_large', 1009);
  });
});

describe('bad input: deep nesting and huge strings (BAD-INPUTS 12)', () => {
  let big: TestServer; // default limits, so the parser really sees the input
  beforeAll(async () => {
    big = await startTestServer({}, { app: true });
  });
  afterAll(() => big?.close());
  withCanary(() => big);

  const deep = 100_000;

  it('POST send: 100k-deep nesting in frames → 400, no stack overflow', T, async () => {
    const s = await httpSession(big);
    const r = await send(big, s.sid, s.token, `{"frames":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    assert.ok([400, 413].includes(r.status), `status ${r.status}`);
    assertError(r, r.status, ['bad_frame', 'bad_json', 'bad_request', 'body_too_large']);
  });

  it('POST send: 100k unclosed [ → 400 bad_json', T, async () => {
    const s = await httpSession(big);
    const r = await send(big, s.sid, s.token, `{"frames":${'['.repeat(deep)}`);
    assertError(r, 400, 'bad_json', 1002);
  });

  it('POST P/sessions: 100k-deep nesting → 400', T, async () => {
    const r = await handshake(big, `{"v":1,"protocols":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    assert.ok([400, 413].includes(r.status), `status ${r.status}`);
    assert.equal(typeof r.json?.error, 'string');
  });

  it('WebSocket: 100k-deep nesting in a control frame → close 1002', T, async () => {
    const code = await wsCloseCodeAfter(big, `{"t":"d","seq":1,"text":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    assert.equal(code, 1002);
  });

  it('WebSocket: 100k unclosed [ in a control frame → close 1002', T, async () => {
    assert.equal(await wsCloseCodeAfter(big, `{"t":"ack","ack":${'['.repeat(deep)}`), 1002);
  });

  it('POST send: a 10 MB string → 413', T, async () => {
    const s = await httpSession(big);
    const r = await send(big, s.sid, s.token, { frames: [{ t: 'd', seq: 1, text: 'x'.repeat(10 * 1024 * 1024) }] });
    assertError(r, 413, ['body_too_large', 'payload_too_large'], 1009);
  });

  it('WebSocket: a 10 MB string → close 1009', T, async () => {
    assert.equal(await wsCloseCodeAfter(big, `1:${'x'.repeat(10 * 1024 * 1024)}`), 1009);
  });
});

describe('bad input: session ids and tokens (BAD-INPUTS 13, 16)', () => {
  withCanary(() => srv);

  const ids: Array<[string, string]> = [
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['hasOwnProperty', 'hasOwnProperty'],
    ['../x', '../x'],
    ['a 10 KB id', 'A'.repeat(10 * 1024)],
    ['a well-formed unknown id', 'AAAAAAAAAAAAAAAAAAAAAA'],
  ];
  for (const [name, sid] of ids) {
    it(`session id ${name} → 404 session_unknown on poll, sse and send (BAD-INPUTS 13)`, T, async () => {
      assertError(await request(srv, `${sessionUrl(sid, 'poll')}?token=t&ack=0`), 404, 'session_unknown', 4001);
      assertError(await request(srv, `${sessionUrl(sid, 'sse')}?token=t&ack=0`), 404, 'session_unknown', 4001);
      assertError(await send(srv, sid, 't', { frames: [] }), 404, 'session_unknown', 4001);
    });
    it(`session id ${name} → close 4001 on a WebSocket resume (BAD-INPUTS 13)`, T, async () => {
      const c = await RawWs.connect(srv, resumeQuery(sid, 't', 0));
      assert.equal(c.refused, undefined, `upgrade refused with ${c.refused?.status}: expected close 4001`);
      assert.equal((await c.closed).code, 4001);
      assert.equal(c.inbox.pending().length, 0, 'no open frame');
    });
  }

  it('a literal ../ in the path is not a session lookup → 400/404 with a JSON error (BAD-INPUTS 13)', T, async () => {
    const r = await rawHttp(srv, 'GET /burrow/sessions/../x/poll?token=t HTTP/1.1');
    assert.ok(r, 'an answer');
    assert.ok([400, 404].includes(r.status), `status ${r.status}`);
    assert.equal(typeof r.json?.error, 'string', r.body);
  });

  it('unknown session and wrong token get the identical answer: 404 session_unknown (BAD-INPUTS 16)', T, async () => {
    const s = await httpSession(srv);
    const unknown = await request(srv, `${sessionUrl('AAAAAAAAAAAAAAAAAAAAAA', 'poll')}?token=${s.token}&ack=0`);
    const wrong = await request(srv, `${sessionUrl(s.sid, 'poll')}?token=${'B'.repeat(43)}&ack=0`);
    assertError(unknown, 404, 'session_unknown', 4001);
    assertError(wrong, 404, 'session_unknown', 4001);
    assert.deepEqual(wrong.json, unknown.json, 'a guessed id learns nothing');
    assertError(await request(srv, `${sessionUrl(s.sid, 'sse')}?token=wrong&ack=0`), 404, 'session_unknown', 4001);
    assertError(await send(srv, s.sid, 'wrong', { frames: [] }), 404, 'session_unknown', 4001);
    assertError(await send(srv, s.sid, undefined, { token: 'wrong', frames: [] }), 404, 'session_unknown', 4001);
  });

  it('a missing token is refused like a wrong one (BAD-INPUTS 16)', T, async () => {
    const s = await httpSession(srv);
    const r = await request(srv, `${sessionUrl(s.sid, 'poll')}?ack=0`);
    assertError(r, r.status === 400 ? 400 : 404, ['session_unknown', 'bad_request']);
    const w = await send(srv, s.sid, undefined, { frames: [] });
    assertError(w, w.status === 400 ? 400 : 404, ['session_unknown', 'bad_request']);
  });

  it('HTTP: requests with a wrong token change nothing in the real session (BAD-INPUTS 16)', T, async () => {
    const s = await httpSession(srv);
    assertError(await send(srv, s.sid, 'wrong', { frames: [{ t: 'd', seq: 1, text: 'quiet:evil' }] }), 404, 'session_unknown');
    assertError(await send(srv, s.sid, 'wrong', { frames: [{ t: 'close', seq: 1, code: 1000 }] }), 404, 'session_unknown');
    assertError(await request(srv, `${sessionUrl(s.sid, 'poll')}?token=wrong&ack=0`), 404, 'session_unknown');
    assert.equal(await sendTexts(srv, s, 1, ['quiet:good']), 1);
    assert.deepEqual(await app().received(s.sid, 1), ['quiet:good']);
    assert.equal(srv.closes.get(s.sid), undefined, 'not closed');
  });

  it('WebSocket: a resume with a wrong token closes with 4001 and the real session still works (BAD-INPUTS 16)', T, async () => {
    const real = await RawWs.open(srv);
    const bad = await RawWs.connect(srv, resumeQuery(real.open.sid, 'B'.repeat(43), 0));
    assert.equal(bad.refused, undefined, `upgrade refused with ${bad.refused?.status}: expected close 4001`);
    assert.equal((await bad.closed).code, 4001);
    assert.equal(bad.inbox.pending().length, 0, 'no open frame, no data for the wrong token');
    real.c.sendText(1, 'after-bad-resume');
    const f = await real.c.nextData();
    assert.deepEqual([f.seq, f.text], [1, 'after-bad-resume'], 'the real WebSocket was not replaced or disturbed');
    assert.equal(srv.closes.get(real.open.sid), undefined);
    real.c.ws.terminate();
  });
});

describe('bad input: bodies, content types and methods (BAD-INPUTS 14, 15, 4)', () => {
  withCanary(() => srv);

  it('POST send: a body over maxBatchBytes → 413 body_too_large (close 1009) (BAD-INPUTS 14)', T, async () => {
    const s = await httpSession(srv);
    const frames = Array.from({ length: 10 }, (_, i) => ({ t: 'd', seq: i + 1, text: 'z'.repeat(500) }));
    assertError(await send(srv, s.sid, s.token, { frames }), 413, 'body_too_large', 1009);
    assert.equal(srv.received.get(s.sid), undefined, 'nothing of it delivered');
  });

  it('POST send: a chunked body over maxBatchBytes → 413 (BAD-INPUTS 14)', T, async () => {
    const s = await httpSession(srv);
    const sock = await rawConnect(srv);
    const got = readRawResponse(sock);
    sock.write(
      `POST /burrow${sessionUrl(s.sid, 'send')}?token=${s.token} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n` +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    );
    const chunk = 'q'.repeat(1000);
    for (let i = 0; i < 6 && !sock.destroyed; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    if (!sock.destroyed) sock.write('0\r\n\r\n');
    const r = await got;
    sock.destroy();
    assert.ok(r, 'an answer before the connection closed');
    assertError(r, 413, 'body_too_large', 1009);
  });

  it('POST send: a declared Content-Length of 1 TB → 413 at once, without waiting for the body (BAD-INPUTS 14)', T, async () => {
    const s = await httpSession(srv);
    const r = await rawHttp(
      srv,
      `POST /burrow${sessionUrl(s.sid, 'send')}?token=${s.token} HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1000000000000`,
    );
    assert.ok(r, 'an answer');
    assertError(r, 413, 'body_too_large', 1009);
  });

  it('POST send: a slow-trickled body → 408 or the request is aborted at bodyTimeout (BAD-INPUTS 14)', T, async () => {
    const s = await httpSession(srv);
    const sock = await rawConnect(srv);
    const got = readRawResponse(sock);
    sock.write(
      `POST /burrow${sessionUrl(s.sid, 'send')}?token=${s.token} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n` +
        'Content-Length: 100\r\nConnection: close\r\n\r\n{',
    );
    // A load, not a synchronisation: one byte every 100 ms until the server gives up on us.
    const trickle = setInterval(() => {
      if (!sock.destroyed) sock.write(' ');
    }, 100);
    try {
      const r = await got;
      if (r) assertError(r, 408, 'timeout');
    } finally {
      clearInterval(trickle);
      sock.destroy();
    }
  });

  it('POST P/sessions: an unexpected Content-Type → 400 bad_content_type (BAD-INPUTS 15)', T, async () => {
    const r = await handshake(srv, { v: 1, protocols: [] }, 'application/x-www-form-urlencoded');
    assertError(r, 400, 'bad_content_type', 1002);
  });

  for (const ct of ['multipart/form-data; boundary=x', 'text/html', 'application/xml', 'application/jsonx']) {
    it(`POST send: Content-Type ${ct} → 400 bad_content_type (BAD-INPUTS 15)`, T, async () => {
      const s = await httpSession(srv);
      const r = await send(srv, s.sid, s.token, { frames: [{ t: 'd', seq: 1, text: 'quiet:x' }] }, ct);
      assertError(r, 400, 'bad_content_type', 1002);
      assert.equal(srv.received.get(s.sid), undefined);
    });
  }

  it('POST send: a missing Content-Type → 400 bad_content_type (BAD-INPUTS 15)', T, async () => {
    const s = await httpSession(srv);
    const body = '{"frames":[]}';
    const r = await rawHttp(
      srv,
      `POST /burrow${sessionUrl(s.sid, 'send')}?token=${s.token} HTTP/1.1\r\nContent-Length: ${body.length}`,
      body,
    );
    assert.ok(r);
    assertError(r, 400, 'bad_content_type', 1002);
  });

  for (const ct of ['text/plain;charset=UTF-8', 'application/json', 'application/json; charset=utf-8', 'Text/Plain']) {
    it(`POST send: Content-Type ${ct} is accepted`, T, async () => {
      const s = await httpSession(srv);
      const r = await send(srv, s.sid, s.token, { frames: [] }, ct);
      assert.deepEqual([r.status, r.json], [200, { ack: 0 }]);
    });
  }

  for (const what of ['poll', 'sse'] as const) {
    it(`GET ${what} with a body → 400, and the request is closed (BAD-INPUTS 15)`, T, async () => {
      const s = await httpSession(srv);
      const r = await rawHttp(
        srv,
        `GET /burrow${sessionUrl(s.sid, what)}?token=${s.token}&ack=0 HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5`,
        'hello',
      );
      assert.ok(r, 'an answer');
      assertError(r, 400, ['bad_request', 'bad_method'], 1002);
    });
  }

  const methods: Array<[string, (s: OpenJson) => string, string[], string]> = [
    ['P/sessions', () => '/sessions', ['GET', 'PUT', 'DELETE', 'PATCH'], 'POST'],
    ['poll', (s) => `${sessionUrl(s.sid, 'poll')}?token=${s.token}&ack=0`, ['POST', 'PUT', 'DELETE'], 'GET'],
    ['sse', (s) => `${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=0`, ['POST', 'PUT', 'DELETE'], 'GET'],
    ['send', (s) => `${sessionUrl(s.sid, 'send')}?token=${s.token}`, ['GET', 'PUT', 'DELETE'], 'POST'],
    ['P/ws (no upgrade)', () => '/ws', ['POST', 'PUT', 'DELETE'], 'GET'],
    ['P/client.js', () => '/client.js', ['POST', 'PUT', 'DELETE'], 'GET'],
  ];
  for (const [name, path, bad, allow] of methods) {
    it(`wrong method on ${name} → 405 bad_method with Allow: ${allow}`, T, async () => {
      const s = await httpSession(srv);
      for (const m of bad) {
        const init: RequestInit = { method: m };
        if (m !== 'GET') {
          init.body = '{}';
          init.headers = { 'content-type': 'text/plain' };
        }
        const r = await request(srv, path(s), init);
        assertError(r, 405, 'bad_method');
        const allowed = (r.headers.get('allow') ?? '').split(',').map((x) => x.trim().toUpperCase());
        assert.ok(allowed.includes(allow), `${m}: Allow is ${JSON.stringify(r.headers.get('allow'))}`);
      }
    });
  }

  const upgradeHeaders =
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
  const upgrades: Array<[string, (s: OpenJson) => string]> = [
    ['GET poll', (s) => `GET /burrow${sessionUrl(s.sid, 'poll')}?token=${s.token}&ack=0`],
    ['GET sse', (s) => `GET /burrow${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=0`],
    ['POST send', (s) => `POST /burrow${sessionUrl(s.sid, 'send')}?token=${s.token}`],
    ['POST P/sessions', () => 'POST /burrow/sessions'],
    ['POST P/ws', () => 'POST /burrow/ws'],
  ];
  for (const [name, line] of upgrades) {
    it(`Upgrade: websocket on ${name} → 400 (BAD-INPUTS 4)`, T, async () => {
      const s = await httpSession(srv);
      const r = await rawHttp(srv, `${line(s)} HTTP/1.1\r\n${upgradeHeaders}\r\nContent-Type: text/plain\r\nContent-Length: 0`);
      assert.ok(r, 'an answer, not a dropped connection');
      assert.equal(r.status, 400, r.raw.slice(0, 200));
      assert.equal(typeof r.json?.error, 'string', `JSON error body: ${r.body}`);
    });
  }
});

describe('bad input: origins and upgrade headers (BAD-INPUTS 1, 2, 3)', () => {
  let guarded: TestServer;
  beforeAll(async () => {
    guarded = await startTestServer({ allowedOrigins: ['http://example.com'] }, { app: true });
  });
  afterAll(() => guarded?.close());
  withCanary(() => guarded);

  const evil = ['http://evil-example.com', 'http://example.com.evil.net', 'https://example.com', 'null'];

  it('a disallowed or look-alike Origin → 403 origin_forbidden on the handshake (BAD-INPUTS 3)', T, async () => {
    for (const origin of evil) {
      const r = await request(guarded, '/sessions', { method: 'POST', headers: { 'content-type': 'text/plain', origin }, body: '' });
      assertError(r, 403, 'origin_forbidden', 1008);
    }
    const ok = await request(guarded, '/sessions', { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'http://example.com' }, body: '' });
    assert.equal(ok.status, 200, ok.text);
  });

  it('a disallowed Origin → 403 on every SSE, poll and send request of a real session (BAD-INPUTS 3)', T, async () => {
    const s = await httpSession(guarded);
    const origin = 'http://evil-example.com';
    const q = `?token=${s.token}&ack=0`;
    assertError(await request(guarded, `${sessionUrl(s.sid, 'poll')}${q}`, { headers: { origin } }), 403, 'origin_forbidden', 1008);
    assertError(await request(guarded, `${sessionUrl(s.sid, 'sse')}${q}`, { headers: { origin } }), 403, 'origin_forbidden', 1008);
    const w = await request(guarded, `${sessionUrl(s.sid, 'send')}?token=${s.token}`, {
      method: 'POST',
      headers: { origin, 'content-type': 'text/plain' },
      body: '{"frames":[{"t":"d","seq":1,"text":"quiet:evil"}]}',
    });
    assertError(w, 403, 'origin_forbidden', 1008);
    assert.equal(guarded.received.get(s.sid), undefined);
  });

  it('a disallowed Origin → 403 before the WebSocket upgrade (BAD-INPUTS 3)', T, async () => {
    const c = await RawWs.connect(guarded, '', undefined, 'http://evil-example.com');
    assert.ok(c.refused, 'the upgrade is refused');
    assert.equal(c.refused.status, 403);
    assert.equal(JSON.parse(c.refused.body).error, 'origin_forbidden');
    const ok = await RawWs.connect(guarded, '', undefined, 'http://example.com');
    assert.equal(ok.refused, undefined);
    ok.ws.terminate();
  });

  it('thousands of request headers on the upgrade → 431/400 or the socket destroyed (BAD-INPUTS 1)', T, async () => {
    const many = Array.from({ length: 5000 }, (_, i) => `X-H${i}: v`).join('\r\n');
    const r = await rawHttp(
      guarded,
      `GET /burrow/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${many}`,
    );
    if (r) assert.ok([400, 431].includes(r.status), `status ${r.status}`);
  });

  for (const ext of ['constructor', '__proto__', 'permessage-deflate; a="' + '\\"'.repeat(5000), 'x; y="\\']) {
    it(`Sec-WebSocket-Extensions: ${ext.slice(0, 30)}… → 400, or ignored without negotiating anything (BAD-INPUTS 2)`, T, async () => {
      const r = await rawHttp(
        guarded,
        `GET /burrow/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: ${ext}`,
      );
      assert.ok(r, 'an answer');
      assert.ok([101, 400].includes(r.status), `status ${r.status}`);
      if (r.status === 101) assert.equal(r.headers['sec-websocket-extensions'], undefined, 'no extension negotiated');
    });
  }

  it('an unknown endpoint under the mount path → 404 with a JSON error', T, async () => {
    const r = await request(guarded, '/nope');
    assertError(r, 404, 'not_found');
  });
});

describe('bad input: WebSocket framing (BAD-INPUTS 6, 7, 8)', () => {
  withCanary(() => srv);

  const text = (s: string) => Buffer.from(s, 'utf8');
  const cases: Array<[string, Buffer, number]> = [
    ['RSV1 set (no extension negotiated) (BAD-INPUTS 6)', wsFrame({ opcode: 1, rsv: 4, payload: text('1:x') }), 1002],
    ['RSV2 set (BAD-INPUTS 6)', wsFrame({ opcode: 1, rsv: 2, payload: text('1:x') }), 1002],
    ['RSV3 set (BAD-INPUTS 6)', wsFrame({ opcode: 1, rsv: 1, payload: text('1:x') }), 1002],
    ['unknown data opcode 0x3 (BAD-INPUTS 6)', wsFrame({ opcode: 3, payload: text('1:x') }), 1002],
    ['unknown control opcode 0xB (BAD-INPUTS 6)', wsFrame({ opcode: 0xb }), 1002],
    ['an unmasked client frame (BAD-INPUTS 6)', wsFrame({ opcode: 1, masked: false, payload: text('1:x') }), 1002],
    ['a ping of 126 bytes (BAD-INPUTS 6)', wsFrame({ opcode: 9, payload: Buffer.alloc(126, 0x61) }), 1002],
    ['a fragmented ping (BAD-INPUTS 6)', wsFrame({ opcode: 9, fin: false, payload: text('p') }), 1002],
    ['a continuation with nothing to continue (BAD-INPUTS 6)', wsFrame({ opcode: 0, payload: text('1:x') }), 1002],
    ['invalid UTF-8 in a text frame (BAD-INPUTS 7)', wsFrame({ opcode: 1, payload: Buffer.from([0x31, 0x3a, 0xff, 0xfe]) }), 1007],
    ['a UTF-16 surrogate encoded in UTF-8 (BAD-INPUTS 7)', wsFrame({ opcode: 1, payload: Buffer.from([0x31, 0x3a, 0xed, 0xa0, 0x80]) }), 1007],
    ['a declared 16-bit length over maxPayload (BAD-INPUTS 8)', wsFrame({ opcode: 1, declaredLength: 60000n }), 1009],
    ['a declared length of 2^40 (BAD-INPUTS 8)', wsFrame({ opcode: 2, declaredLength: 2n ** 40n }), 1009],
    ['a declared length of 2^63 - 1 (BAD-INPUTS 8)', wsFrame({ opcode: 2, declaredLength: 2n ** 63n - 1n }), 1009],
  ];
  for (const [name, frame, code] of cases) {
    it(`${name} → close ${code}`, T, async () => {
      const raw = await RawWsSocket.connect(srv);
      const first = await raw.frames.take();
      assert.equal(first.opcode, 1, 'the open frame comes first, as text');
      raw.write(frame);
      assert.equal(await raw.closeCode(), code);
    });
  }

  it('hundreds of thousands of tiny continuation fragments → close 1008/1009, memory bounded (BAD-INPUTS 9)', T, async () => {
    const raw = await RawWsSocket.connect(srv);
    await raw.frames.take();
    const parts = [wsFrame({ opcode: 1, fin: false, payload: text('1:') })];
    const one = wsFrame({ opcode: 0, fin: false, payload: text('x') });
    for (let i = 0; i < 200_000; i++) parts.push(one);
    raw.write(Buffer.concat(parts));
    const code = await raw.closeCode();
    assert.ok([1008, 1009].includes(code), `close ${code}`);
  });

  it('a message fragmented by hand (with a ping in between) is reassembled and accepted', T, async () => {
    const raw = await RawWsSocket.connect(srv);
    await raw.frames.take();
    raw.write(
      Buffer.concat([
        wsFrame({ opcode: 1, fin: false, payload: text('1:fr') }),
        wsFrame({ opcode: 9, payload: text('p') }),
        wsFrame({ opcode: 0, fin: false, payload: text('ag') }),
        wsFrame({ opcode: 0, fin: true, payload: text('ment') }),
      ]),
    );
    const f = await raw.frames.take((x) => x.opcode === 1 && /^\d+:/.test(x.payload.toString()));
    assert.equal(f.payload.toString(), '1:fragment');
    raw.sock.destroy();
  });

  it('a well-formed hand-made frame is accepted (the raw framing itself is right)', T, async () => {
    const raw = await RawWsSocket.connect(srv);
    await raw.frames.take();
    raw.write(wsFrame({ opcode: 1, payload: text('1:raw-ok') }));
    const f = await raw.frames.take((x) => x.opcode === 1 && x.payload.toString().includes(':'));
    assert.equal(f.payload.toString(), '1:raw-ok');
    raw.sock.destroy();
  });
});

describe('overload (BAD-INPUTS 29)', () => {
  let full: TestServer;
  beforeAll(async () => {
    full = await startTestServer({ limits: { maxSessions: 2 } }, { app: true });
  });
  afterAll(() => full?.close());

  it('past maxSessions: the HTTP handshake answers 503 overloaded with Retry-After, a WebSocket closes 1013', T, async () => {
    const a = await RawWs.open(full);
    const b = await httpSession(full);
    const r = await handshake(full);
    assertError(r, 503, 'overloaded', 1013);
    assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After in seconds');
    const c = await RawWs.connect(full);
    assert.equal(c.refused, undefined, `upgrade refused with ${c.refused?.status}`);
    assert.equal((await c.closed).code, 1013);
    // The sessions already there keep working.
    a.c.sendText(1, 'still');
    assert.equal((await a.c.nextData()).text, 'still');
    assert.equal(await sendTexts(full, b, 1, ['quiet:still']), 1);
    a.c.ws.terminate();
  });
});

describe('bad input: a client that stops reading (BAD-INPUTS 19)', () => {
  withCanary(() => srv);

  it('a session that never polls while the server sends: buffer reaches maxBufferedMessages → close 4003, loud', T, async () => {
    const s = await httpSession(srv);
    await sendTexts(srv, s, 1, ['flood:200']);
    const closed = await app().closed(s.sid);
    assert.equal(closed.code, 4003, `server close event ${JSON.stringify(closed)}`);
    // The client learns it too: what was buffered, then the close frame with 4003.
    const frames = await pollUntil(srv, s, 0, (fs) => fs.some((f) => f.t === 'close'));
    const data = dataOf(frames);
    assert.ok(data.length <= LIMITS.maxBufferedMessages, `${data.length} data frames buffered`);
    assert.deepEqual(
      data.map((f) => f.text),
      data.map((_, i) => `s${i + 1}`),
    );
    const close = frames.at(-1)!;
    assert.deepEqual([close.t, close.code], ['close', 4003]);
  });
});
