/**
 * Fallback detection against a proxy that misbehaves the way restrictive networks do. Each test shows
 * which transport the client ends on; time-to-open per case is printed by `npm run bench:fallback`.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BurrowSocket, type BurrowSocketOptions } from '@burrow/client';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { type RigOptions, startRigProxy } from './fixtures/rig-proxy.js';
import { once } from './fixtures/wait.js';

/** A Storage-like memory for remembered transports, shared by the sockets of one "page". */
function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() { return m.size; },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, String(v)),
  };
}

describe('fallback', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({}, { app: true });
  });
  afterAll(() => srv.close());

  async function openThrough(rig: RigOptions, options: Record<string, unknown> = {}) {
    const proxy = await startRigProxy({ port: srv.port }, rig);
    const s = new BurrowSocket(`ws://127.0.0.1:${proxy.port}/burrow`, undefined, { remember: false, ...options });
    await once(s, 'open');
    return { s, proxy };
  }

  async function echoes(s: BurrowSocket) {
    const got = once<MessageEvent>(s, 'message');
    s.send('ping-through');
    assert.equal((await got).data, 'ping-through');
  }

  /** What the proxy does, the transport the client must end on, and how the proxy does it. */
  const cases: Array<[name: string, expected: string, rig: RigOptions]> = [
    ['upgrade refused (403)', 'sse', { upgrade: 'refuse' }],
    ['upgrade hangs', 'sse', { upgrade: 'hang' }],
    ['socket opens but the open frame never arrives', 'sse', { upgrade: 'silent' }],
    ['responses buffered until complete and upgrade refused', 'polling', { upgrade: 'refuse', buffer: true }],
    ['nothing wrong', 'websocket', { upgrade: 'pass' }],
  ];
  it.each(cases)('%s -> %s', async (_name, expected, rig) => {
    const { s, proxy } = await openThrough(rig, { upgrade: false });
    try {
      assert.equal(s.transport, expected);
      await echoes(s);
    } finally {
      s.close();
      await proxy.close();
    }
  });

  it('a remembered fallback opens directly on it: no WebSocket attempt on the next load', async () => {
    const storage = memoryStorage();
    const proxy = await startRigProxy({ port: srv.port }, { upgrade: 'refuse' });
    try {
      const url = `ws://127.0.0.1:${proxy.port}/burrow`;
      const first = new BurrowSocket(url, undefined, { remember: storage, upgrade: false });
      await once(first, 'open');
      assert.equal(first.transport, 'sse');
      assert.equal(proxy.seen.upgrades, 1);
      first.close();
      const second = new BurrowSocket(url, undefined, { remember: storage, upgrade: false });
      await once(second, 'open');
      assert.equal(second.transport, 'sse');
      assert.equal(proxy.seen.upgrades, 1, 'no new upgrade attempt');
      await echoes(second);
      second.close();
    } finally {
      await proxy.close();
    }
  });

  it('a fallen-back session upgrades to WebSocket when it becomes possible, losing and repeating nothing', async () => {
    const proxy = await startRigProxy({ port: srv.port }, { upgrade: 'refuse' });
    try {
      const s = new BurrowSocket(`ws://127.0.0.1:${proxy.port}/burrow`, undefined, { remember: false, upgradeDelay: 20 });
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      let closed = false;
      s.addEventListener('close', () => (closed = true));
      // Echo traffic with 10 messages always in flight, kept going until 100 messages after the
      // switch, so the switch certainly happens mid-stream.
      const got: string[] = [];
      let sent = 0;
      let upgradedAt = -1;
      s.addEventListener('transport', () => {
        if (s.transport === 'websocket' && upgradedAt < 0) upgradedAt = got.length;
      });
      const done = new Promise<void>((resolve) =>
        s.addEventListener('message', (e) => {
          got.push((e as MessageEvent).data as string);
          if (got.length === 50) proxy.set({ upgrade: 'pass' });
          if (upgradedAt >= 0 && got.length >= upgradedAt + 100) {
            if (got.length === sent) resolve();
            return;
          }
          s.send(`m${++sent}`);
        }),
      );
      for (let i = 0; i < 10; i++) s.send(`m${++sent}`);
      await done;
      assert.equal(s.transport, 'websocket');
      assert.ok(upgradedAt >= 50, `upgraded after the proxy allowed it (at ${upgradedAt})`);
      assert.deepEqual(got, Array.from({ length: sent }, (_, i) => `m${i + 1}`));
      assert.equal(closed, false);
      const closing = once(s, 'close');
      s.close(1000);
      await closing;
      assert.deepEqual(srv.received.get(s.sessionId), got);
    } finally {
      await proxy.close();
    }
  });

  it('an upgrade probe answered by a node of another protocol version is not promoted (mixed-version rollout)', async () => {
    const proxy = await startRigProxy({ port: srv.port }, { upgrade: 'refuse' });
    // A WebSocket whose first message (the probe's `open`) claims version 2, as a newer node would.
    let probeClosed!: () => void;
    const probeGone = new Promise<void>((resolve) => (probeClosed = resolve));
    const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!;
    class OtherVersionWS extends WebSocket {
      #opened = false;
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        // `ws` declares onmessage as a property: its setter is wrapped on the instance instead.
        Object.defineProperty(this, 'onmessage', {
          set: (fn: ((ev: { data: unknown }) => void) | null) =>
            onmessage.set!.call(this, (ev: { data: unknown }) => {
              let data = ev.data;
              if (!this.#opened && typeof data === 'string') data = data.replace('"v":1,', '"v":2,');
              this.#opened = true;
              fn?.({ data });
            }),
        });
      }
      override close(code?: number): void {
        // Only a socket that got its `open` frame: the refused attempts before it are closed too.
        if (this.#opened) probeClosed();
        super.close(code);
      }
    }
    try {
      const WS = OtherVersionWS as unknown as BurrowSocketOptions['WebSocket'];
      const s = new BurrowSocket(`ws://127.0.0.1:${proxy.port}/burrow`, undefined, { remember: false, upgradeDelay: 20, WebSocket: WS });
      await once(s, 'open');
      assert.equal(s.transport, 'sse');
      const transports: string[] = [];
      s.addEventListener('transport', () => transports.push(s.transport));
      proxy.set({ upgrade: 'pass' });
      // The probe opens on the v1 server, reads `open` as v2 and is closed by the client; promoting
      // it instead would fire `transport`.
      await Promise.race([probeGone, once(s, 'transport')]);
      await echoes(s);
      assert.equal(s.transport, 'sse');
      assert.deepEqual(transports, []);
      s.close();
    } finally {
      await proxy.close();
    }
  });
});
