import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { afterAll, beforeAll, test } from 'vitest';
import { createBurrow, MemoryStore, type Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { connectWs, getJson, postJson, waitFor } from './helpers.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ allowedOrigins: ['https://example.com'], pollTimeout: 15000 });
  srv.burrow.on('message', (session, data) => void session.send(data));
});

afterAll(() => srv.close());

async function handshake(base = srv.http, protocols: string[] = []): Promise<{ sid: string; token: string }> {
  const r = await postJson(`${base}/sessions`, { v: 1, protocols });
  assert.equal(r.status, 200);
  assert.equal(r.json.t, 'open');
  return r.json;
}

test('routing: 404, 405 with Allow, bad session ids, GET with a body, upgrade on an HTTP route', async () => {
  let r = await getJson(`${srv.http}/nope`);
  assert.deepEqual([r.status, r.json.error], [404, 'not_found']);
  assert.match(r.headers.get('content-type')!, /application\/json/);
  // GET is the SSE handshake (an event stream); other methods are not allowed.
  const del = await fetch(`${srv.http}/sessions`, { method: 'DELETE' });
  assert.deepEqual([del.status, ((await del.json()) as { error: string }).error, del.headers.get('allow')], [405, 'bad_method', 'POST, GET']);
  r = await getJson(`${srv.http}/sessions/AAAAAAAAAAAAAAAAAAAAAA/send`);
  assert.deepEqual([r.status, r.headers.get('allow')], [405, 'POST']);
  for (const sid of ['__proto__', 'constructor', '..%2Fx', 'x'.repeat(10000)]) {
    r = await getJson(`${srv.http}/sessions/${sid}/poll?token=x`);
    assert.deepEqual([r.status, r.json.error, r.json.close], [404, 'session_unknown', 4001], sid.slice(0, 20));
  }
  r = await getJson(`${srv.http}/ws`);
  assert.equal(r.status, 426);
  // RFC 9110 15.5.22 and 7.8: a 426 names the protocol in Upgrade, and a sender of Upgrade lists it in Connection.
  const head = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    const req = request(`${srv.http}/ws`, (res) => {
      res.resume();
      resolve(res.headers);
    });
    req.on('error', reject);
    req.end();
  });
  assert.deepEqual([head.upgrade, head.connection?.toLowerCase()], ['websocket', 'upgrade']);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${srv.http}/sessions/AAAAAAAAAAAAAAAAAAAAAA/poll`, { method: 'GET', headers: { 'content-length': '5' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end('hello');
  });
  assert.equal(status, 400);
  // Outside the mount path, the app's own handler answers.
  const outside = await fetch(`${srv.http.replace('/burrow', '')}/elsewhere`);
  assert.equal(await outside.text(), 'not burrow');
});

test('an upgrade outside the mount path, with Burrow the only upgrade listener, is refused with 400 JSON on a socket that has an error listener', async () => {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  // Not events.once: it would add an 'error' listener of its own.
  const closed = new Promise((resolve) => socket.on('close', resolve));
  const req = Object.assign(new PassThrough(), { url: '/elsewhere/ws', method: 'GET', headers: { upgrade: 'websocket' } });
  srv.server.emit('upgrade', req, socket, Buffer.alloc(0));
  // A reset while the refusal is written must land on a listener, not end the process.
  assert.ok(socket.listenerCount('error') > 0);
  await closed;
  const answer = Buffer.concat(written).toString();
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error, 'bad_request');
});

/** Writes `text` on a new socket to `port` and resolves with all that came back once the server closes it. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.end(text);
  });
}

const wsUpgrade = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

// Regression (review of the HTTP edge, 2026-12-03): each Burrow took the other for "another upgrade
// listener" and left the upgrade to it, so nobody answered and the socket stayed open for good.
test('two Burrows attached to one server: an upgrade to a path neither serves gets one 400 and is closed; each still serves its own', async () => {
  const a = createBurrow({ path: '/a' });
  const b = createBurrow({ path: '/b' });
  const server = createServer((req, res) => {
    if (!a.handle(req, res) && !b.handle(req, res)) res.writeHead(404).end();
  });
  a.attach(server);
  b.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const answer = await rawExchange(port, wsUpgrade('/c/ws'));
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(answer.match(/HTTP\/1\.1 /g)?.length, 1);
    assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error, 'bad_request');
    for (const path of ['/a', '/b']) {
      const c = await connectWs(`ws://127.0.0.1:${port}${path}/ws`);
      assert.equal((await c.nextJson()).t, 'open', path);
      c.ws.terminate();
    }
    // With /a gone, /b still serves; with both gone, no upgrade listener is left behind.
    await a.close();
    assert.match(await rawExchange(port, wsUpgrade('/c/ws')), /^HTTP\/1\.1 400 /);
    const c = await connectWs(`ws://127.0.0.1:${port}/b/ws`);
    assert.equal((await c.nextJson()).t, 'open');
    c.ws.terminate();
    await b.close();
    assert.equal(server.listenerCount('upgrade'), 0);
  } finally {
    await a.close();
    await b.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// Regression (review of the HTTP edge, 2026-12-03): once attach() was called, `curl --http2` on an
// http:// URL (`Upgrade: h2c`, which a server may ignore) got Burrow's 400 on every route of the app.
test('an upgrade that is not WebSocket is answered by the app as a plain request: its own route 200, a Burrow route 400, one with a body 400', async () => {
  const app = await startTestServer({}, {
    routes: (req, res) => {
      if (req.url !== '/app') return false;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`app route, upgrade=${req.headers.upgrade}`);
      return true;
    },
  });
  const h2c = (line: string, extra = ''): string =>
    `${line} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n${extra}\r\n`;
  try {
    const own = await rawExchange(app.port, h2c('GET /app'));
    assert.match(own, /^HTTP\/1\.1 200 /);
    assert.match(own, /\r\nConnection: close\r\n/i);
    assert.match(own, /app route, upgrade=h2c/);
    const burrow = await rawExchange(app.port, h2c('GET /burrow/health'));
    assert.match(burrow, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(burrow.slice(burrow.indexOf('\r\n\r\n') + 4)).error, 'bad_request');
    // Node left the body unparsed, so it cannot be handed on.
    assert.match(await rawExchange(app.port, h2c('POST /app', 'Content-Type: text/plain\r\nContent-Length: 5\r\n') + 'hello'), /^HTTP\/1\.1 400 /);
    // WebSocket upgrades are still Burrow's alone.
    assert.match(await rawExchange(app.port, wsUpgrade('/app')), /^HTTP\/1\.1 400 /);
  } finally {
    await app.close();
  }
});

