/**
 * The link state the app can show (issue 16): `reconnecting` and `reconnected` events and the
 * `reconnecting` property, on every transport, while readyState stays OPEN and nothing is lost; and a
 * session the server forgot ends with 4001 after the socket said it was reconnecting.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'vitest';
import { BurrowSocket, type ReconnectEvent } from '@burrow/client';
import { MemoryStore } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';

const transports = ['websocket', 'sse', 'polling'] as const;
const servers: TestServer[] = [];
const sockets: BurrowSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const srv of servers.splice(0)) await srv.close();
});

function next<T extends Event>(s: BurrowSocket, type: string): Promise<T> {
  return new Promise((resolve) => s.addEventListener(type, (e) => resolve(e as T), { once: true }));
}

async function opened(srv: TestServer, transport: (typeof transports)[number]): Promise<BurrowSocket> {
  const s = new BurrowSocket(srv.ws, undefined, { transports: [transport], remember: false, upgrade: false, reconnectDelay: 50 });
  sockets.push(s);
  await next(s, 'open');
  return s;
}

describe.each(transports)('%s', (transport) => {
  it('a server restart that keeps the store: reconnecting (attempt 1), then reconnected; readyState stays OPEN, nothing lost', async () => {
    // The store outlives the server, as Redis outlives a node: the session survives the restart.
    const store = new MemoryStore();
    const srv = await startTestServer({ store }, { app: true });
    const port = srv.port;
    const s = await opened(srv, transport);
    const seen: string[] = [];
    for (const t of ['reconnecting', 'reconnected', 'close', 'error']) s.addEventListener(t, () => seen.push(t));
    assert.equal(s.reconnecting, false);
    const reconnecting = next<ReconnectEvent>(s, 'reconnecting');
    await srv.close();
    const r = await reconnecting;
    assert.equal(r.attempt, 1);
    assert.ok(r.delay >= 0);
    assert.equal(s.reconnecting, true);
    assert.equal(s.readyState, BurrowSocket.OPEN);
    // Sent while no transport carries the session: delivered once it is back.
    s.send('while-away');
    const back = next<ReconnectEvent>(s, 'reconnected');
    servers.push(await startTestServer({ store }, { app: true, port }));
    assert.ok((await back).attempt >= 1);
    assert.equal(s.reconnecting, false);
    const echo = await next<MessageEvent>(s, 'message');
    assert.equal(echo.data, 'while-away');
    assert.deepEqual(seen.filter((t) => t !== 'reconnecting'), ['reconnected']);
  });

  it('a server that forgot the session: reconnecting, then close 4001 (the app can start a new session)', async () => {
    const srv = await startTestServer({}, { app: true });
    const port = srv.port;
    const s = await opened(srv, transport);
    const reconnecting = next<ReconnectEvent>(s, 'reconnecting');
    const closed = next<CloseEvent>(s, 'close');
    await srv.close();
    await reconnecting;
    // The same address, a new process's memory: the session is unknown there.
    const fresh = await startTestServer({}, { app: true, port });
    servers.push(fresh);
    const c = await closed;
    assert.equal(c.code, 4001);
    assert.equal(s.reconnecting, false);
  });
});
