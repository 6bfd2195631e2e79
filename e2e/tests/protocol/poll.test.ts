/**
 * Protocol suite (see ./server.ts): `GET {path}/sessions/:sid/poll`, the long-poll downstream. Resend
 * from `?ack=`, holding and answering, a poll replaced by another, and a client that stops polling.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  appWatch,
  httpSession,
  poll,
  pollUntil,
  send,
  sendTexts,
  type Wire,
} from '../fixtures/raw-protocol.js';
import { dataOf, heldPoll, LIMITS, startProtocolServer, T, withCanary } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

const app = () => appWatch(srv);

describe('seqs and acks', () => {
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
});

describe('heartbeats', () => {
  it('poll: a ping POSTed upstream is answered by a pong in the held poll', T, async () => {
    const s = await httpSession(srv);
    const p = await heldPoll(srv, s, 0);
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

describe('HTTP transport details', () => {
  it('poll: held until data arrives, then answered with it', T, async () => {
    const s = await httpSession(srv);
    const ac = new AbortController();
    const p = poll(srv, s.sid, s.token, 0, ac.signal);
    await sendTexts(srv, s, 1, ['wake']);
    const r = await p;
    assert.equal(r.status, 200);
    assert.deepEqual(dataOf(r.json.frames).map((f: Wire) => f.text), ['wake']);
  });

  it('poll: a POST whose messages are all echoed answers the held poll once, with every echo', T, async () => {
    const s = await httpSession(srv);
    const p = await heldPoll(srv, s, 0);
    try {
      await sendTexts(srv, s, 1, ['a', 'b', 'c', 'd', 'e']);
      const r = await p.answer;
      assert.equal(r.status, 200);
      assert.deepEqual(dataOf(r.json.frames).map((f: Wire) => f.text), ['a', 'b', 'c', 'd', 'e']);
    } finally {
      p.abort();
    }
  });

  it('poll: an answer stops before the frame that would pass maxPollBytes; the next poll carries the rest', T, async () => {
    const small = await startTestServer({ limits: { maxPollBytes: 10 } }, { app: true });
    try {
      const s = await httpSession(small);
      const p = await heldPoll(small, s, 0);
      try {
        await sendTexts(small, s, 1, ['aaaa', 'bbbb', 'cccc']);
        const first = await p.answer;
        assert.deepEqual(dataOf(first.json.frames).map((f: Wire) => f.text), ['aaaa', 'bbbb']);
      } finally {
        p.abort();
      }
      const rest = await poll(small, s.sid, s.token, 2);
      assert.deepEqual(dataOf(rest.json.frames).map((f: Wire) => [f.seq, f.text]), [[3, 'cccc']]);
    } finally {
      await small.close();
    }
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
    const p = await heldPoll(srv, s, 0); // asserts the 409 of the older poll
    try {
      await sendTexts(srv, s, 1, ['to-the-newer']);
      const r = await p.answer;
      assert.equal(r.status, 200);
      assert.deepEqual(dataOf(r.json.frames).map((f: Wire) => f.text), ['to-the-newer']);
    } finally {
      p.abort();
    }
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