test('origins: exact match only, on every request', async () => {
  for (const origin of ['https://evil-example.com', 'https://example.com.evil.org', 'http://example.com']) {
    const r = await getJson(`${srv.http}/sessions/AAAAAAAAAAAAAAAAAAAAAA/poll`, { headers: { origin } });
    assert.deepEqual([r.status, r.json.error], [403, 'origin_forbidden'], origin);
  }
  const ok = await fetch(`${srv.http}/sessions`, { method: 'POST', headers: { origin: 'https://example.com', 'content-type': 'text/plain' }, body: '{"v":1}' });
  assert.equal(ok.status, 200);
});

test('handshake: content type, version, protocols; bodies over the limit get 413', async () => {
  let r = await postJson(`${srv.http}/sessions`, { v: 1 }, 'application/x-www-form-urlencoded');
  assert.deepEqual([r.status, r.json.error], [400, 'bad_content_type']);
  r = await postJson(`${srv.http}/sessions`, { v: 2 });
  assert.deepEqual([r.status, r.json.error, r.json.close], [400, 'unsupported_version', 4005]);
  const open = await postJson(`${srv.http}/sessions`, { v: 1, protocols: ['b', 'a'] }, 'application/json');
  assert.deepEqual([open.json.protocol, open.json.resumed, open.json.ack], ['b', false, 0]);
  const { sid, token } = open.json;
  r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, 'x'.repeat(9 * 1024 * 1024));
  assert.deepEqual([r.status, r.json.error], [413, 'body_too_large']);
});

