/**
 * Regression: on a node that only takes a session's POSTs (its SSE stream is on another node behind a
 * round robin), the session's core was dropped every resumeWindow + closeLinger although the POSTs
 * kept the session alive, and the next POST made a new one: the app's `message` events carried a
 * new Session object each window. A request now keeps the core of a live session.
 */
import assert from 'node:assert/strict';
import { afterAll, test } from 'vitest';
import { encodeSendRequest, type Frame } from '@burrow/shared';
import { createBurrow, MemoryStore, type Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

test('POSTs on a node with no downstream keep its core (and the Session object) past resumeWindow + closeLinger', { timeout: 10_000 }, async () => {
  const store = new MemoryStore();
  // The idle deadline: 1,100 ms. The POSTs come every 400 ms, well inside the 1,000 ms TTL they renew.
  const options = { store, resumeWindow: 1000, closeLinger: 100 };
  const a = createBurrow(options);
  const b = createBurrow(options);
  for (const burrow of [a, b]) servers.push(await startTestServer(burrow));
  const [srvA, srvB] = servers as [TestServer, TestServer];
  const open = (await (await fetch(`${srvA.http}/sessions`, { method: 'POST', body: '{}' })).json()) as { sid: string; token: string };

  const seen: Session[] = [];
  b.on('message', (session: Session) => seen.push(session));
  for (let seq = 1; seq <= 5; seq++) {
    const frames: Frame[] = [{ t: 'd', seq, data: `m${seq}` }];
    const res = await fetch(`${srvB.http}/sessions/${open.sid}/send?token=${open.token}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: encodeSendRequest({ frames }) });
    assert.deepEqual([res.status, await res.json()], [200, { ack: seq }]);
    // Pacing, not synchronisation: real time has to pass the idle deadline for the test to mean anything.
    if (seq < 5) await new Promise((r) => setTimeout(r, 400));
  }
  assert.equal(seen.length, 5);
  assert.ok(seen.every((s) => s === seen[0]), 'every message came with the same Session object');
  await store.close();
});
