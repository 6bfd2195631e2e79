/**
 * Protocol suite (see ./server.ts): what every route refuses before anything else: a disallowed Origin,
 * hostile upgrade headers, a wrong method, an upgrade or a body where none belongs, an unknown endpoint.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  assertError,
  httpSession,
  type OpenJson,
  rawHttp,
  RawWs,
  request,
  sessionUrl,
} from '../fixtures/raw-protocol.js';
import { startProtocolServer, T, withCanary } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

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

  /** Each header value, shortened for the test's title. */
  const extensions = ['constructor', '__proto__', 'permessage-deflate; a="' + '\\"'.repeat(5000), 'x; y="\\'].map((ext) => [ext.slice(0, 30), ext]);
  it.each(extensions)('Sec-WebSocket-Extensions: %s… → 400, or ignored without negotiating anything (BAD-INPUTS 2)', T, async (_short, ext) => {
    const r = await rawHttp(
      guarded,
      `GET /burrow/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: ${ext}`,
    );
    assert.ok(r, 'an answer');
    assert.ok([101, 400].includes(r.status), `status ${r.status}`);
    if (r.status === 101) assert.equal(r.headers['sec-websocket-extensions'], undefined, 'no extension negotiated');
  });

  it('an unknown endpoint under the mount path → 404 with a JSON error', T, async () => {
    const r = await request(guarded, '/nope');
    assertError(r, 404, 'not_found');
  });
});

describe('bad input: bodies, content types and methods (BAD-INPUTS 14, 15, 4)', () => {
  withCanary(() => srv);

  it.each(['poll', 'sse'] as const)('GET %s with a body → 400, and the request is closed (BAD-INPUTS 15)', T, async (what) => {
    const s = await httpSession(srv);
    const r = await rawHttp(
      srv,
      `GET /burrow${sessionUrl(s.sid, what)}?token=${s.token}&ack=0 HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5`,
      'hello',
    );
    assert.ok(r, 'an answer');
    assertError(r, 400, ['bad_request', 'bad_method'], 1002);
  });

  /** Route, the method it allows, its path, the methods it refuses (route and allowed method name the test). */
  const methods: Array<[name: string, allow: string, path: (s: OpenJson) => string, bad: string[]]> = [
    // GET P/sessions?v=1 is the SSE handshake (a test below); other methods are refused.
    ['P/sessions', 'POST', () => '/sessions', ['PUT', 'DELETE', 'PATCH']],
    ['poll', 'GET', (s) => `${sessionUrl(s.sid, 'poll')}?token=${s.token}&ack=0`, ['POST', 'PUT', 'DELETE']],
    ['sse', 'GET', (s) => `${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=0`, ['POST', 'PUT', 'DELETE']],
    ['send', 'POST', (s) => `${sessionUrl(s.sid, 'send')}?token=${s.token}`, ['GET', 'PUT', 'DELETE']],
    ['P/ws (no upgrade)', 'GET', () => '/ws', ['POST', 'PUT', 'DELETE']],
    ['P/client.js', 'GET', () => '/client.js', ['POST', 'PUT', 'DELETE']],
  ];

  it.each(methods)('wrong method on %s → 405 bad_method with Allow: %s', T, async (_name, allow, path, bad) => {
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

  it('GET P/sessions without v=1 → 400 and no session (the SSE handshake is versioned like the POST)', T, async () => {
    const before = srv.burrow.sessions;
    for (const q of ['', '?protocols=chat', '?v=2', '?v=x']) {
      const r = await request(srv, `/sessions${q}`, { method: 'GET' });
      assertError(r, 400, ['bad_request', 'unsupported_version', 'bad_version']);
    }
    assert.equal(srv.burrow.sessions, before);
  });

  const upgradeHeaders =
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';

  const upgrades: Array<[string, (s: OpenJson) => string]> = [
    ['GET poll', (s) => `GET /burrow${sessionUrl(s.sid, 'poll')}?token=${s.token}&ack=0`],
    ['GET sse', (s) => `GET /burrow${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=0`],
    ['POST send', (s) => `POST /burrow${sessionUrl(s.sid, 'send')}?token=${s.token}`],
    ['POST P/sessions', () => 'POST /burrow/sessions'],
    ['POST P/ws', () => 'POST /burrow/ws'],
  ];

  it.each(upgrades)('Upgrade: websocket on %s → 400 (BAD-INPUTS 4)', T, async (_name, line) => {
    const s = await httpSession(srv);
    const r = await rawHttp(srv, `${line(s)} HTTP/1.1\r\n${upgradeHeaders}\r\nContent-Type: text/plain\r\nContent-Length: 0`);
    assert.ok(r, 'an answer, not a dropped connection');
    assert.equal(r.status, 400, r.raw.slice(0, 200));
    assert.equal(typeof r.json?.error, 'string', `JSON error body: ${r.body}`);
  });
});
