// Frames on a POST's answer (docs/PROTOCOL.md): a polling transport's POST carries the frames
// collected for its own held poll, so a message answered by its handler is one request; the poll
// stays held and gets only what comes later. Raw HTTP, so every rule is seen on the wire.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from 'vitest';
import type { Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { getJson, postJson, waitFor } from './helpers.js';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ pollTimeout: 15000 });
  srv.burrow.on('message', (session, data) => void session.send(`echo ${String(data)}`));
});

afterAll(() => srv.close());

/** A session whose poll (carrying `down`, when given) is held; `session` is the server's side of it. */
async function heldPoll(down?: string): Promise<{ sid: string; token: string; session: Session; poll: ReturnType<typeof getJson> }> {
  const open = await postJson(`${srv.http}/sessions`, { v: 1 });
  const { sid, token } = open.json as { sid: string; token: string };
  const attached = waitFor<[Session]>(srv.burrow, 'transport', (s) => s.id === sid);
  const poll = getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0${down ? `&carry=${down}` : ''}`);
  const [session] = await attached;
  return { sid, token, session, poll };
}

const send = (sid: string, token: string, down: string | undefined, frames: unknown[], ack = 0) =>
  postJson(`${srv.http}/sessions/${sid}/send?token=${token}${down ? `&carry=${down}` : ''}`, { ack, frames });

test('a POST from the poll\'s own transport carries the echoes; the held poll gets only what comes later', async () => {
  const { sid, token, session, poll } = await heldPoll('7');
  const r = await send(sid, token, '7', [{ t: 'd', seq: 1, text: 'a' }, { t: 'd', seq: 2, text: 'b' }]);
  assert.deepEqual([r.status, r.json], [200, { ack: 2, frames: [{ t: 'd', seq: 1, text: 'echo a' }, { t: 'd', seq: 2, text: 'echo b' }] }]);
  // The poll was not answered with them: the next frame is the first it gets.
  void session.send('pushed');
  const p = await poll;
  assert.deepEqual([p.status, p.json.frames], [200, [{ t: 'd', seq: 3, text: 'pushed' }]]);
  // Nothing was removed by carrying it: a poll from an older ack (the POST's answer lost) gets it all again.
  const again = await getJson(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0&carry=7`);
  assert.deepEqual(again.json.frames.map((f: { seq: number }) => f.seq), [1, 2, 3]);
});

test('a POST without `down`, or from another transport of the session, carries nothing: the poll answers', async () => {
  for (const [pollDown, postDown] of [['7', undefined], ['7', '8'], [undefined, '7']] as const) {
    const { sid, token, poll } = await heldPoll(pollDown);
    const r = await send(sid, token, postDown, [{ t: 'd', seq: 1, text: 'a' }]);
    assert.deepEqual(r.json, { ack: 1 }, `poll ${pollDown}, post ${postDown}`);
    assert.deepEqual((await poll).json.frames, [{ t: 'd', seq: 1, text: 'echo a' }]);
  }
});

test('a pong stays on the poll (only a poll answer proves the poll alive), with what was collected beside it', async () => {
  const { sid, token, poll } = await heldPoll('7');
  const r = await send(sid, token, '7', [{ t: 'ping' }, { t: 'd', seq: 1, text: 'a' }]);
  assert.deepEqual(r.json, { ack: 1 });
  const frames = (await poll).json.frames as Array<{ t: string }>;
  assert.deepEqual(frames.map((f) => f.t).sort(), ['d', 'pong']);
});
