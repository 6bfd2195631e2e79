// Store health: a store that goes down (503 + Retry-After, 1013, store_unavailable) and one that
// comes back empty ('lost': sessions end with 4006, later requests answer 410).
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { BurrowSocket } from '@burrow/client';
import {
  BurrowError,
  MemoryStore,
  type AppendLimits,
  type NewFrame,
  type SessionRecord,
  type Session,
  type Store,
  type StoreStatus,
  type WakeEvent,
} from '../src/index.js';
import { startTestServer } from '@burrow/test-support';
import { connectWs, getJson, postJson, waitFor } from './helpers.js';

/** Delegates to a MemoryStore; `down` makes every call reject, `lose()` swaps in an empty one. */
class FlakyStore implements Store {
  inner = new MemoryStore();
  #status: StoreStatus = 'up';
  /** Calls reject although the status still says 'up' (a failure the store has not noticed yet). */
  failing = false;
  readonly #listeners = new Set<(s: StoreStatus) => void>();
  readonly #expired = new Set<(r: SessionRecord) => void>();

  set(status: StoreStatus): void {
    this.#status = status;
    for (const l of [...this.#listeners]) l(status);
  }
  lose(): void {
    void this.inner.close();
    this.inner = new MemoryStore();
    this.inner.onExpired((r) => this.#expired.forEach((l) => l(r)));
    this.set('lost');
    this.set('up');
  }
  constructor() {
    this.inner.onExpired((r) => this.#expired.forEach((l) => l(r)));
  }
  #go<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#status === 'down' || this.failing) return Promise.reject(new Error('ECONNREFUSED (fake)'));
    return fn();
  }
  create(r: SessionRecord, ttl: number) { return this.#go(() => this.inner.create(r, ttl)); }
  get(sid: string) { return this.#go(() => this.inner.get(sid)); }
  touch(sid: string, ttl: number, a: boolean) { return this.#go(() => this.inner.touch(sid, ttl, a)); }
  delete(sid: string) { return this.#go(() => this.inner.delete(sid)); }
  setData(sid: string, d: unknown) { return this.#go(() => this.inner.setData(sid, d)); }
  append(sid: string, f: readonly NewFrame[], l: AppendLimits) { return this.#go(() => this.inner.append(sid, f, l)); }
  appendClose(sid: string, by: 'client' | 'server', c: number | undefined, r: string | undefined) { return this.#go(() => this.inner.appendClose(sid, by, c, r)); }
  read(sid: string, after: number, mf: number, mb: number) { return this.#go(() => this.inner.read(sid, after, mf, mb)); }
  ack(sid: string, ack: number) { return this.#go(() => this.inner.ack(sid, ack)); }
  acceptInbound(sid: string, seq: number) { return this.#go(() => this.inner.acceptInbound(sid, seq)); }
  publish(sid: string, e: WakeEvent) { return this.#go(() => this.inner.publish(sid, e)); }
  subscribe(sid: string, l: (e: WakeEvent) => void) { return this.inner.subscribe(sid, l); }
  onExpired(l: (r: SessionRecord) => void) { this.#expired.add(l); return () => this.#expired.delete(l); }
  join(sid: string, room: string) { return this.#go(() => this.inner.join(sid, room)); }
  leave(sid: string, room: string) { return this.#go(() => this.inner.leave(sid, room)); }
  rooms(sid: string) { return this.#go(() => this.inner.rooms(sid)); }
  members(room: string | undefined) { return this.#go(() => this.inner.members(room)); }
  appendEach(sids: readonly string[], f: NewFrame, l: AppendLimits) { return this.#go(() => this.inner.appendEach(sids, f, l)); }
  status(): StoreStatus { return this.#status; }
  onStatus(l: (s: StoreStatus) => void) { this.#listeners.add(l); return () => this.#listeners.delete(l); }
  async close() { await this.inner.close(); }
}

const isCode = (code: string) => (e: unknown) => e instanceof BurrowError && e.code === code;

function trackUnhandled(): { check(): void } {
  const seen: unknown[] = [];
  const on = (e: unknown) => seen.push(e);
  process.on('unhandledRejection', on);
  return {
    check() {
      process.off('unhandledRejection', on);
      assert.deepEqual(seen, []);
    },
  };
}

describe('store down', () => {
  it('health() and GET /health report it; every HTTP endpoint answers 503 + Retry-After; send() rejects fast with the outage hold off', async () => {
    const unhandled = trackUnhandled();
    const store = new FlakyStore();
    // `bytes: 0`: no outage hold (store-outage-hold.test.ts covers the default, which holds sends).
    const s = await startTestServer({ store, storeOutageBuffer: { bytes: 0 } });
    s.burrow.on('error', () => {});
    const connected = waitFor<[Session]>(s.burrow, 'connection');
    const { sid, token } = (await postJson(`${s.http}/sessions`, { v: 1 })).json;
    const [session] = await connected;
    await session.join('room');

    let h = await getJson(`${s.http}/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { ok: true, store: 'up', sessions: 1 });
    assert.deepEqual(s.burrow.health(), { ok: true, store: 'up', sessions: 1 });

    store.set('down');
    h = await getJson(`${s.http}/health`);
    assert.equal(h.status, 503);
    assert.deepEqual(h.json, { ok: false, store: 'down', sessions: 1 });

    const answers = [
      await postJson(`${s.http}/sessions`, { v: 1 }),
      await postJson(`${s.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 1, text: 'x' }] }),
      await getJson(`${s.http}/sessions/${sid}/poll?token=${token}`),
      await getJson(`${s.http}/sessions/${sid}/sse?token=${token}`),
    ];
    for (const r of answers) {
      assert.equal(r.status, 503);
      assert.equal(r.json.error, 'store_unavailable');
      assert.equal(r.json.close, 1013);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
    }

    const t0 = Date.now();
    await assert.rejects(session.send('x'), isCode('store_unavailable'));
    await assert.rejects(s.burrow.to('room').send('x'), isCode('store_unavailable'));
    await assert.rejects(s.burrow.broadcast('x'), isCode('store_unavailable'));
    await assert.rejects(session.join('other'), isCode('store_unavailable'));
    assert.ok(Date.now() - t0 < 100);
    void session.send('unawaited');

    // Back up: the session is intact and the retried batch goes through.
    store.set('up');
    const ok = await postJson(`${s.http}/sessions/${sid}/send?token=${token}`, { frames: [{ t: 'd', seq: 1, text: 'x' }] });
    assert.deepEqual([ok.status, ok.json], [200, { ack: 1 }]);
    await s.close();
    unhandled.check();
  });

  it('a store call failing mid-request answers 503, not 500, and never hangs', async () => {
    const unhandled = trackUnhandled();
    const store = new FlakyStore();
    const s = await startTestServer({ store });
    const errors: Error[] = [];
    s.burrow.on('error', (e) => errors.push(e));
    const { sid, token } = (await postJson(`${s.http}/sessions`, { v: 1 })).json;
    store.failing = true; // status still 'up'
    for (const r of [
      await postJson(`${s.http}/sessions`, { v: 1 }),
      await postJson(`${s.http}/sessions/${sid}/send?token=${token}`, { frames: [] }),
      await getJson(`${s.http}/sessions/${sid}/poll?token=${token}`),
      await getJson(`${s.http}/sessions/${sid}/sse?token=${token}`),
    ]) {
      assert.equal(r.status, 503);
      assert.equal(r.json.error, 'store_unavailable');
      assert.ok(r.headers.get('retry-after'));
    }
    assert.ok(errors.length > 0);
    store.failing = false;
    await s.close();
    unhandled.check();
  });

  it('a WebSocket whose store call fails is closed with 1013; the session resumes once the store is up', async () => {
    const unhandled = trackUnhandled();
    const store = new FlakyStore();
    const s = await startTestServer({ store });
    s.burrow.on('error', () => {});
    const closes: number[] = [];
    s.burrow.on('close', (_s, code) => closes.push(code));
    const c = await connectWs(`${s.ws}/ws`);
    const open = await c.nextJson();
    const sid = open.sid as string;
    const token = open.token as string;
    const got = waitFor<[Session, string]>(s.burrow, 'message');
    c.ws.send('1:one');
    assert.equal((await got)[1], 'one');

    store.set('down');
    c.ws.send('2:two');
    assert.equal((await c.closed).code, 1013);

    // While down a resume is refused the same way, never hanging.
    const refused = await connectWs(`${s.ws}/ws?sid=${sid}&token=${token}&ack=0`);
    assert.equal((await refused.closed).code, 1013);

    store.set('up');
    const again = await connectWs(`${s.ws}/ws?sid=${sid}&token=${token}&ack=0`);
    const reopen = await again.nextJson();
    assert.equal(reopen.resumed, true);
    assert.equal(reopen.ack, 1);
    const got2 = waitFor<[Session, string]>(s.burrow, 'message');
    again.ws.send('2:two');
    assert.equal((await got2)[1], 'two');
    assert.deepEqual(closes, []);
    again.ws.close();
    await s.close();
    unhandled.check();
  });
});

describe('store lost', () => {
  it('every session held here closes with 4006; transports end; later requests answer 410 state_lost', async () => {
    const unhandled = trackUnhandled();
    const store = new FlakyStore();
    const s = await startTestServer({ store });
    s.burrow.on('error', () => {});
    const closes = new Map<string, [number, string][]>();
    s.burrow.on('close', (session, code, reason) => {
      const l = closes.get(session.id) ?? [];
      l.push([code, reason]);
      closes.set(session.id, l);
    });

    const c = await connectWs(`${s.ws}/ws`);
    const wsOpen = await c.nextJson();
    const { sid, token } = (await postJson(`${s.http}/sessions`, { v: 1 })).json;
    const attached = waitFor<[Session]>(s.burrow, 'transport', (x) => x.id === sid);
    const poll = getJson(`${s.http}/sessions/${sid}/poll?token=${token}`);
    await attached;

    const ws = new BurrowSocket(s.ws, undefined, { transports: ['websocket'], remember: false, upgrade: false });
    const polling = new BurrowSocket(s.http, undefined, { transports: ['polling'], remember: false, upgrade: false });
    const events = (b: BurrowSocket) => {
      const seen: string[] = [];
      b.addEventListener('error', () => seen.push('error'));
      const closed = new Promise<number>((r) => b.addEventListener('close', (e) => r((e as CloseEvent).code)));
      return { seen, closed };
    };
    const sse = new BurrowSocket(s.http, undefined, { transports: ['sse'], remember: false, upgrade: false });
    const e1 = events(ws);
    const e2 = events(polling);
    const e3 = events(sse);
    await Promise.all([ws, polling, sse].map((b) => new Promise((r) => b.addEventListener('open', r, { once: true }))));

    store.lose();

    assert.equal((await c.closed).code, 4006);
    const p = await poll;
    assert.deepEqual([p.status, p.json.error, p.json.close], [410, 'state_lost', 4006]);
    assert.equal(await e1.closed, 4006);
    assert.equal(await e2.closed, 4006);
    assert.deepEqual(e1.seen, ['error']);
    assert.deepEqual(e2.seen, ['error']);
    assert.equal(await e3.closed, 4006);
    assert.deepEqual(e3.seen, ['error']);

    assert.equal(closes.size, 5);
    for (const l of closes.values()) assert.deepEqual(l, [[4006, 'session state lost']]);
    assert.equal(s.burrow.sessions, 0);

    // Later requests for these sids: 410 (HTTP) / 4006 (WebSocket).
    const send = await postJson(`${s.http}/sessions/${sid}/send?token=${token}`, { frames: [] });
    assert.deepEqual([send.status, send.json.error, send.json.close], [410, 'state_lost', 4006]);
    const sseAnswer = await getJson(`${s.http}/sessions/${sid}/sse?token=${token}`);
    assert.equal(sseAnswer.status, 410);
    const resume = await connectWs(`${s.ws}/ws?sid=${wsOpen.sid}&token=${wsOpen.token}&ack=0`);
    assert.equal((await resume.closed).code, 4006);

    // The node itself is fine: new sessions work.
    assert.equal(s.burrow.health().ok, true);
    assert.equal((await postJson(`${s.http}/sessions`, { v: 1 })).status, 200);
    await s.close();
    unhandled.check();
  });
});
