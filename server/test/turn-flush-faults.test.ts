/**
 * The end-of-turn writes (a WebSocket's uncork, a held poll's answer, an SSE stream's chunk) run from
 * `process.nextTick` or a timer, outside any request's try: a throw there used to end the process.
 * Now it cuts that one connection, reaches the server's `error` event, and loses nothing.
 */
import assert from 'node:assert/strict';
import { ServerResponse } from 'node:http';
import { afterAll, beforeAll, test } from 'vitest';
import { type Session } from '../src/index.js';
import { corkForTurn } from '../src/transports/ws-cork.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { getJson, postJson, waitFor } from './helpers.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ pollTimeout: 15000 });
});

afterAll(() => srv.close());

test('an uncork that throws cuts its own connection only: the turn\'s other sockets still go out', async () => {
  const uncorked: string[] = [];
  const failed: unknown[] = [];
  const socket = { cork() {}, uncork() {} };
  const boom = new Error('boom');
  corkForTurn(socket, { uncorkTurn: () => { throw boom; }, turnFailed: (e) => failed.push(e) });
  corkForTurn(socket, { uncorkTurn: () => void uncorked.push('b'), turnFailed: (e) => failed.push(e) });
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(uncorked, ['b']);
  assert.deepEqual(failed, [boom]);
});

test('a held poll whose answer throws: the error event, that request cut, the frame on the next poll', async () => {
  const r = await postJson(`${srv.http}/sessions`, { v: 1, protocols: [] });
  const { sid, token } = r.json as { sid: string; token: string };
  const attached = waitFor<[Session]>(srv.burrow, 'transport', (s) => s.id === sid);
  const held = getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`);
  const [session] = await attached;
  const boom = new Error('poll answer failed');
  const writeHead = ServerResponse.prototype.writeHead;
  // The next poll answer's head throws, once.
  ServerResponse.prototype.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    ServerResponse.prototype.writeHead = writeHead;
    if (this.req?.url?.includes('/poll')) throw boom;
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof writeHead;
  const reported = waitFor<[unknown]>(srv.burrow, 'error');
  try {
    void session.send('kept');
    assert.equal((await reported)[0], boom);
    await assert.rejects(held);
  } finally {
    ServerResponse.prototype.writeHead = writeHead;
  }
  const again = await getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`);
  assert.deepEqual(again.json.frames, [{ t: 'd', seq: 1, text: 'kept' }]);
});
