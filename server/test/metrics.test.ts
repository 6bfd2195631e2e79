// Prometheus metrics and lifecycle events: scripted traffic from real BurrowSockets (WebSocket, SSE,
// a refused upgrade that falls back, an SSE session that upgrades to WebSocket, a cut connection that
// resumes), then the metrics endpoint is read and every count asserted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, test } from 'vitest';
import { BurrowSocket } from '@burrow/client';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { createBurrow, type BurrowOptions } from '../src/index.js';
import { rawAnswerHead, waitFor } from './helpers.js';

interface Node extends TestServer {
  /** Lifecycle events, in order, as one line each. */
  events: string[];
}

/** An echo Burrow with `/metrics` beside it; `attach: false` leaves WebSocket upgrades unanswered (refused). */
async function startNode(options: BurrowOptions = {}, attach = true): Promise<Node> {
  const burrow = createBurrow(options);
  const events: string[] = [];
  burrow.on('message', (s, d) => void s.send(d));
  burrow.on('fallback', (_s, i) => events.push(`fallback ${i.from}->${i.to} ${i.reason}`));
  burrow.on('upgrade', (_s, i) => events.push(`upgrade ${i.from}->${i.to}`));
  burrow.on('resume', (_s, i) => events.push(`resume ${i.transport}`));
  burrow.on('limit', (s, i) => events.push(`limit ${i.limit} ${i.code}${s ? '' : ' nosession'}`));
  const metrics = burrow.metricsHandler();
  const srv = await startTestServer(burrow, {
    attach,
    routes: (req, res) => {
      if (req.url !== '/metrics') return false;
      metrics(req, res);
      // Regression: the handler left both without an 'error' listener (a reset could end the process).
      assert.ok(req.listenerCount('error') > 0 && res.listenerCount('error') > 0, 'metrics handler listens for errors');
      return true;
    },
  });
  return { ...srv, events };
}

/** Sample value of `name` with exactly `labels` (a missing series is undefined). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const part of (m[2] ?? '').match(/\w+="[^"]*"/g) ?? []) {
      const eq = part.indexOf('=');
      got[part.slice(0, eq)] = part.slice(eq + 2, -1);
    }
    const keys = Object.keys(labels);
    if (keys.length !== Object.keys(got).length || keys.some((k) => got[k] !== labels[k])) continue;
    return Number(m[3]);
  }
  return undefined;
}

async function scrape(node: Node): Promise<string> {
  const res = await fetch(`${node.origin}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
}

/** Resolves once `cond()` holds: checked now and after each `type` event on `target` (a client socket). */
function when(target: EventTarget, type: string, what: string, cond: () => boolean, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return;
      clearTimeout(timer);
      target.removeEventListener(type, check);
      resolve();
    };
    // A bound on a failing wait, to name it; never a way to let time pass.
    const timer = setTimeout(() => {
      target.removeEventListener(type, check);
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    target.addEventListener(type, check);
    check();
  });
}

function open(url: string, options: ConstructorParameters<typeof BurrowSocket>[2] = {}): Promise<{ socket: BurrowSocket; got: string[] }> {
  const socket = new BurrowSocket(url, [], { remember: false, ...options });
  const got: string[] = [];
  socket.addEventListener('message', (e) => got.push(String((e as MessageEvent).data)));
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve({ socket, got });
    socket.onclose = (e) => reject(new Error(`closed ${(e as CloseEvent).code}`));
  });
}

function closed(socket: BurrowSocket): Promise<number> {
  return new Promise((r) => socket.addEventListener('close', (e) => r((e as CloseEvent).code)));
}

