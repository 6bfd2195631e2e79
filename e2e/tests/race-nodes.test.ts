/**
 * The orphan rule of the transport race across nodes (docs/PROTOCOL.md, "Racing transports"): two
 * Burrows sharing one store are two nodes. A session made by a raced handshake (`race=1`) on one node
 * is announced by whichever node gets the client's first request, once; an abandon on any node
 * discards it with no events.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { type ClientRequest, request } from 'node:http';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { encodeHandshakeRequest, encodeSendRequest, type OpenFrame } from '@burrow/shared';
import { createBurrow, MemoryStore } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';

const TEXT = { 'Content-Type': 'text/plain;charset=UTF-8' };

/** A MemoryStore that tells when a record is deleted. */
class WatchedStore extends MemoryStore {
  readonly deleted = new EventEmitter();
  override async delete(sid: string): Promise<void> {
    await super.delete(sid);
    this.deleted.emit(sid);
  }
}

describe('race across nodes', () => {
  const store = new WatchedStore();
  const nodes: TestServer[] = [];
  /** Every `connection` and `close`, tagged with the node that emitted it. */
  const events: string[] = [];

  beforeAll(async () => {
    for (const name of ['A', 'B']) {
      const b = createBurrow({ store });
      b.on('connection', (s) => events.push(`${name} connection ${s.id}`));
      b.on('message', (s, d) => events.push(`${name} message ${s.id} ${String(d)}`));
      b.on('close', (s) => events.push(`${name} close ${s.id}`));
      b.on('error', () => {});
      nodes.push(await startTestServer(b));
    }
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
  });

  async function racedHandshake(node: TestServer): Promise<OpenFrame> {
    const res = await fetch(`${node.http}/sessions?race=1`, { method: 'POST', headers: TEXT, body: encodeHandshakeRequest([]) });
    assert.equal(res.status, 200);
    return (await res.json()) as OpenFrame;
  }

  /** `GET …/sessions?race=1`: the SSE handshake, read up to its first event (the `open` frame). */
  function racedSseHandshake(node: TestServer): Promise<{ open: OpenFrame; req: ClientRequest }> {
    return new Promise((resolve, reject) => {
      const req = request(`${node.http}/sessions?v=1&race=1`, (res) => {
        assert.equal(res.statusCode, 200);
        res.setEncoding('utf8');
        let text = '';
        res.on('error', () => {});
        res.on('data', (chunk: string) => {
          text += chunk;
          const m = /^data: (.*)$/m.exec(text);
          if (m) resolve({ open: JSON.parse(m[1]!) as OpenFrame, req });
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Ends the SSE stream from the client side, as a client abandoning it does. */
  function closeStream(req: ClientRequest): Promise<void> {
    return new Promise((resolve) => {
      req.once('close', () => resolve());
      req.destroy();
    });
  }

  async function send(node: TestServer, open: OpenFrame, seq: number, data: string, extra = ''): Promise<number> {
    const res = await fetch(`${node.http}/sessions/${open.sid}/send?token=${encodeURIComponent(open.token)}${extra}`, {
      method: 'POST',
      headers: TEXT,
      body: encodeSendRequest({ frames: seq > 0 ? [{ t: 'd', seq, data }] : [] }),
    });
    await res.text();
    return res.status;
  }

  it('the node that gets the first request announces the session, once; requests elsewhere do not', async () => {
    events.length = 0;
    const open = await racedHandshake(nodes[0]!);
    assert.equal(events.length, 0, 'no connection for an unclaimed session');
    // Two requests at once on different nodes: the store's touch lets exactly one of them claim.
    const [s1, s2] = await Promise.all([send(nodes[1]!, open, 1, 'x1'), send(nodes[0]!, open, 2, 'x2')]);
    assert.deepEqual([s1, s2], [200, 200]);
    assert.equal(await send(nodes[1]!, open, 3, 'x3'), 200);
    const connections = events.filter((e) => e.includes(' connection '));
    assert.equal(connections.length, 1, events.join('\n'));
    const messages = events.filter((e) => e.includes(' message ')).map((e) => e.split(' ').at(-1));
    assert.deepEqual(messages.sort(), ['x1', 'x2', 'x3']);
  });

  it('an abandon on another node discards the unclaimed session: no events, nothing in the store', async () => {
    events.length = 0;
    const open = await racedHandshake(nodes[0]!);
    assert.equal(await send(nodes[1]!, open, 0, '', '&abandon=1'), 200);
    assert.equal(await store.get(open.sid), undefined);
    assert.equal(events.length, 0, events.join('\n'));
    // It is gone for good: a late request finds no session.
    assert.equal(await send(nodes[0]!, open, 1, 'late'), 404);
    assert.equal(events.length, 0, events.join('\n'));
  });

  it('abandon does nothing to a claimed session', async () => {
    events.length = 0;
    const open = await racedHandshake(nodes[0]!);
    assert.equal(await send(nodes[0]!, open, 1, 'y1'), 200);
    assert.equal(await send(nodes[1]!, open, 0, '', '&abandon=1'), 200);
    assert.ok(await store.get(open.sid));
    assert.equal(await send(nodes[1]!, open, 2, 'y2'), 200);
    assert.deepEqual(events.filter((e) => e.includes(' connection ')).length, 1);
    assert.ok(!events.some((e) => e.includes(' close ')));
  });

  it('an SSE handshake stream that closes unclaimed takes its session with it: no events', async () => {
    events.length = 0;
    const { open, req } = await racedSseHandshake(nodes[0]!);
    const gone = new Promise((r) => store.deleted.once(open.sid, r));
    await closeStream(req);
    await gone;
    assert.equal(await store.get(open.sid), undefined);
    assert.equal(await send(nodes[1]!, open, 1, 'late'), 404);
    assert.equal(events.length, 0, events.join('\n'));
  });

  it('an SSE handshake claimed on another node survives its stream: one connection, no close', async () => {
    events.length = 0;
    const { open, req } = await racedSseHandshake(nodes[0]!);
    assert.equal(events.length, 0, 'no connection for an unclaimed session');
    // The claim lands on B; node A, which holds the stream, never saw it and asks the store.
    assert.equal(await send(nodes[1]!, open, 1, 'z1'), 200);
    await closeStream(req);
    // A second unclaimed stream closed after the first: once A has discarded it, A has handled the
    // first stream's close too (same node, closed in this order).
    const other = await racedSseHandshake(nodes[0]!);
    const gone = new Promise((r) => store.deleted.once(other.open.sid, r));
    await closeStream(other.req);
    await gone;
    assert.ok(await store.get(open.sid), 'the claimed session is still in the store');
    assert.equal(await send(nodes[0]!, open, 2, 'z2'), 200);
    assert.deepEqual(events.filter((e) => e.includes(' connection ')), [`B connection ${open.sid}`]);
    assert.ok(!events.some((e) => e.includes(' close ')), events.join('\n'));
  });
});
