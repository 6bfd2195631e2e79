/**
 * Protocol suite (see ./server.ts): `GET {path}/sessions/:sid/sse`, the SSE downstream. Resend from
 * `?ack=` and `Last-Event-ID`, event ids, the preamble, pongs and idle heartbeats on the stream.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  httpSession,
  poll,
  pollUntil,
  send,
  sendTexts,
  SseStream,
} from '../fixtures/raw-protocol.js';
import { dataOf, startProtocolServer, T } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

describe('seqs and acks', () => {
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
});

describe('heartbeats', () => {
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
});

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
});
