// Rolling deploy (BAD-INPUTS 22): three in-process nodes sharing one MemoryStore behind a round-robin
// balancer with health checks and no affinity. Under load (WebSocket, SSE and polling clients sending
// and receiving), node 0 is drained: every session moves to the other nodes, none ends, and no message
// is lost, repeated or reordered either way. The drained node refuses new sessions (503 / 1012).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { WebSocket } from 'ws';
import { BurrowSocket } from '@burrow/client';
import { MemoryStore } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { startRoundRobinProxy, type RoundRobinProxy } from './fixtures/rr-proxy.js';

const TRANSPORTS = ['websocket', 'sse', 'polling'] as const;
const PER_TRANSPORT = 8;

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('drain one node of three under load', () => {
  const store = new MemoryStore();
  /** What the app received, per session, across every node, in order. */
  const received = new Map<string, number[]>();
  const closes: string[] = [];
  const errors: unknown[] = [];
  const nodes: TestServer[] = [];
  let proxy: RoundRobinProxy;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const node = await startTestServer({ store, heartbeat: 2000, heartbeatTimeout: 2000, pollTimeout: 2000 });
      node.burrow.on('message', (session, data) => {
        const n = Number(String(data));
        let list = received.get(session.id);
        if (!list) received.set(session.id, (list = []));
        list.push(n);
        void session.send(`echo:${n}`);
      });
      node.burrow.on('close', (s, code) => closes.push(`${s.id} ${code}`));
      // A drain is routine: any `error` event fails the suite (checked at the end of the test).
      node.burrow.on('error', (err) => errors.push(err));
      nodes.push(node);
    }
    proxy = await startRoundRobinProxy(nodes.map((n) => n.port));
  });

  afterAll(async () => {
    await proxy.close();
    for (const n of nodes) await n.close();
    await store.close?.();
  });

  test('every session moves, nothing is lost; the drained node refuses new work', async () => {
    const url = `ws://127.0.0.1:${proxy.port}/burrow`;
    const clients = await Promise.all(
      TRANSPORTS.flatMap((t) =>
        Array.from({ length: PER_TRANSPORT }, async () => {
          const socket = new BurrowSocket(url, [], { transports: [t], upgrade: false, remember: false, reconnectDelay: 50 });
          const echoes: number[] = [];
          const state = { socket, t, echoes, sent: 0, closed: '' };
          socket.onmessage = (e) => echoes.push(Number(String((e as MessageEvent).data).slice(5)));
          socket.onclose = (e) => (state.closed = `closed ${(e as CloseEvent).code}`);
          await new Promise<void>((resolve, reject) => {
            socket.onopen = () => resolve();
            socket.onerror = () => reject(new Error(`${t} failed to open`));
          });
          return state;
        }),
      ),
    );

    // Load: every client sends a numbered message every 20 ms; the app echoes each one.
    let sending = true;
    const pump = setInterval(() => {
      if (!sending) return;
      for (const c of clients) if (c.socket.readyState === BurrowSocket.OPEN) c.socket.send(String(++c.sent));
    }, 20);
    try {
      // Under load: every session has had messages echoed before the drain.
      await until('every session echoing', () => clients.every((c) => c.echoes.length >= 3));
      assert.equal([...received.keys()].length, clients.length);

      const result = await nodes[0]!.burrow.drain({ deadline: 5000 });
      assert.equal(result.remaining, 0);
      assert.ok(result.moved > 0, 'node 0 held some transports');

      // The drained node: health 503, handshake 503 service_restart + Retry-After, WebSocket 1012.
      const direct = `http://127.0.0.1:${nodes[0]!.port}/burrow`;
      const health = await fetch(`${direct}/health`);
      assert.equal(health.status, 503);
      assert.equal(((await health.json()) as { draining?: boolean }).draining, true);
      const hs = await fetch(`${direct}/sessions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"v":1}' });
      assert.equal(hs.status, 503);
      assert.ok(hs.headers.get('retry-after'));
      assert.deepEqual(await hs.json(), { error: 'service_restart', message: 'this node is draining: reconnect, another node serves the session', close: 1012 });
      const raw = new WebSocket(`${direct.replace('http:', 'ws:')}/ws`);
      raw.on('error', () => {});
      const [code] = (await once(raw, 'close')) as [number];
      assert.equal(code, 1012);

      // Keep the load on until every session has had more echoes after the drain, on nodes 1 and 2.
      const atDrain = clients.map((c) => c.sent);
      await until('echoes after the drain', () => clients.every((c, i) => c.echoes.length >= atDrain[i]! + 5));
      sending = false;
      clearInterval(pump);
      await until('every echo', () => clients.every((c) => c.echoes.length === c.sent));

      for (const c of clients) {
        assert.equal(c.closed, '', `${c.t} session ended: ${c.closed}`);
        const sid = c.socket.sessionId;
        const expected = Array.from({ length: c.sent }, (_, i) => i + 1);
        assert.deepEqual(received.get(sid), expected, `server got every message of ${c.t} ${sid} once, in order`);
        assert.deepEqual(c.echoes, expected, `client got every echo of ${c.t} ${sid} once, in order`);
      }
      assert.deepEqual(closes, []);
      assert.deepEqual(errors.map(String), [], 'no node emitted an error event');

      // Nothing lives on node 0 any more; the others serve everyone.
      const text = await nodes[0]!.burrow.metrics().text();
      for (const t of TRANSPORTS) assert.match(text, new RegExp(`^burrow_sessions\\{transport="${t}"\\} 0$`, 'm'));
      assert.match(text, /^burrow_draining 1$/m);

      const done = Promise.all(clients.map((c) => new Promise((r) => c.socket.addEventListener('close', r))));
      for (const c of clients) c.socket.close();
      await done;
    } finally {
      // A failed assertion must not leave the load running: the process would never exit.
      clearInterval(pump);
      for (const c of clients) if (c.socket.readyState !== BurrowSocket.CLOSED) c.socket.close();
    }
  });
});
