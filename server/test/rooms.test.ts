// Rooms and broadcast across two "nodes": two Burrow instances sharing one MemoryStore.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BurrowError, MemoryStore, type Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { connectWs, postJson, type RawClient, waitFor } from './helpers.js';

interface Member {
  client: RawClient;
  session: Session;
}

async function member(node: TestServer): Promise<Member> {
  const connected = waitFor<[Session]>(node.burrow, 'connection');
  const client = await connectWs(`${node.ws}/ws`);
  const open = await client.nextJson();
  assert.equal(open.t, 'open');
  const [session] = await connected;
  return { client, session };
}

/** Next data frame as text (`seq:text`). */
async function nextText(c: RawClient): Promise<string> {
  const m = await c.nextFrame();
  assert.equal(m.kind, 'text');
  return m.kind === 'text' ? m.text : '';
}

describe('rooms across two nodes sharing a store', () => {
  const store = new MemoryStore();
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ store });
    b = await startTestServer({ store });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await store.close();
  });

  it('join on either node; to(room).send from node B reaches members on both nodes exactly once', async () => {
    const onA = await member(a);
    const onB = await member(b);
    const outsider = await member(a);
    await onA.session.join('lobby');
    await onB.session.join('lobby');
    await onA.session.join('other');
    assert.deepEqual([...(await onA.session.rooms())].sort(), ['lobby', 'other']);

    const r = await b.burrow.to('lobby').send('hello room');
    assert.deepEqual(r, { delivered: 2 });
    assert.equal(await nextText(onA.client), '1:hello room');
    assert.equal(await nextText(onB.client), '1:hello room');

    // Exactly once: the next thing each member sees is the next message, seq 2.
    await onA.session.send('marker');
    await onB.session.send('marker');
    assert.equal(await nextText(onA.client), '2:marker');
    assert.equal(await nextText(onB.client), '2:marker');
    // The outsider got nothing from the room.
    await outsider.session.send('first');
    assert.equal(await nextText(outsider.client), '1:first');

    // broadcast() reaches every open session, here on both nodes, from node A.
    const all = await a.burrow.broadcast(new Uint8Array([1, 2, 3]));
    assert.ok(all.delivered >= 3);
    for (const m of [onA, onB]) {
      const f = await m.client.nextFrame();
      assert.equal(f.kind, 'binary');
      if (f.kind === 'binary') {
        assert.equal(f.bytes.readDoubleBE(0), 3);
        assert.deepEqual([...f.bytes.subarray(8)], [1, 2, 3]);
      }
    }
    const f = await outsider.client.nextFrame();
    assert.ok(f.kind === 'binary' && f.bytes.readDoubleBE(0) === 2);

    // leave: no longer a member.
    await onB.session.leave('lobby');
    assert.deepEqual(await onB.session.rooms(), []);
    assert.deepEqual(await a.burrow.to('lobby').send('after leave'), { delivered: 1 });
    assert.equal(await nextText(onA.client), '4:after leave');
    await onB.session.send('still here');
    assert.equal(await nextText(onB.client), '4:still here');

    for (const m of [onA, onB, outsider]) m.client.ws.close();
  });

  it('memberships die with the session; an empty room delivers to nobody', async () => {
    const m = await member(a);
    await m.session.join('ephemeral');
    assert.deepEqual(await store.members('ephemeral'), [m.session.id]);
    const closed = waitFor<[Session, number]>(a.burrow, 'close', (s) => s.id === m.session.id);
    await m.session.close(1000, 'bye');
    await closed;
    // A closed session is no longer a member, even while its record lingers for the echo.
    assert.deepEqual(await store.members('ephemeral'), []);
    assert.deepEqual(await b.burrow.to('ephemeral').send('x'), { delivered: 0 });
    await store.delete(m.session.id);
    assert.deepEqual(await store.rooms(m.session.id), []);
    m.client.ws.close();
  });

  it('a member whose buffer is full is closed with 4003; the others still get the message', async () => {
    const small = new MemoryStore();
    const n1 = await startTestServer({ store: small, limits: { maxBufferedMessages: 3 } });
    const n2 = await startTestServer({ store: small, limits: { maxBufferedMessages: 3 } });
    try {
      // A member that never reads: an HTTP session with no downstream, on node 1.
      const connected = waitFor<[Session]>(n1.burrow, 'connection');
      const { sid } = (await postJson(`${n1.http}/sessions`, { v: 1 })).json;
      const [stuck] = await connected;
      assert.equal(stuck.id, sid);
      await stuck.join('r');
      for (let i = 0; i < 3; i++) await stuck.send(`fill ${i}`);
      const live = await member(n2);
      await live.session.join('r');

      // The fan-out runs on node 2, which does not hold the stuck session.
      const closed = waitFor<[Session, number, string]>(n2.burrow, 'close', (s) => s.id === sid);
      const r = await n2.burrow.to('r').send('news');
      assert.deepEqual(r, { delivered: 1 });
      const [, code] = await closed;
      assert.equal(code, 4003);
      assert.equal(await nextText(live.client), '1:news');
      live.client.ws.close();
    } finally {
      await n1.close();
      await n2.close();
      await small.close();
    }
  });

  it('validates room names and payloads', async () => {
    const m = await member(a);
    assert.throws(() => a.burrow.to(''), TypeError);
    assert.throws(() => a.burrow.to('x'.repeat(257)), TypeError);
    assert.throws(() => a.burrow.to(42 as unknown as string), TypeError);
    assert.doesNotThrow(() => a.burrow.to('x'.repeat(256)));
    await assert.rejects(m.session.join(''), TypeError);
    await assert.rejects(m.session.join('y'.repeat(257)), TypeError);
    await assert.rejects(m.session.leave(undefined as unknown as string), TypeError);
    const big = 'z'.repeat(a.burrow.options.limits.maxPayload + 1);
    await assert.rejects(a.burrow.broadcast(big), (e: unknown) => e instanceof BurrowError && e.code === 'payload_too_large');
    // Unawaited rejections are handled: no unhandledRejection.
    void m.session.join('');
    void a.burrow.broadcast(big);
    await new Promise((r) => setImmediate(r));
    m.client.ws.close();
  });
});

