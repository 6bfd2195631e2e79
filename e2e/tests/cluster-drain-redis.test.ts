/**
 * Rolling deploy on real parts (BAD-INPUTS 22, issue 7): three node processes on RedisStore behind a
 * round-robin nginx; one node is drained while messages flow both ways. Every session on it moves to
 * another node and resumes there, nothing is lost or repeated, and no app sees a close. Once per
 * forced transport.
 */
import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import { type Cluster, startCluster } from './fixtures/cluster.js';
import { type Client, health, openClient, waitFor } from './fixtures/cluster-client.js';

const transports = ['websocket', 'sse', 'polling'] as const;
type Transport = (typeof transports)[number];
const M = 1000;
const TIMINGS = { heartbeat: 2000, heartbeatTimeout: 2000, pollTimeout: 3000, resumeWindow: 10_000, closeLinger: 2000 };

let cluster: Cluster;
const clients: Client[] = [];
const seqOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const appMessages = (sid: string) => cluster.received(sid).map((r) => r.m);

/** The node that served the session's latest downstream request (upgrade, SSE or poll). */
function downstreamNode(sid: string, t: Transport): string {
  const log = cluster.requestLog(sid);
  // A new SSE session's first downstream is its handshake stream (`GET …/sessions`, no sid in the
  // path): the node that announced it (its `open` line) holds it until a `/sse` resume.
  const pick =
    t === 'websocket'
      ? log.filter((l) => l.kind === 'upgrade' || l.kind === 'open')
      : log.filter((l) => (l.kind === 'http' && l.path?.endsWith(t === 'sse' ? '/sse' : '/poll')) || (t === 'sse' && l.kind === 'open'));
  const last = pick.at(-1);
  assert.ok(last, `no downstream logged for ${sid}`);
  return last.node;
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, timings: TIMINGS });
});
afterAll(async () => {
  for (const c of clients) c.s.close();
  await cluster?.stop();
});
// A drain is routine: no node may report an `error` event for it.
let mark = 0;
beforeEach(() => {
  mark = cluster?.lines.length ?? 0;
});
afterEach(() => {
  cluster?.assertNoProblems(mark);
});

describe('drain one node of three under load (3 nodes, RedisStore, nginx round-robin)', () => {
  it.for(transports)('over %s: every session moves, nothing lost or repeated, no close', { timeout: 60_000 }, async (transport, { annotate }) => {
    const group = await Promise.all([0, 1, 2].map(() => openClient(cluster.url, transport)));
    clients.push(...group);
    for (const c of group) c.send(`join:d-${c.sid}`);
    await waitFor(() => group.every((c) => c.got.includes(`joined:d-${c.sid}`)), 10_000, 'joined');
    const victim = cluster.nodes.find((n) => n.name === downstreamNode(group[0]!.sid, transport))!;
    const others = cluster.nodes.filter((n) => n !== victim);

    // Downstream: room sends from surviving nodes, paced; upstream: each client, one per message received.
    const floods = group.map((c, i) =>
      fetch(`${others[i % others.length]!.direct}/_ctl/room?room=d-${c.sid}&n=${M}&prefix=s&pace=50`, { method: 'POST' }).then((r) => r.json()),
    );
    for (const c of group) {
      let sent = 0;
      c.s.addEventListener('message', () => {
        if (sent < M) c.send(`quiet:c${++sent}`);
      });
    }
    // Mid-stream: drain once the first client is a fifth of the way through.
    await waitFor(() => group[0]!.got.length > M / 5, 20_000, 'traffic flowing');
    const drained = (await fetch(`${victim.direct}/_ctl/drain?deadline=10000`, { method: 'POST' }).then((r) => r.json())) as {
      moved: number;
      remaining: number;
    };
    await annotate(`drained ${victim.name}: ${JSON.stringify(drained)} at ${group[0]!.got.length}/${M}`);
    assert.equal(drained.remaining, 0, 'no live transport left on the drained node');
    // A polling session holds no downstream between polls, so the drained node may hold none of
    // them at this instant; its later polls are refused and land elsewhere.
    if (transport !== 'polling') assert.ok(drained.moved >= 1, 'the drained node had sessions to move');
    assert.equal(await health(victim.direct), 503, 'a draining node reports itself unhealthy');

    await Promise.all(floods);
    await waitFor(
      () => group.every((c) => c.got.length >= M + 1 && appMessages(c.sid).length >= M + 1),
      30_000,
      () => group.map((c) => `client ${c.got.length - 1}/${M} app ${appMessages(c.sid).length - 1}/${M}`).join('; '),
    );
    // The close frame is sequenced after every message: once each app logged the close, a duplicate
    // would already be in the logs.
    for (const c of group) assert.equal((await c.close()).code, 1000);
    await waitFor(() => group.every((c) => cluster.closes(c.sid).length > 0), 10_000, 'server close events logged');

    for (const c of group) {
      assert.deepEqual(c.got, [`joined:d-${c.sid}`, ...seqOf('s', M)], `client ${c.sid} got every message once, in order`);
      assert.deepEqual(appMessages(c.sid), [`join:d-${c.sid}`, ...seqOf('quiet:c', M)], `apps got every message of ${c.sid} once, in order`);
      assert.deepEqual(c.closes.map((e) => e.code), [1000], 'the client saw only its own close');
      assert.deepEqual(cluster.closes(c.sid).map((l) => l.code), [1000], 'one server close, the client\'s');
    }
    if (transport !== 'polling') {
      const moved = group.filter((c) => downstreamNode(c.sid, transport) !== victim.name);
      assert.equal(moved.length, group.length, 'every session ended up served elsewhere');
    }

    // Back to three serving nodes for the next transport.
    await victim.kill9();
    await victim.restart();
    await waitFor(async () => (await health(victim.direct)) === 200, 10_000, 'the restarted node is healthy');
  });
});
