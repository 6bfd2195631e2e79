/**
 * The staggered race of a first connection (docs/PROTOCOL.md, "Racing transports"): whatever wins,
 * the app on each side sees one session. A gate relay holds chosen answers (the WebSocket's 101 and
 * `open` frame, the SSE handshake stream's `open` event, the polling handshake's answer) so each
 * outcome is produced on purpose rather than by timing: either first, and both released in the same
 * tick, for WebSocket against SSE and for SSE against polling. Time to open is measured by
 * `npm run bench:fallback`, not here.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { BurrowSocket } from '@burrow/client';
import { createBurrow, MemoryStore, type SessionRecord } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { startRigProxy, type RigProxy } from './fixtures/rig-proxy.js';
import { once, until } from './fixtures/wait.js';

/** A MemoryStore that tells when records come and go, so a test can wait for an orphan to be gone. */
class WatchedStore extends MemoryStore {
  readonly created: string[] = [];
  readonly events = new EventEmitter();
  /** `create` and the server's synchronous path (`Store.sync`) both make records here. */
  override createSync(record: SessionRecord, ttlMs: number): void {
    super.createSync(record, ttlMs);
    this.created.push(record.id);
    this.events.emit('change');
  }
  override async delete(sid: string): Promise<void> {
    await super.delete(sid);
    this.events.emit('change');
  }
  /** Resolves once `predicate` holds, re-checked on every create and delete. */
  async until(predicate: () => Promise<boolean>): Promise<void> {
    while (!(await predicate())) await new Promise((r) => this.events.once('change', r));
  }
  async exists(sid: string): Promise<boolean> {
    return (await this.get(sid)) !== undefined;
  }
}

/** What the gate holds: the upgrade, the SSE handshake (`GET …/sessions`), the polling handshake (`POST …/sessions`). */
type Held = 'ws' | 'sse' | 'post';

interface Gate {
  readonly port: number;
  /** Server bytes held per gated connection, by the first request line's kind. */
  held(kind: Held): string;
  /** Lets the gated connections of `kind` through, now and for good. */
  release(kind: Held): void;
  /** Connections of `kind` seen so far. */
  count(kind: Held): number;
  readonly events: EventEmitter;
  close(): Promise<void>;
}

/**
 * A TCP relay that holds what the server sends on the WebSocket upgrade and on the handshakes (`GET`
 * and `POST .../sessions`) until released; every other connection passes. Client bytes always pass,
 * so the server creates both sessions while their answers wait here.
 */