describe('fan-out on one node (the in-process fast path)', () => {
  it('a store whose members() names a session twice: the member gets the message once', async () => {
    // `members` of a custom in-process store may repeat an id; appendEach's contract is once per
    // session, and the fast path (appendSync per member) keeps it.
    class Repeating extends MemoryStore {
      override async members(room: string | undefined): Promise<readonly string[]> {
        const ids = await super.members(room);
        return [...ids, ...ids];
      }
    }
    const store = new Repeating();
    const node = await startTestServer({ store });
    try {
      assert.ok(store.sync, 'the fast path needs an in-process store');
      const m = await member(node);
      const r = await node.burrow.broadcast('once');
      assert.deepEqual(r, { delivered: 1 });
      await m.session.send('next');
      assert.equal(await nextText(m.client), '1:once');
      assert.equal(await nextText(m.client), '2:next');
      m.client.ws.close();
    } finally {
      await node.close();
      await store.close();
    }
  });

  it('broadcasts interleaved with sends reach each live session in seq order, each once', async () => {
    const store = new MemoryStore();
    const node = await startTestServer({ store });
    try {
      const ms = [await member(node), await member(node), await member(node)];
      const rounds = 20;
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < rounds; i++) {
        pending.push(node.burrow.broadcast(`b${i}`));
        for (const m of ms) pending.push(m.session.send(`s${i}`));
      }
      await Promise.all(pending);
      for (const m of ms) {
        const got: string[] = [];
        for (let k = 0; k < rounds * 2; k++) got.push(await nextText(m.client));
        // Seqs 1..2n with no gap or repeat, and each round's broadcast and send both there.
        assert.deepEqual(got.map((t) => Number(t.slice(0, t.indexOf(':')))), Array.from({ length: rounds * 2 }, (_, k) => k + 1));
        const texts = got.map((t) => t.slice(t.indexOf(':') + 1));
        for (let i = 0; i < rounds; i++) {
          assert.equal(texts.filter((t) => t === `b${i}`).length, 1);
          assert.equal(texts.filter((t) => t === `s${i}`).length, 1);
        }
        // A session's own sends keep their order.
        assert.deepEqual(texts.filter((t) => t.startsWith('s')), Array.from({ length: rounds }, (_, i) => `s${i}`));
        m.client.ws.close();
      }
    } finally {
      await node.close();
      await store.close();
    }
  });
});
