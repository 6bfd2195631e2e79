import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type ClientRequest, createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, describe, it, vi } from 'vitest';
import { nodeHttpClient } from '../src/platform/node-http.js';
import { deadline } from '../src/platform/request-deadlines.js';
import { postTimeout } from '../src/transports/http.js';
import type { HttpAnswer } from '../src/platform/http-client.js';

const servers: Array<Server | NetServer> = [];
const sockets = new Set<Socket>();
afterAll(() => {
  for (const s of servers) s.close();
  for (const s of sockets) s.destroy();
});

async function listen<S extends Server | NetServer>(s: S): Promise<string> {
  servers.push(s);
  s.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function get(url: string, method: 'GET' | 'POST' = 'GET', body: string | null = null, timeout = 2000): Promise<HttpAnswer | null> {
  return new Promise((resolve) => nodeHttpClient.request(method, url, body, timeout, resolve));
}

describe('node:http client', () => {
  it('reuses one keep-alive connection for requests made one after another', async () => {
    let connections = 0;
    const srv = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, type: req.headers['content-type'] ?? '', body })));
    });
    srv.on('connection', () => connections++);
    const base = await listen(srv);
    for (let i = 0; i < 5; i++) {
      const a = await get(`${base}/p/send?token=t&i=${i}`, 'POST', `{"n":${i},"é":"ü"}`);
      assert.equal(a?.status, 200);
      assert.deepEqual(JSON.parse(a!.text), { method: 'POST', url: `/p/send?token=t&i=${i}`, type: 'text/plain;charset=UTF-8', body: `{"n":${i},"é":"ü"}` });
    }
    // A request made from the previous one's callback finds the socket back in the free list.
    const chained = await new Promise<HttpAnswer | null>((resolve) =>
      nodeHttpClient.request('GET', `${base}/a`, null, 2000, () => nodeHttpClient.request('GET', `${base}/b`, null, 2000, resolve)),
    );
    assert.equal(chained?.status, 200);
    assert.equal(connections, 1);
  });

  it('reports the status, body and Retry-After of an error answer', async () => {
    const base = await listen(createServer((_req, res) => res.writeHead(503, { 'Retry-After': '2' }).end('{"error":"overloaded"}')));
    assert.deepEqual(await get(`${base}/x`), { status: 503, text: '{"error":"overloaded"}', retryAfter: 2000 });
  });

  it('retries once, on a fresh connection, a request whose reused socket the server closed', async () => {
    // Answers the first request on each connection, then resets it when the next one arrives.
    let connections = 0;
    const srv = createNetServer((sock: Socket) => {
      connections++;
      let served = 0;
      sock.on('error', () => {});
      sock.on('data', () => {
        if (served++ === 0) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        else sock.resetAndDestroy();
      });
    });
    const base = await listen(srv);
    assert.equal((await get(`${base}/1`))?.text, 'ok');
    assert.equal((await get(`${base}/2`, 'POST', '{}'))?.text, 'ok');
    assert.equal(connections, 2);
  });

  it('fails (null) on a refused connection, a timeout and a body cut short, without throwing anywhere', async () => {
    const closed = createNetServer();
    const refusedUrl = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    assert.equal(await get(`${refusedUrl}/x`), null);

    const silent = await listen(createNetServer((s) => s.on('error', () => {})));
    const t0 = Date.now();
    assert.equal(await get(`${silent}/x`, 'GET', null, 200), null);
    assert.ok(Date.now() - t0 < 1500);

    const cut = await listen(
      createNetServer((s) => {
        s.on('error', () => {});
        s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part'));
      }),
    );
    assert.equal(await get(`${cut}/x`), null);
  });

  it('a request times out as a whole, even while its answer trickles in (as fetch with a signal in browsers)', async () => {
    // The answer would end after 3 s, a byte every 50 ms: never idle for the 300 ms timeout.
    const trickle = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        const beat = setInterval(() => res.write('.'), 50);
        const end = setTimeout(() => res.end('done'), 3000);
        res.on('close', () => {
          clearInterval(beat);
          clearTimeout(end);
        });
      }),
    );
    const t0 = Date.now();
    assert.equal(await get(`${trickle}/x`, 'GET', null, 300), null);
    assert.ok(Date.now() - t0 < 2000, `timed out after ${Date.now() - t0} ms`);
  });

  it('deadlines of one length share a timer and expire in order; an unarmed one never does', async () => {
    const expired: string[] = [];
    let last!: () => void;
    const allDone = new Promise<void>((resolve) => (last = resolve));
    deadline(30, () => expired.push('a'));
    const unarmB = deadline(30, () => expired.push('b'));
    deadline(30, () => expired.push('c'));
    // A deadline armed by an expiry is kept, after those before it.
    deadline(30, () => deadline(30, () => (expired.push('e'), last())));
    unarmB();
    await allDone;
    assert.deepEqual(expired, ['a', 'c', 'e']);
  });

  it('a deadline longer than a timer holds is armed at the longest it holds (no 1 ms timer spinning until then)', () => {
    const delays: number[] = [];
    const spy = vi.spyOn(globalThis, 'setTimeout');
    let fired = false;
    try {
      const unarm = deadline(2 ** 32, () => (fired = true));
      for (const c of spy.mock.calls) delays.push(Number(c[1]));
      unarm();
    } finally {
      spy.mockRestore();
    }
    assert.deepEqual(delays, [2 ** 31 - 1]);
    assert.equal(fired, false);
  });

  it('a send POST gets one more timeout per 256 Ki of body, so a slow upload still flowing is not cut', () => {
    assert.equal(postTimeout(10_000, 100), 10_000);
    assert.equal(postTimeout(10_000, 2 ** 18 - 1), 10_000);
    assert.equal(postTimeout(10_000, 2 ** 18), 20_000);
    // The largest batch (a 1 MiB message as base64 JSON) on a 45 s timeout: 6 steps.
    assert.equal(postTimeout(45_000, 1.4 * 2 ** 20), 45_000 * 6);
  });

  it('a cancelled request never calls back', async () => {
    const base = await listen(createServer((_req, res) => setTimeout(() => res.end('late'), 100)));
    // The request's end, however it comes: cut (its error) or answered after all (its response).
    // Its 'close' is the last event it emits; a task later, whatever the client did with it is done.
    const channels = ['http.client.request.error', 'http.client.response.finish'];
    const over = new Promise<void>((resolve) => {
      const seen = (message: unknown): void => {
        const { request } = message as { request: ClientRequest };
        if (request.getHeader('host') !== new URL(base).host) return;
        for (const c of channels) unsubscribe(c, seen);
        request.once('close', () => setImmediate(resolve));
      };
      for (const c of channels) subscribe(c, seen);
    });
    let called = false;
    const cancel = nodeHttpClient.request('GET', `${base}/x`, null, 0, () => (called = true));
    cancel();
    await over;
    assert.equal(called, false);
  });

  it('streams an event-stream body in chunks; refuses other answers whole', async () => {
    const srv = createServer((req, res) => {
      if (req.url === '/ok') {
        assert.equal(req.headers.accept, 'text/event-stream');
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: é\n\n'), 20);
      } else res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"session_unknown"}');
    });
    const base = await listen(srv);
    const got: string[] = [];
    const end = await new Promise<HttpAnswer | null>((resolve) =>
      nodeHttpClient.stream!(`${base}/ok`, { head: (status, type) => status === 200 && type === 'text/event-stream', chunk: (t) => got.push(t), end: resolve }),
    );
    assert.equal(end, null);
    assert.equal(got.join(''), 'data: 1\n\ndata: é\n\n');
    const refused = await new Promise<HttpAnswer | null>((resolve) =>
      nodeHttpClient.stream!(`${base}/gone`, { head: (status) => status === 200, chunk: () => assert.fail('no chunk'), end: resolve }),
    );
    assert.deepEqual(refused, { status: 404, text: '{"error":"session_unknown"}', retryAfter: 0 });
  });
});
