/**
 * One write per socket per turn (transports/ws-cork.ts): the answers to every message of one read
 * leave the server in one socket write, in order, each frame with its own opcode.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, test } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { connectWs } from './helpers.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
  srv.burrow.on('message', (session, data) => void session.send(data));
});

afterAll(() => srv.close());

/** Counts the chunks of writes the stream hands to its handle (each is one syscall or one writev). */
function countWrites(socket: Socket): { n: number } {
  const count = { n: 0 };
  const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = s._write;
  const writev = s._writev;
  s._write = function (this: Socket, ...a: unknown[]) {
    count.n++;
    write.apply(this, a);
  };
  s._writev = function (this: Socket, ...a: unknown[]) {
    count.n++;
    writev.apply(this, a);
  };
  return count;
}

function binaryFrame(seq: number, byte: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeDoubleBE(seq, 0);
  b[8] = byte;
  return b;
}

test('the echoes of a burst read in one go leave in one write, in order, binary as binary', async () => {
  const accepted = new Promise<Socket>((resolve) => srv.server.once('connection', resolve));
  const c = await connectWs(`${srv.ws}/ws`);
  const serverSocket = await accepted;
  assert.equal((await c.nextJson()).t, 'open');
  const writes = countWrites(serverSocket);

  // 20 frames in one TCP write from the client, alternating text and binary.
  const N = 20;
  const clientSocket = (c.ws as unknown as { _socket: Socket })._socket;
  clientSocket.cork();
  for (let seq = 1; seq <= N; seq++) {
    if (seq % 2) c.ws.send(`${seq}:m${seq}`);
    else c.ws.send(binaryFrame(seq, seq));
  }
  clientSocket.uncork();

  for (let seq = 1; seq <= N; seq++) {
    const f = await c.nextFrame();
    if (seq % 2) assert.deepEqual(f, { kind: 'text', text: `${seq}:m${seq}` });
    else assert.deepEqual(f, { kind: 'binary', bytes: binaryFrame(seq, seq) });
  }
  // One write per read of the server's socket: loopback may split the burst in two reads, rarely
  // more; one write per frame would be 20.
  assert.ok(writes.n >= 1 && writes.n <= 3, `${writes.n} socket writes for ${N} echoes`);
  c.ws.close();
  await c.closed;
});
