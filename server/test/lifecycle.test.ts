import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'vitest';
import type { Session } from '../src/index.js';
import { startTestServer } from '@burrow/test-support';
import { connectWs, postJson, waitFor } from './helpers.js';

test('resume window elapsed with no transport: close 4002, then the session is unknown', async () => {
  const s = await startTestServer({ resumeWindow: 200, heartbeatTimeout: 100 });
  const { sid, token } = (await postJson(`${s.http}/sessions`, { v: 1 })).json;
  // Store timers are unref()'d; keep the loop alive while we wait for the expiry event itself.
  const keepAlive = setInterval(() => {}, 1000);
  const [session, code] = await waitFor<[Session, number, string]>(s.burrow, 'close');
  clearInterval(keepAlive);
  assert.equal(session.id, sid);
  assert.equal(code, 4002);
  const r = await postJson(`${s.http}/sessions/${sid}/send?token=${token}`, { frames: [] });
  assert.deepEqual([r.status, r.json.error], [404, 'session_unknown']);
  await s.close();
});

test('a slow-trickled POST body is cut at bodyTimeout with 408', async () => {
  const s = await startTestServer({ bodyTimeout: 100 });
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${s.http}/sessions`, { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '100' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.write('{"v"'); // and nothing more
  });
  assert.equal(status, 408);
  await s.close();
});

test('close() ends live WebSockets with 1001 and a held poll with 503', async () => {
  const s = await startTestServer();
  const c = await connectWs(`${s.ws}/ws`);
  await c.nextJson();
  const { sid, token } = (await postJson(`${s.http}/sessions`, { v: 1 })).json;
  const attached = waitFor<[Session]>(s.burrow, 'transport', (x) => x.id === sid);
  const poll = fetch(`${s.http}/sessions/${sid}/poll?token=${token}`);
  await attached;
  assert.equal(s.burrow.sessions, 2);
  const closing = s.close();
  assert.equal((await c.closed).code, 1001);
  assert.equal((await poll).status, 503);
  await closing;
});
