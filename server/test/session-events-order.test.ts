/**
 * `connection` comes before any `transport` of a session. Regression: the SSE handshake's stream
 * attached (and emitted `transport`) before the session was announced, and a raced session emitted
 * `transport` at once, though it is announced only on the client's claim, and a raced session the
 * client abandons was documented to go with no events at all.
 */
import assert from 'node:assert/strict';
import { afterAll, test } from 'vitest';
import type { Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { postJson } from './helpers.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
});

async function server(): Promise<{ srv: TestServer; events: string[] }> {
  const srv = await startTestServer({});
  servers.push(srv);
  const events: string[] = [];
  srv.burrow.on('connection', () => events.push('connection'));
  srv.burrow.on('transport', (_s: Session, name: string) => events.push(`transport ${name}`));
  return { srv, events };
}

/** Opens the SSE handshake stream and reads its first event: the `open` frame. */
async function sseHandshake(srv: TestServer, query: string, ac: AbortController): Promise<{ sid: string; token: string }> {
  const res = await fetch(`${srv.http}/sessions?v=1${query}`, { signal: ac.signal });
  const reader = res.body!.getReader();
  let text = '';
  for (;;) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
    const m = /data: (\{.*\})\n/.exec(text);
    if (m) return JSON.parse(m[1]!) as { sid: string; token: string };
  }
}

test('regression: an SSE handshake emits connection, then transport', async () => {
  const { srv, events } = await server();
  const ac = new AbortController();
  await sseHandshake(srv, '', ac);
  assert.deepEqual(events, ['connection', 'transport sse']);
  ac.abort();
});

test('regression: a raced SSE session emits nothing until claimed, then connection and transport', async () => {
  const { srv, events } = await server();
  const ac = new AbortController();
  const open = await sseHandshake(srv, '&race=1', ac);
  // The stream is attached (its first event came), the session unclaimed: no event yet.
  assert.deepEqual(events, []);
  // The client's first request of the session claims it.
  const r = await postJson(`${srv.http}/sessions/${open.sid}/send?token=${open.token}`, { frames: [] });
  assert.equal(r.status, 200);
  assert.deepEqual(events, ['connection', 'transport sse']);
  ac.abort();
});