test('polling + send: round trip, retried batch delivered once, bogus ack trims nothing, 409 on a second poll', async () => {
  const { sid, token } = await handshake();
  const got: string[] = [];
  const onMessage = (s: Session, d: string | Buffer): void => {
    if (s.id === sid) got.push(String(d));
  };
  srv.burrow.on('message', onMessage);
  const batch = { frames: [{ t: 'd', seq: 1, text: 'one' }, { t: 'd', seq: 2, bin: 'AAEC' }] };
  let r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, batch);
  assert.deepEqual([r.status, r.json], [200, { ack: 2 }]);
  // The same batch again (a retry after a lost response): acknowledged, not delivered twice.
  r = await postJson(`${srv.http}/sessions/${sid}/send`, { ...batch, token });
  assert.deepEqual(r.json, { ack: 2 });
  assert.deepEqual(got, ['one', '\u0000\u0001\u0002']);
  srv.burrow.off('message', onMessage);

  const poll = await getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`);
  assert.equal(poll.status, 200);
  assert.deepEqual(poll.json.frames, [
    { t: 'd', seq: 1, text: 'one' },
    { t: 'd', seq: 2, bin: 'AAEC' },
  ]);
  // Polling never removes frames: the same ack gets the same frames.
  assert.deepEqual((await getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=1`)).json.frames, [{ t: 'd', seq: 2, bin: 'AAEC' }]);

  // An ack for seqs never sent trims what exists and nothing appended later.
  r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { ack: 1000, frames: [] });
  assert.equal(r.status, 200);
  r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 3, text: 'three' }] });
  assert.deepEqual(r.json, { ack: 3 });
  assert.deepEqual((await getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`)).json.frames, [{ t: 'd', seq: 3, text: 'three' }]);
});

test('polling: a newer poll answers the held one with 409, then gets the next frame', async () => {
  const { sid, token } = await handshake();
  const attached = waitFor<[Session]>(srv.burrow, 'transport', (s) => s.id === sid);
  const first = getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`);
  await attached;
  const second = getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`);
  const replaced = await first;
  assert.deepEqual([replaced.status, replaced.json.error, replaced.json.close], [409, 'poll_replaced', 4004]);
  const r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 1, text: 'three' }] });
  assert.deepEqual(r.json, { ack: 1 });
  assert.deepEqual((await second).json.frames, [{ t: 'd', seq: 1, text: 'three' }]);
});

test('wrong token and bad frames are refused without disturbing the session', async () => {
  const { sid, token } = await handshake();
  let r = await postJson(`${srv.http}/sessions/${sid}/send?token=wrong`, { frames: [] });
  assert.deepEqual([r.status, r.json.error], [404, 'session_unknown']);
  r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, '{"frames":[{"t":"zz"}]}');
  assert.deepEqual([r.status, r.json.error, r.json.close], [400, 'unknown_frame_type', 1002]);
  r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, '['.repeat(100000));
  assert.deepEqual([r.status, r.json.error], [400, 'bad_json']);
  // A gap: applied up to it, and the ack says where to resend from.
  r = await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 1, text: 'a' }, { t: 'd', seq: 3, text: 'c' }] });
  assert.deepEqual([r.status, r.json], [200, { ack: 1 }]);
});

test('SSE: headers, padding, first ack event, frames with id, Last-Event-ID resume', async () => {
  const { sid, token } = await handshake();
  await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 1, text: 'hi' }] });
  const ac = new AbortController();
  const res = await fetch(`${srv.http}/sessions/${sid}/sse?token=${token}&ack=0`, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
  assert.equal(res.headers.get('x-accel-buffering'), 'no');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('id: 1\n')) text += (await reader.read()).value ?? '';
  assert.ok(text.startsWith(`:${' '.repeat(2048)}\n\n`));
  assert.ok(text.includes('data: {"t":"ack","ack":1}\n\n'));
  assert.ok(text.includes('id: 1\ndata: {"t":"d","seq":1,"text":"hi"}\n\n'));
  // A ping over POST is answered with a pong on the stream.
  await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'ping' }] });
  while (!text.includes('data: {"t":"pong"}')) text += (await reader.read()).value ?? '';
  ac.abort();

  await postJson(`${srv.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 2, text: 'again' }] });
  const res2 = await fetch(`${srv.http}/sessions/${sid}/sse?token=${token}&ack=0`, { headers: { 'last-event-id': '1' } });
  const reader2 = res2.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text2 = '';
  while (!text2.includes('id: 2\n')) text2 += (await reader2.read()).value ?? '';
  assert.ok(!text2.includes('id: 1\n'));
  await reader2.cancel();
});

