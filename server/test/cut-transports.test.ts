/**
 * `cutTransports` (`@burrow/server/testing`) drops every live transport mid-session and the sessions
 * live on: each Node client, on each transport, resumes and keeps exchanging messages with nothing lost
 * or repeated, and neither side sees a close.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, it } from 'vitest';
import { BurrowSocket, type TransportName } from '@burrow/client';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { createBurrow } from '../src/index.js';
import { cutTransports } from '../src/testing.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer(createBurrow({ path: '/burrow' }), { app: true });
});
afterAll(async () => {
  await srv.close();
});

interface Client {
  socket: BurrowSocket;
  got: string[];
  events: string[];
  /** Resolves once `n` messages arrived (checked on each one). */
  received(n: number): Promise<void>;
}

function open(t: TransportName): Promise<Client> {
  const socket = new BurrowSocket(srv.ws, [], { transports: [t], remember: false, upgrade: false, reconnectDelay: 10 });
  const got: string[] = [];
  const events: string[] = [];
  const waiters = new Set<() => void>();
  socket.onmessage = (e) => {
    got.push(String((e as MessageEvent).data));
    for (const w of waiters) w();
  };
  const received = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => got.length >= n && (waiters.delete(check), resolve());
      waiters.add(check);
      check();
    });
  socket.onerror = () => events.push('error');
  socket.onclose = () => events.push('close');
  return new Promise((resolve) => (socket.onopen = () => resolve({ socket, got, events, received })));
}

it('cuts every live transport and every session resumes on its transport with nothing lost', async () => {
  const clients = await Promise.all((['websocket', 'sse', 'polling'] as const).map(open));
  for (const c of clients) c.socket.send('a');
  await Promise.all(clients.map((c) => c.received(1)));

  // A polling client has a poll held between two requests only most of the time: at least the two streams.
  assert.ok(cutTransports(srv.burrow) >= 2);
  for (const c of clients) c.socket.send('b');
  await Promise.all(clients.map((c) => c.received(2)));

  for (const c of clients) {
    assert.deepEqual(c.got, ['a', 'b']);
    assert.deepEqual(c.events, []);
    assert.deepEqual(srv.received.get(c.socket.sessionId), ['a', 'b']);
    c.socket.close();
  }
  assert.equal(srv.closes.size, 0);
});

it('refuses what is not a Burrow', () => {
  assert.throws(() => cutTransports({} as never), TypeError);
});
