/**
 * Protocol suite (see ./server.ts): one session across its requests and transports. Resume on the same
 * or another transport, a newer transport replacing an older one, close from either side, expiry of the
 * resume window, and session ids and tokens that must find nothing.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  appWatch,
  assertError,
  httpSession,
  poll,
  pollUntil,
  rawHttp,
  RawWs,
  request,
  resumeQuery,
  send,
  sendTexts,
  sessionUrl,
  SseStream,
  type Wire,
} from '../fixtures/raw-protocol.js';
import { dataOf, heldPoll, startProtocolServer, T, withCanary } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

const app = () => appWatch(srv);

describe('seqs and acks', () => {
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
});

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
    const p = await heldPoll(srv, s, 0);
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

describe('heartbeats: idle transports', () => {
  let hb: TestServer;

  beforeAll(async () => {
    hb = await startTestServer({ heartbeat: 150, heartbeatTimeout: 300, resumeWindow: 5000 }, { app: true });
  });

  afterAll(() => hb?.close());

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

describe('bad input: malformed Burrow frames (BAD-INPUTS 11)', () => {
  withCanary(() => srv);

  it.each(['abc', '-1', '1.5', '1e3', '99999999999999999', '0x10'])('?ack=%s on poll and SSE → 400; on a WebSocket resume → close 1002 (BAD-INPUTS 11)', T, async (bad) => {
    const s = await httpSession(srv);
    assertError(await request(srv, `${sessionUrl(s.sid, 'poll')}?token=${s.token}&ack=${bad}`), 400, ['bad_request', 'bad_seq'], 1002);
    assertError(await request(srv, `${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=${bad}`), 400, ['bad_request', 'bad_seq'], 1002);
    const c = await RawWs.connect(srv, `?sid=${s.sid}&token=${s.token}&ack=${bad}`);
    assert.equal(c.refused, undefined, `upgrade refused with ${c.refused?.status}`);
    assert.equal((await c.closed).code, 1002);
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

  it.each(ids)('session id %s → 404 session_unknown on poll, sse and send (BAD-INPUTS 13)', T, async (_name, sid) => {
    assertError(await request(srv, `${sessionUrl(sid, 'poll')}?token=t&ack=0`), 404, 'session_unknown', 4001);
    assertError(await request(srv, `${sessionUrl(sid, 'sse')}?token=t&ack=0`), 404, 'session_unknown', 4001);
    assertError(await send(srv, sid, 't', { frames: [] }), 404, 'session_unknown', 4001);
  });

  it.each(ids)('session id %s → close 4001 on a WebSocket resume (BAD-INPUTS 13)', T, async (_name, sid) => {
    const c = await RawWs.connect(srv, resumeQuery(sid, 't', 0));
    assert.equal(c.refused, undefined, `upgrade refused with ${c.refused?.status}: expected close 4001`);
    assert.equal((await c.closed).code, 4001);
    assert.equal(c.inbox.pending().length, 0, 'no open frame');
  });

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