test('two nodes sharing a store: send on one, poll on the other, close once', async () => {
  const store = new MemoryStore();
  const a = await startTestServer({ store });
  const b = await startTestServer({ store });
  const { sid, token } = await handshake(a.http);
  const poll = getJson(`${a.http}/sessions/${sid}/poll?token=${token}&ack=0`);
  const messageOnB = waitFor<[Session, string]>(b.burrow, 'message');
  await waitFor(a.burrow, 'transport');
  const r = await postJson(`${b.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 1, text: 'via b' }] });
  assert.deepEqual(r.json, { ack: 1 });
  const [session, data] = await messageOnB;
  assert.equal(data, 'via b');
  await session.send('from b');
  // The held poll on node A learns of B's append through the store's wake-up.
  assert.deepEqual((await poll).json.frames, [{ t: 'd', seq: 1, text: 'from b' }]);
  const closes: number[] = [];
  a.burrow.on('close', (_s, code) => closes.push(code));
  b.burrow.on('close', (_s, code) => closes.push(code));
  await postJson(`${a.http}/sessions/${sid}/send?token=${token}`, { ack: 1, frames: [{ t: 'close', seq: 2, code: 4000, reason: 'done' }] });
  await postJson(`${b.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'close', seq: 2, code: 4000, reason: 'done' }] });
  // The echo is there to fetch.
  assert.deepEqual((await getJson(`${b.http}/sessions/${sid}/poll?token=${token}&ack=1`)).json.frames, [{ t: 'close', seq: 2, code: 4000, reason: 'done' }]);
  assert.deepEqual(closes, [4000]);
  await a.close();
  await b.close();
  await store.close();
});

test('bundle routes answer 404 JSON when the bundle is not built', async () => {
  const s = await startTestServer({ clientBundleDir: '/nonexistent' });
  const r = await getJson(`${s.http}/client.js`);
  assert.deepEqual([r.status, r.json.error], [404, 'not_found']);
  await s.close();
});

test('a small POST is taken whole from the parser, not through data listeners and a body timer (the body is parsed after the request event)', async () => {
  const { sid, token } = await handshake();
  // This listener runs before Burrow's and counts the 'data' listeners Burrow's read adds to the request.
  const dataListeners: number[] = [];
  const watch = (req: import('node:http').IncomingMessage): void => {
    if (!req.url?.includes(`/sessions/${sid}/send`)) return;
    const i = dataListeners.push(0) - 1;
    const on = req.on.bind(req);
    req.on = ((event: string, fn: (...a: unknown[]) => void) => {
      if (event === 'data') dataListeners[i]!++;
      return on(event, fn);
    }) as typeof req.on;
  };
  srv.server.prependListener('request', watch);
  try {
    for (let seq = 1; seq <= 3; seq++) {
      // As Burrow's Node client sends it: headers and a small body in one write.
      const body = JSON.stringify({ frames: [{ t: 'd', seq, text: `m${seq}` }] });
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${srv.http}/sessions/${sid}/send?token=${token}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text })).on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.deepEqual([answer.status, JSON.parse(answer.text)], [200, { ack: seq }]);
    }
  } finally {
    srv.server.off('request', watch);
  }
  assert.deepEqual(dataListeners, [0, 0, 0]);
});
