/**
 * Protocol suite (see ./server.ts): `POST {path}/sessions/:sid/send`, the HTTP upstream. Cumulative
 * acks, retried batches, gaps and bogus acks, and every body, content type and frame it must refuse.
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
  rawConnect,
  rawHttp,
  readRawResponse,
  request,
  send,
  sendTexts,
  sessionUrl,
  type Wire,
} from '../fixtures/raw-protocol.js';
import { dataOf, LIMITS, startProtocolServer, T, withCanary, useDefaultLimitsServer } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

const app = () => appWatch(srv);

describe('seqs and acks', () => {
  it('HTTP: each POST answers the cumulative ack of the session', T, async () => {
    const s = await httpSession(srv);
    assert.equal(await sendTexts(srv, s, 1, ['quiet:a', 'quiet:b']), 2);
    assert.equal(await sendTexts(srv, s, 3, ['quiet:c']), 3);
    const r = await send(srv, s.sid, s.token, { frames: [] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ack: 3 });
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
});

describe('HTTP transport details', () => {
  it('send: the token may be in the body instead of the query', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, undefined, { token: s.token, frames: [{ t: 'd', seq: 1, text: 'quiet:body-token' }] });
    assert.deepEqual([r.status, r.json], [200, { ack: 1 }]);
  });
});

describe('bad input: malformed Burrow frames (BAD-INPUTS 11)', () => {
  withCanary(() => srv);

  /** Name and error code first: they make the test title. */
  const httpCases: Array<[name: string, code: string, body: string]> = [
    ['non-JSON body', 'bad_json', 'hello'],
    ['truncated JSON body', 'bad_json', '{"frames":[{"t":"d","seq":1,"text":"x"'],
    ['an empty body', 'bad_json', ''],
    ['a body that is an array', 'bad_request', '[]'],
    ['frames that are not an array', 'bad_request', '{"frames":{}}'],
    ['a frame that is not an object', 'bad_frame', '{"frames":[1]}'],
    ['a data frame without text or bin', 'bad_frame', '{"frames":[{"t":"d","seq":1}]}'],
    ['bin that is not base64', 'bad_frame', '{"frames":[{"t":"d","seq":1,"bin":"***"}]}'],
    ['a seq that is a string', 'bad_seq', '{"frames":[{"t":"d","seq":"1","text":"x"}]}'],
    ['a fractional seq', 'bad_seq', '{"frames":[{"t":"d","seq":1.5,"text":"x"}]}'],
    ['an ack that is negative', 'bad_seq', '{"ack":-1,"frames":[]}'],
    ['a token that is not a string', 'bad_request', '{"token":5,"frames":[]}'],
    ['an unknown frame type', 'unknown_frame_type', '{"frames":[{"t":"zap"}]}'],
    ['a frame type inherited from Object.prototype', 'unknown_frame_type', '{"frames":[{"t":"constructor"}]}'],
    ['an open frame from the client', 'bad_frame', '{"frames":[{"t":"open"}]}'],
  ];

  it.each(httpCases)('POST send: %s → 400 %s (BAD-INPUTS 11)', T, async (_name, code, body) => {
    const s = await httpSession(srv);
    assertError(await send(srv, s.sid, s.token, body), 400, code, 1002);
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

  it('POST send: a data frame over maxPayload → 413 payload_too_large (close 1009)', T, async () => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, { frames: [{ t: 'd', seq: 1, text: 'x'.repeat(LIMITS.maxPayload + 1) }] });
    assertError(r, 413, 'payload_too_large', 1009);
  });
});

describe('bad input: deep nesting and huge strings (BAD-INPUTS 12)', () => {
  const big = useDefaultLimitsServer(); // default limits, so the parser really sees the input

  const deep = 100_000;

  it('POST send: 100k-deep nesting in frames → 400, no stack overflow', T, async () => {
    const s = await httpSession(big());
    const r = await send(big(), s.sid, s.token, `{"frames":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    assert.ok([400, 413].includes(r.status), `status ${r.status}`);
    assertError(r, r.status, ['bad_frame', 'bad_json', 'bad_request', 'body_too_large']);
  });

  it('POST send: 100k unclosed [ → 400 bad_json', T, async () => {
    const s = await httpSession(big());
    const r = await send(big(), s.sid, s.token, `{"frames":${'['.repeat(deep)}`);
    assertError(r, 400, 'bad_json', 1002);
  });

  it('POST send: a 10 MB string → 413', T, async () => {
    const s = await httpSession(big());
    const r = await send(big(), s.sid, s.token, { frames: [{ t: 'd', seq: 1, text: 'x'.repeat(10 * 1024 * 1024) }] });
    assertError(r, 413, ['body_too_large', 'payload_too_large'], 1009);
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

  it.each(['multipart/form-data; boundary=x', 'text/html', 'application/xml', 'application/jsonx'])('POST send: Content-Type %s → 400 bad_content_type (BAD-INPUTS 15)', T, async (ct) => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, { frames: [{ t: 'd', seq: 1, text: 'quiet:x' }] }, ct);
    assertError(r, 400, 'bad_content_type', 1002);
    assert.equal(srv.received.get(s.sid), undefined);
  });

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

  it.each(['text/plain;charset=UTF-8', 'application/json', 'application/json; charset=utf-8', 'Text/Plain'])('POST send: Content-Type %s is accepted', T, async (ct) => {
    const s = await httpSession(srv);
    const r = await send(srv, s.sid, s.token, { frames: [] }, ct);
    assert.deepEqual([r.status, r.json], [200, { ack: 0 }]);
  });
});
