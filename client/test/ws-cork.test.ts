/**
 * Node with `ws`: the sends of one I/O phase leave the socket in one write (platform/ws-cork.ts).
 * Each `ws.send` used to be a `writev` of its own, a quarter of a closed-loop load process's time.
 * Against a real `ws` server that speaks just enough of the protocol: the open frame, then an echo
 * of each data frame under the server's own seq.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { BurrowSocket } from '../src/node.js';
import { openFrame } from './helpers.js';

let wss: WebSocketServer;
let url: string;
beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/burrow`;
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    let seq = 0;
    ws.send(openFrame());
    ws.on('message', (data) => {
      const m = /^(\d+):(.*)$/s.exec(String(data));
      if (m) ws.send(`${++seq}:${m[2]}`);
    });
  });
});
afterAll(() => {
  for (const c of wss.clients) c.terminate();
  return new Promise<void>((resolve) => wss.close(() => resolve()));
});

/** `ws`'s WebSocket, keeping each instance for the test to look at its socket. */
class Recorded extends WebSocket {
  static last: Recorded | undefined;
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    Recorded.last = this;
  }
}

test('twenty sends in one phase are one write to the socket, and every one arrives in order', async () => {
  const s = new BurrowSocket(url, [], { WebSocket: Recorded as never, transports: ['websocket'], remember: false });
  await new Promise<void>((resolve) => (s.onopen = () => resolve()));
  const sock = (Recorded.last as unknown as { _socket: { _writev: (...a: unknown[]) => unknown; _write: (...a: unknown[]) => unknown } })._socket;
  let writes = 0;
  const writev = sock._writev.bind(sock);
  const write = sock._write.bind(sock);
  sock._writev = (...a) => (writes++, writev(...a));
  sock._write = (...a) => (writes++, write(...a));
  const got: string[] = [];
  const all = new Promise<void>((resolve) => {
    s.onmessage = (e) => {
      got.push(String(e.data));
      if (got.length === 20) resolve();
    };
  });
  for (let i = 1; i <= 20; i++) s.send(`m${i}`);
  assert.equal(s.bufferedAmount > 0, true, 'held until the phase ends, as a browser holds it until the task ends');
  await all;
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
  assert.equal(writes, 1, `${writes} writes for 20 sends`);
  // The fake server does not answer a close handshake: cut the link, and the socket gives up at once.
  await new Promise<void>((resolve) => {
    s.onclose = () => resolve();
    s.onerror = null;
    s.close();
    for (const c of wss.clients) c.terminate();
  });
});
