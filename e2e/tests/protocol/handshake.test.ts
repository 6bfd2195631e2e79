/**
 * Protocol suite (see ./server.ts): the handshake. `POST {path}/sessions` answers the open frame as
 * JSON; a WebSocket's first message is the same frame. Subprotocols, versions, bodies the handshake
 * refuses, and load shedding past maxSessions.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  assertError,
  handshake,
  httpSession,
  RawWs,
  request,
  sendTexts,
} from '../fixtures/raw-protocol.js';
import { assertOpen, startProtocolServer, T, withCanary, useDefaultLimitsServer } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

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

describe('bad input: deep nesting and huge strings (BAD-INPUTS 12)', () => {
  const big = useDefaultLimitsServer(); // default limits, so the parser really sees the input

  const deep = 100_000;

  it('POST P/sessions: 100k-deep nesting → 400', T, async () => {
    const r = await handshake(big(), `{"v":1,"protocols":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    assert.ok([400, 413].includes(r.status), `status ${r.status}`);
    assert.equal(typeof r.json?.error, 'string');
  });
});

describe('bad input: bodies, content types and methods (BAD-INPUTS 14, 15, 4)', () => {
  withCanary(() => srv);

  it('POST P/sessions: an unexpected Content-Type → 400 bad_content_type (BAD-INPUTS 15)', T, async () => {
    const r = await handshake(srv, { v: 1, protocols: [] }, 'application/x-www-form-urlencoded');
    assertError(r, 400, 'bad_content_type', 1002);
  });
});
