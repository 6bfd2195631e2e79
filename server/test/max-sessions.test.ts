/**
 * maxSessions under concurrent handshakes. Regression: the limit was checked only before a handshake
 * read its body (or ran `authenticate`) and before the store created the record, so handshakes in
 * flight together all passed it: 8 slow POSTs against maxSessions 2 made 8 sessions.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterAll, test } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { connectWs } from './helpers.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
});

/** A POST /sessions whose headers go at once and whose body follows once `release` resolves. */
function slowHandshake(base: string, release: Promise<void>): Promise<number> {
  const body = JSON.stringify({ v: 1 });
  return new Promise((resolve, reject) => {
    const req = request(`${base}/sessions`, { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.flushHeaders();
    void release.then(() => req.end(body));
  });
}

test('regression: handshakes whose bodies are still on their way do not pass maxSessions together', async () => {
  const srv = await startTestServer({ limits: { maxSessions: 2 } });
  servers.push(srv);
  let requests = 0;
  // Every request at the server (its first check runs in that turn), each then waiting for its body.
  const allIn = new Promise<void>((resolve) => srv.server.on('request', () => ++requests === 8 && resolve()));
  let go!: () => void;
  const release = new Promise<void>((resolve) => (go = resolve));
  const answers = Array.from({ length: 8 }, () => slowHandshake(srv.http, release));
  await allIn;
  go();
  const statuses = await Promise.all(answers);
  assert.equal(statuses.filter((s) => s === 200).length, 2, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 503).length, 6, statuses.join(','));
  assert.equal(srv.burrow.health().sessions, 2);
  // A WebSocket handshake is refused too (1013), at the limit.
  const ws = await connectWs(`${srv.ws}/ws`);
  const closed = await ws.closed;
  assert.equal(closed.code, 1013);
});