async function startGate(port: number): Promise<Gate> {
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const conns: Array<{ kind: Held | 'other'; held: Buffer[]; open: boolean; client: Socket }> = [];
  const released = new Set<Held | 'other'>(['other']);
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    const conn = { kind: 'other' as Held | 'other', held: [] as Buffer[], open: true, client };
    conns.push(conn);
    let first = true;
    client.on('data', (chunk: Buffer) => {
      if (first) {
        first = false;
        const line = chunk.toString('latin1').split('\r\n', 1)[0] ?? '';
        if (line.startsWith('GET /burrow/ws')) conn.kind = 'ws';
        else if (/^GET \/burrow\/sessions[?\s]/.test(line)) conn.kind = 'sse';
        else if (/^POST \/burrow\/sessions[?\s]/.test(line)) conn.kind = 'post';
        conn.open = released.has(conn.kind);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (conn.open) client.write(chunk);
      else {
        conn.held.push(chunk);
        events.emit('held');
      }
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (conn.open) client.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    count: (kind) => conns.filter((c) => c.kind === kind).length,
    held: (kind) => Buffer.concat(conns.filter((c) => c.kind === kind).flatMap((c) => c.held)).toString('latin1'),
    release(kind) {
      released.add(kind);
      for (const c of conns) {
        if (c.kind !== kind || c.open) continue;
        c.open = true;
        for (const b of c.held) c.client.write(b);
        c.held = [];
      }
    },
    events,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('race: one session per socket, whatever wins', () => {
  let store: WatchedStore;
  let srv: TestServer;
  /** `connection` events, by session id. */
  let connections: string[];

  beforeAll(async () => {
    store = new WatchedStore();
    const burrow = createBurrow({ store });
    burrow.on('connection', (s) => {
      connections.push(s.id);
      store.events.emit('change');
    });
    burrow.on('message', (s, data) => void s.send(data).catch(() => {}));
    burrow.on('error', () => {});
    srv = await startTestServer(burrow);
  });
  afterAll(() => srv.close());

  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function socket(port: number, options: Record<string, unknown> = {}): BurrowSocket {
    connections = [];
    const s = new BurrowSocket(`ws://127.0.0.1:${port}/burrow`, undefined, { remember: false, upgrade: false, ...options });
    s.addEventListener('error', () => {});
    cleanups.push(async () => {
      if (s.readyState === s.CLOSED) return;
      const closed = once(s, 'close');
      s.close();
      await closed;
    });
    return s;
  }

  /** Sends `texts`, waits for their echoes, and checks both sides saw them once and in order. */
  async function roundTrip(s: BurrowSocket, texts: string[], got: string[]): Promise<void> {
    const before = got.length;
    for (const t of texts) s.send(t);
    await until(s, 'message', () => got.length >= before + texts.length);
    assert.deepEqual(got.slice(before), texts);
  }

  function collect(s: BurrowSocket): string[] {
    const got: string[] = [];
    s.addEventListener('message', (e) => got.push(String((e as MessageEvent).data)));
    return got;
  }

  /**
   * Exactly one `connection`, for the socket's session, and every other session created is gone. An
   * HTTP claim reaches the server a request after `open`: the first `connection` is waited for.
   */
  async function oneSession(s: BurrowSocket, createdBefore: number): Promise<void> {
    const mine = store.created.slice(createdBefore);
    await store.until(async () => {
      if (connections.length === 0) return false;
      for (const sid of mine) if (sid !== s.sessionId && (await store.exists(sid))) return false;
      return true;
    });
    assert.deepEqual(connections, [s.sessionId]);
    assert.ok(await store.exists(s.sessionId!), 'the winning session is in the store');
  }

  async function gated(): Promise<Gate> {
    const gate = await startGate(srv.port);
    cleanups.push(() => gate.close());
    return gate;
  }

  /** Resolves once the gate holds a complete `open` answer of `kind` (the server created that session). */
  function holding(gate: Gate, kind: Held): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!gate.held(kind).includes('"t":"open"')) return;
        gate.events.off('held', check);
        resolve();
      };
      gate.events.on('held', check);
      check();
    });
  }

  it('WebSocket answers first: the SSE handshake session is abandoned and discarded, no connection for it', async () => {
    const gate = await gated();
    const n = store.created.length;
    const s = socket(gate.port, { raceDelay: 0 });
    await Promise.all([holding(gate, 'ws'), holding(gate, 'sse')]);
    gate.release('ws');
    await once(s, 'open');
    assert.equal(s.transport, 'websocket');
    const got = collect(s);
    await roundTrip(s, ['a1', 'a2'], got);
    gate.release('sse');
    await oneSession(s, n);
    await roundTrip(s, ['a3'], got);
    assert.deepEqual(srv.received.get(s.sessionId!), ['a1', 'a2', 'a3']);
  });

  it('the SSE handshake answers first: the WebSocket session is abandoned and discarded, no connection for it', async () => {
    const gate = await gated();
    const n = store.created.length;
    const s = socket(gate.port, { raceDelay: 0 });
    await Promise.all([holding(gate, 'ws'), holding(gate, 'sse')]);
    gate.release('sse');
    await once(s, 'open');
    assert.equal(s.transport, 'sse');
    const got = collect(s);
    await roundTrip(s, ['b1', 'b2'], got);
    gate.release('ws');
    await oneSession(s, n);
    await roundTrip(s, ['b3'], got);
    assert.deepEqual(srv.received.get(s.sessionId!), ['b1', 'b2', 'b3']);
  });

  it('a WebSocket that answers after SSE won moves the session onto WebSocket at once: its own session discarded', async () => {
    const gate = await gated();
    const n = store.created.length;
    // Without the late WebSocket, no probe would start within the test: the upgrade delay is 10 minutes.
    const s = socket(gate.port, { raceDelay: 0, upgrade: true, upgradeDelay: 600_000 });
    await Promise.all([holding(gate, 'ws'), holding(gate, 'sse')]);
    gate.release('sse');
    await once(s, 'open');
    assert.equal(s.transport, 'sse');
    const got = collect(s);
    await roundTrip(s, ['j1', 'j2'], got);
    const moved = once(s, 'transport');
    gate.release('ws');
    for (const t of ['j3', 'j4', 'j5']) s.send(t);
    await moved;
    assert.equal(s.transport, 'websocket');
    await until(s, 'message', () => got.length >= 5);
    await roundTrip(s, ['j6'], got);
    assert.deepEqual(got, ['j1', 'j2', 'j3', 'j4', 'j5', 'j6']);
    assert.deepEqual(srv.received.get(s.sessionId!), got);
    await oneSession(s, n);
    assert.equal(gate.count('ws'), 2, 'the raced WebSocket, then the probe that resumed the session on it');
  });

  // Released in one synchronous stretch, in either order: which data event the client handles first
  // is up to the platform, so both winners occur.
  it.each([
    ['ws', 'sse'],
    ['sse', 'ws'],
    ['ws', 'sse'],
    ['sse', 'ws'],
  ] as const)('both answer in the same tick (%s, then %s): one connection, the other session gone', async (a, b) => {
    const gate = await gated();
    const n = store.created.length;
    const s = socket(gate.port, { raceDelay: 0 });
    await Promise.all([holding(gate, 'ws'), holding(gate, 'sse')]);
    gate.release(a);
    gate.release(b);
    await once(s, 'open');
    const got = collect(s);
    await roundTrip(s, ['c1', 'c2'], got);
    await oneSession(s, n);
    assert.deepEqual(srv.received.get(s.sessionId!), ['c1', 'c2']);
  });

  describe('SSE against polling (a buffering proxy holds the SSE handshake)', () => {
    const sseFirst = { transports: ['sse', 'polling'], raceDelay: 0 };

    it('the polling handshake answers first: the SSE handshake session is discarded when its stream closes', async () => {
      const gate = await gated();
      const n = store.created.length;
      const s = socket(gate.port, sseFirst);
      await Promise.all([holding(gate, 'sse'), holding(gate, 'post')]);
      gate.release('post');
      await once(s, 'open');
      assert.equal(s.transport, 'polling');
      const got = collect(s);
      await roundTrip(s, ['f1', 'f2'], got);
      await oneSession(s, n);
      gate.release('sse');
      await roundTrip(s, ['f3'], got);
      assert.deepEqual(srv.received.get(s.sessionId!), ['f1', 'f2', 'f3']);
      assert.deepEqual(connections, [s.sessionId]);
    });

    it('the SSE handshake answers first: the polling session is abandoned and discarded', async () => {
      const gate = await gated();
      const n = store.created.length;
      const s = socket(gate.port, sseFirst);
      await Promise.all([holding(gate, 'sse'), holding(gate, 'post')]);
      gate.release('sse');
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      const got = collect(s);
      await roundTrip(s, ['g1', 'g2'], got);
      gate.release('post');
      await oneSession(s, n);
      await roundTrip(s, ['g3'], got);
      assert.deepEqual(srv.received.get(s.sessionId!), ['g1', 'g2', 'g3']);
    });

    it('an SSE stream remembered for the origin is not raced: no polling handshake while it is held', async () => {
      const gate = await gated();
      const n = store.created.length;
      const key = `burrow:transport:ws://127.0.0.1:${gate.port}/burrow`;
      const memory = new Map([[key, JSON.stringify({ t: 'sse', at: Date.now(), rtt: 5 })]]);
      const remember = { getItem: (k: string) => memory.get(k) ?? null, setItem: (k: string, v: string) => void memory.set(k, v) };
      const s = socket(gate.port, { ...sseFirst, remember });
      await holding(gate, 'sse');
      // The race delay (0) has long passed while the server's `open` waited in the gate.
      assert.equal(gate.count('post'), 0, 'no polling handshake');
      gate.release('sse');
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      await roundTrip(s, ['i1'], collect(s));
      await oneSession(s, n);
      assert.equal(gate.count('post'), 0, 'no polling handshake');
    });

    it.each([
      ['sse', 'post'],
      ['post', 'sse'],
      ['sse', 'post'],
      ['post', 'sse'],
    ] as const)('both answer in the same tick (%s, then %s): one connection, the other session gone', async (a, b) => {
      const gate = await gated();
      const n = store.created.length;
      const s = socket(gate.port, sseFirst);
      await Promise.all([holding(gate, 'sse'), holding(gate, 'post')]);
      gate.release(a);
      gate.release(b);
      await once(s, 'open');
      const got = collect(s);
      await roundTrip(s, ['h1', 'h2'], got);
      await oneSession(s, n);
      assert.deepEqual(srv.received.get(s.sessionId!), ['h1', 'h2']);
    });
  });

  describe('through a rig proxy', () => {
    let proxy: RigProxy;
    async function rig(upgrade: 'pass' | 'hang' | 'silent'): Promise<RigProxy> {
      proxy = await startRigProxy({ port: srv.port }, { upgrade });
      cleanups.push(() => proxy.close());
      return proxy;
    }

    it('upgrade black-holed: one session on SSE; messages before, during and after the upgrade arrive once, in order', async () => {
      await rig('hang');
      const n = store.created.length;
      const s = socket(proxy.port, { upgrade: true, upgradeDelay: 50 });
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      const got = collect(s);
      await roundTrip(s, ['d1', 'd2'], got);
      await oneSession(s, n);
      // The WebSocket works from now on: the background upgrade moves the session onto it.
      proxy.set({ upgrade: 'pass' });
      const moved = once(s, 'transport');
      for (const t of ['d3', 'd4', 'd5']) s.send(t);
      await moved;
      assert.equal(s.transport, 'websocket');
      await until(s, 'message', () => got.length >= 5);
      await roundTrip(s, ['d6'], got);
      assert.deepEqual(got, ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']);
      assert.deepEqual(srv.received.get(s.sessionId!), got);
      assert.deepEqual(connections, [s.sessionId]);
    });

    it('upgrade opens but stays silent: the raced WebSocket session is discarded at once', async () => {
      await rig('silent');
      const n = store.created.length;
      const s = socket(proxy.port);
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      await oneSession(s, n);
      // The WebSocket did reach the server: its session was made, and is gone.
      assert.ok(store.created.length - n >= 2);
    });

    it('upgrade refused: falls back at once, without a race', async () => {
      await rig('pass');
      proxy.set({ upgrade: 'refuse' });
      const n = store.created.length;
      const s = socket(proxy.port, { raceDelay: 60_000 });
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      await oneSession(s, n);
      assert.equal(store.created.length - n, 1);
    });

    it('upgrade passes: the WebSocket claims its session, one connection', async () => {
      await rig('pass');
      const n = store.created.length;
      const s = socket(proxy.port, { raceDelay: 60_000 });
      await once(s, 'open');
      assert.equal(s.transport, 'websocket');
      const got = collect(s);
      await roundTrip(s, ['e1'], got);
      await oneSession(s, n);
      assert.equal(proxy.seen.requests, 0, 'no HTTP request');
    });
  });
});