describe('metrics', () => {
  const nodes: Node[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  test('sessions by transport, opens, closes by code, messages and bytes, store latency', async () => {
    const node = await startNode();
    nodes.push(node);
    const ws = await open(node.ws);
    const sse = await open(node.ws, { transports: ['sse'] });
    assert.equal(ws.socket.transport, 'websocket');
    assert.equal(sse.socket.transport, 'sse');
    for (const m of ['a', 'bb', 'ccc']) ws.socket.send(m);
    for (const m of ['dddd', 'eeeee']) sse.socket.send(m);
    await Promise.all([
      when(ws.socket, 'message', 'the WebSocket echoes', () => ws.got.length === 3),
      when(sse.socket, 'message', 'the SSE echoes', () => sse.got.length === 2),
    ]);

    let text = await scrape(node);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'websocket' }), 1);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'sse' }), 1);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'polling' }), 0);
    assert.equal(sample(text, 'burrow_sessions_opened_total'), 2);
    assert.equal(sample(text, 'burrow_messages_received_total', { transport: 'websocket' }), 3);
    assert.equal(sample(text, 'burrow_received_bytes_total', { transport: 'websocket' }), 6);
    // SSE's upstream POSTs land on the node holding the stream: labelled sse.
    assert.equal(sample(text, 'burrow_messages_received_total', { transport: 'sse' }), 2);
    assert.equal(sample(text, 'burrow_received_bytes_total', { transport: 'sse' }), 9);
    assert.equal(sample(text, 'burrow_messages_sent_total', { transport: 'websocket' }), 3);
    assert.equal(sample(text, 'burrow_sent_bytes_total', { transport: 'websocket' }), 6);
    assert.equal(sample(text, 'burrow_messages_sent_total', { transport: 'sse' }), 2);
    assert.equal(sample(text, 'burrow_sent_bytes_total', { transport: 'sse' }), 9);
    assert.ok((sample(text, 'burrow_store_duration_seconds_count', { op: 'append' }) ?? 0) >= 5);
    // A run of data frames is one call (acceptInboundBatch): at least one per POST and per WebSocket burst.
    const accepts = (op: string) => sample(text, 'burrow_store_duration_seconds_count', { op }) ?? 0;
    assert.ok(accepts('acceptInbound') + accepts('acceptInboundBatch') >= 2);
    assert.equal(sample(text, 'burrow_draining'), 0);
    assert.ok(sample(text, 'burrow_outbound_buffered_messages') !== undefined);

    const c1 = closed(ws.socket);
    const c2 = closed(sse.socket);
    // The server's close events: the metrics count each as it is emitted (their listener came first).
    const ended = Promise.all([4000, 1005].map((code) => waitFor(node.burrow, 'close', (_s: unknown, c: number) => c === code)));
    ws.socket.close(4000, 'bye');
    sse.socket.close();
    assert.equal(await c1, 4000);
    assert.equal(await c2, 1005);
    await ended;
    text = await scrape(node);
    assert.equal(sample(text, 'burrow_sessions_closed_total', { code: '1005' }), 1);
    assert.equal(sample(text, 'burrow_sessions_closed_total', { code: '4000' }), 1);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'websocket' }), 0);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'sse' }), 0);
  });

  test('a refused upgrade is a fallback with its reason; polling is counted as a live transport', async () => {
    const node = await startNode({}, false);
    nodes.push(node);
    const a = await open(node.ws, { upgrade: false });
    assert.equal(a.socket.transport, 'sse');
    const b = await open(node.ws, { transports: ['websocket', 'polling'], upgrade: false });
    assert.equal(b.socket.transport, 'polling');
    b.socket.send('x');
    await when(b.socket, 'message', 'the echo', () => b.got.length === 1);
    assert.deepEqual(node.events.filter((e) => e.startsWith('fallback')).sort(), [
      'fallback websocket->polling refused',
      'fallback websocket->sse refused',
    ]);
    const text = await scrape(node);
    assert.equal(sample(text, 'burrow_fallbacks_total', { from: 'websocket', to: 'sse', reason: 'refused' }), 1);
    assert.equal(sample(text, 'burrow_fallbacks_total', { from: 'websocket', to: 'polling', reason: 'refused' }), 1);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'sse' }), 1);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'polling' }), 1);
    // A POST that lands before the first poll attached is labelled 'http' (no downstream here yet).
    const viaPolling = sample(text, 'burrow_messages_received_total', { transport: 'polling' }) ?? 0;
    assert.equal(viaPolling + (sample(text, 'burrow_messages_received_total', { transport: 'http' }) ?? 0), 1);
    const done = Promise.all([closed(a.socket), closed(b.socket)]);
    a.socket.close();
    b.socket.close();
    await done;
  });

  test('an upgrade from sse to websocket, and a resume after a cut connection', async () => {
    const node = await startNode();
    nodes.push(node);
    const s = await open(node.ws, { transports: ['sse', 'websocket'], upgradeDelay: 20 });
    assert.equal(s.socket.transport, 'sse');
    await when(s.socket, 'transport', 'the upgrade', () => s.socket.transport === 'websocket');
    assert.ok(node.events.includes('upgrade sse->websocket'), node.events.join());

    // Cut every connection: the client resumes on WebSocket and says so.
    const resumed = waitFor(node.burrow, 'resume', (_s: unknown, i: { transport: string }) => i.transport === 'websocket');
    node.killConnections();
    await resumed;
    assert.ok(node.events.includes('resume websocket'), node.events.join());
    s.socket.send('after');
    await when(s.socket, 'message', 'the echo after the resume', () => s.got.includes('after'));

    const text = await scrape(node);
    assert.equal(sample(text, 'burrow_upgrades_total', { from: 'sse', to: 'websocket' }), 1);
    assert.equal(sample(text, 'burrow_resumes_total', { transport: 'websocket' }), 1);
    assert.equal(sample(text, 'burrow_sessions_opened_total'), 1);
    assert.equal(sample(text, 'burrow_sessions', { transport: 'websocket' }), 1);
    const done = closed(s.socket);
    s.socket.close();
    await done;
  });

  test('refusals and limits: a bad handshake, maxSessions', async () => {
    const lines: string[] = [];
    const node = await startNode({ limits: { maxSessions: 1 }, debug: (l) => lines.push(l) });
    nodes.push(node);
    const post = (type = 'text/plain') => fetch(`${node.http}/sessions`, { method: 'POST', headers: { 'content-type': type }, body: '{"v":1}' });
    assert.equal((await post('image/png')).status, 400);
    assert.equal((await post()).status, 200);
    const full = await post();
    assert.equal(full.status, 503);
    assert.ok(node.events.includes('limit maxSessions 1013 nosession'), node.events.join());
    const text = await scrape(node);
    assert.equal(sample(text, 'burrow_refusals_total', { status: '400', error: 'bad_content_type' }), 1);
    assert.equal(sample(text, 'burrow_refusals_total', { status: '503', error: 'overloaded' }), 1);
    assert.equal(sample(text, 'burrow_limits_total', { limit: 'maxSessions', code: '1013' }), 1);
    // The debug log: one line per lifecycle event and per refusal, never a token.
    assert.ok(lines.some((l) => /refused POST \/burrow\/sessions status=400 error=bad_content_type/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /limit limit=maxSessions code=1013/.test(l)));
    assert.ok(lines.some((l) => /connection sid=/.test(l)));
    assert.ok(!lines.some((l) => /token/.test(l)));
  });

  test('metrics() is created once per Burrow; the handler refuses non-GET', async () => {
    const burrow = createBurrow();
    assert.equal(burrow.metrics(), burrow.metrics());
    const server = createServer((req, res) => burrow.metricsHandler()(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    assert.equal((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status, 405);
    server.close();
    await burrow.close();
  });

  test("the handler's 405 before a declared body arrived closes the connection (Connection: close)", async () => {
    const burrow = createBurrow();
    const server = createServer((req, res) => burrow.metricsHandler()(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const { head: answer, closed } = await rawAnswerHead(port, 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc');
      assert.match(answer, /^HTTP\/1\.1 405 /);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      await closed;
    } finally {
      server.closeAllConnections();
      server.close();
      await burrow.close();
    }
  });
});
