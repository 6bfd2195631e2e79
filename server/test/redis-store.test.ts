/**
 * RedisStore behaviour that the conformance kit cannot see: outages, restarts with and without the
 * data, expiry claims, clock skew, and what one operation costs. Each suite runs a redis-server of its
 * own on a free port (killed at the end); nothing is timed — the tests wait for events.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../src/store/redis/index.js';
import type { SessionRecord, StoreStatus } from '../src/store/store.js';
import { createBurrow } from '../src/index.js';
import { startTestServer } from '@burrow/test-support';
import { connectWs } from './helpers.js';

const LONG = 60_000;
const TTL = 150;
const roomy = { maxBufferedMessages: 100, maxBufferedBytes: 1 << 20 };

function sid(): string {
  return randomBytes(16).toString('base64url');
}

function record(id: string): SessionRecord {
  return { id, tokenHash: 'cd'.repeat(32), protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own; `dir` makes `shutdown save` + restart keep the data. */
class TestRedis {
  proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir?: string,
  ) {}

  static async start(dir?: string): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), dir);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.dir) args.push('--dir', this.dir);
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          proc.stdout?.off('data', onData);
          proc.stdout?.resume();
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  }

  /** Stops the server: `save` writes the data set to `dir` first (SHUTDOWN SAVE). */
  async stop(save = false): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (save) execFileSync('redis-cli', ['-p', String(this.port), 'shutdown', 'save']);
    else proc.kill('SIGKILL');
    await exited;
    this.proc = undefined;
  }
}

function statusLog(store: RedisStore): { seen: StoreStatus[]; reach(s: StoreStatus): Promise<void> } {
  const seen: StoreStatus[] = [];
  const waiters: [StoreStatus, () => void][] = [];
  store.onStatus((s) => {
    seen.push(s);
    for (const w of waiters.filter(([want]) => want === s)) {
      waiters.splice(waiters.indexOf(w), 1);
      w[1]();
    }
  });
  return {
    seen,
    reach: (s) => (store.status() === s ? Promise.resolve() : new Promise((resolve) => waiters.push([s, resolve]))),
  };
}

/**
 * What a store's callbacks hand the test, in order. `until` resolves once `cond` holds over what
 * came: checked now and at each item (the callbacks run in this process: nothing to poll).
 */
class Heard<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<() => void>();
  readonly push = (item: T): void => {
    this.items.push(item);
    for (const check of [...this.#waiters]) check();
  };

  until(what: string, cond: (items: readonly T[]) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond(this.items)) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      // A bound on a failing wait, to name it; never a way to let time pass.
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, 5000);
      this.#waiters.add(check);
      check();
    });
  }
}

/**
 * Calls `poke` until `check` holds, a few ms apart: for a state only Redis knows (a key its own clock
 * expired, with keyspace events off), which no event announces.
 */
async function pollRedis(what: string, check: () => boolean, poke: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await poke();
    if (!check()) await new Promise((r) => setTimeout(r, 5));
  }
}

function storeOn(redis: TestRedis, extra: Partial<RedisStoreOptions> = {}): RedisStore {
  return new RedisStore({ redis: redis.url, prefix: 'bt', maxReconnectDelayMs: 50, sweepIntervalMs: 0, ...extra });
}

describe('RedisStore: outages and restarts', { timeout: 20_000 }, () => {
  let server: TestRedis;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'burrow-redis-'));
    server = await TestRedis.start(dir);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails fast while Redis is down, recovers when it is back; a restart that kept its data is not a loss', async () => {
    const store = storeOn(server);
    const log = statusLog(store);
    await store.ready();
    const id = sid();
    await store.create(record(id), LONG);
    assert.ok((await store.append(id, [{ t: 'd', data: 'before' }], roomy)).ok);
    await store.join(id, 'lobby');

    await server.stop(true);
    await log.reach('down');
    assert.equal(store.status(), 'down');
    // Every call rejects at once: no offline queue holds it until Redis returns.
    await assert.rejects(store.append(id, [{ t: 'd', data: 'lost?' }], roomy));
    await assert.rejects(store.get(id));
    await assert.rejects(store.touch(id, LONG, true));
    await assert.rejects(store.acceptInbound(id, 1));
    await assert.rejects(store.read(id, 0, 10, 1000));
    await assert.rejects(store.ack(id, 1));
    await assert.rejects(store.appendEach([id], { t: 'd', data: 'x' }, roomy));
    await assert.rejects(store.publish(id, { type: 'pong' }));
    await assert.rejects(store.create(record(sid()), LONG));
    await assert.rejects(store.members('lobby'));

    await server.start();
    await log.reach('up');
    assert.ok(!log.seen.includes('lost'), `statuses: ${log.seen.join(',')}`);
    assert.equal(log.seen[0], 'up');
    assert.ok(log.seen.includes('down'));
    // The session survived, and works.
    assert.equal((await store.get(id))?.outSeq, 1);
    assert.deepEqual((await store.read(id, 0, 10, 1000)).map((f) => f.frame), [{ t: 'd', seq: 1, data: 'before' }]);
    const more = await store.append(id, [{ t: 'd', data: 'after' }], roomy);
    assert.ok(more.ok && more.frames[0]?.frame.seq === 2);
    assert.deepEqual(await store.members('lobby'), [id]);
    await store.close();
  });

  it('a restart that lost the data set is reported as lost (then up) to every node', async () => {
    const a = storeOn(server);
    const b = storeOn(server);
    const la = statusLog(a);
    const lb = statusLog(b);
    await Promise.all([a.ready(), b.ready()]);
    const id = sid();
    await a.create(record(id), LONG);

    await server.stop(false); // SIGKILL: nothing saved
    rmSync(join(dir, 'dump.rdb'), { force: true });
    await Promise.all([la.reach('down'), lb.reach('down')]);
    await server.start();
    await Promise.all([la.reach('lost'), lb.reach('lost')]);
    await Promise.all([la.reach('up'), lb.reach('up')]);
    assert.equal(a.status(), 'up');
    assert.equal(await b.get(id), undefined);
    // Both nodes agree on the new epoch: a later reconnect that keeps the data is no loss.
    const before = [...la.seen];
    await server.stop(true);
    await la.reach('down');
    await server.start();
    await la.reach('up');
    assert.ok(!la.seen.slice(before.length).includes('lost'), `statuses: ${la.seen.join(',')}`);
    await Promise.all([a.close(), b.close()]);
  });

  it('wake-ups and expiry keep working after a restart (subscriptions and CONFIG are restored)', async () => {
    const a = storeOn(server);
    const b = storeOn(server);
    const la = statusLog(a);
    const lb = statusLog(b);
    await Promise.all([a.ready(), b.ready()]);
    const id = sid();
    await a.create(record(id), LONG);
    const events = new Heard<unknown>();
    const off = b.subscribe(id, events.push);
    await server.stop(false);
    rmSync(join(dir, 'dump.rdb'), { force: true });
    await Promise.all([la.reach('down'), lb.reach('down')]);
    await server.start(); // empty, and with notify-keyspace-events back to ''
    await Promise.all([la.reach('up'), lb.reach('up')]);
    // The subscriber is told to re-read after the gap, then hears new events.
    await events.until('the catch-up wake', (e) => e.length > 0);
    await a.create(record(id), LONG);
    await a.publish(id, { type: 'pong' });
    await events.until('a wake after the restart', (e) => e.some((ev) => (ev as { type: string }).type === 'pong'));
    off();
    const heard = new Heard<string>();
    b.onExpired((r) => heard.push(r.id));
    const exp = sid();
    await a.create(record(exp), TTL);
    await heard.until('the expiry (keyspace events re-enabled)', (h) => h.includes(exp));
    await Promise.all([a.close(), b.close()]);
  });
});

describe('RedisStore: expiry', { timeout: 20_000 }, () => {
  let server: TestRedis;
  let admin: Redis;
  beforeAll(async () => {
    server = await TestRedis.start();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  it('two nodes: every expiry is claimed exactly once, with memberships cleaned up', async () => {
    const a = storeOn(server);
    const b = storeOn(server);
    await Promise.all([a.ready(), b.ready()]);
    const heard = new Heard<[string, string]>();
    a.onExpired((r) => heard.push(['a', r.id]));
    b.onExpired((r) => heard.push(['b', r.id]));
    const ids = Array.from({ length: 30 }, sid);
    for (const id of ids) {
      await (ids.indexOf(id) % 2 ? a : b).create(record(id), LONG);
      await a.join(id, 'all');
    }
    await Promise.all(ids.map((id) => b.touch(id, TTL, false)));
    await heard.until('every expiry', (h) => ids.every((id) => h.some(([, x]) => x === id)));
    const barrier = sid();
    await a.create(record(barrier), TTL);
    await heard.until('the barrier', (h) => h.some(([, x]) => x === barrier));
    for (const id of ids) assert.equal(heard.items.filter(([, h]) => h === id).length, 1, id);
    assert.deepEqual(await a.members('all'), []);
    assert.deepEqual(await a.members(undefined), []);
    assert.deepEqual(await admin.keys('bt:{*'), []);
    await Promise.all([a.close(), b.close()]);
  });

  it('the sweep claims expiries whose events nobody heard', async () => {
    await admin.config('SET', 'notify-keyspace-events', '');
    const a = storeOn(server, { configureKeyspaceEvents: false });
    const b = storeOn(server, { configureKeyspaceEvents: false });
    await Promise.all([a.ready(), b.ready()]);
    const heard: string[] = [];
    a.onExpired((r) => heard.push(r.id));
    b.onExpired((r) => heard.push(r.id));
    const id = sid();
    await a.create(record(id), TTL);
    await pollRedis('the swept expiry', () => heard.includes(id), () => Promise.all([a.sweep(true), b.sweep(true)]));
    await Promise.all([a.sweep(true), b.sweep(true)]);
    assert.deepEqual(heard, [id]);
    await Promise.all([a.close(), b.close()]);
  });

  it.each<[string, number]>([
    ['ahead', 10 * 60_000],
    ['behind', -10 * 60_000],
  ])("a TTL set while the node clock is %s by 10 minutes runs on Redis's clock", async (_side, skew) => {
    const store = storeOn(server);
    await store.ready();
    const heard = new Heard<string>();
    store.onExpired((r) => heard.push(r.id));
    const realNow = Date.now;
    const short = sid();
    const long = sid();
    Date.now = () => realNow() + skew;
    try {
      await store.create(record(short), TTL);
      await store.create(record(long), LONG);
      await store.touch(long, LONG, true);
      const pttl = await admin.pttl(`bt:{${short}}:ttl`);
      assert.ok(pttl > 0 && pttl <= TTL, `pttl ${pttl}`);
      assert.ok(await store.get(short));
    } finally {
      Date.now = realNow;
    }
    await heard.until('the short expiry', (h) => h.includes(short));
    assert.ok(!heard.items.includes(long));
    assert.ok(await store.get(long));
    await store.delete(long);
    await store.close();
  });
});

describe('RedisStore: cost and layout', { timeout: 20_000 }, () => {
  let server: TestRedis;
  beforeAll(async () => {
    server = await TestRedis.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('each operation sends one command (one script) and appendEach one pipeline', async () => {
    const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const sent: string[] = [];
    const orig = client.sendCommand.bind(client);
    client.sendCommand = ((cmd: { name: string }, ...rest: unknown[]) => {
      sent.push(cmd.name);
      return (orig as (...a: unknown[]) => unknown)(cmd, ...rest);
    }) as typeof client.sendCommand;
    const pipelines: number[] = [];
    const origPipeline = client.pipeline.bind(client);
    client.pipeline = ((...args: Parameters<typeof client.pipeline>) => {
      pipelines.push(1);
      return origPipeline(...args);
    }) as typeof client.pipeline;
    const store = new RedisStore({ redis: client, prefix: 'cost', sweepIntervalMs: 0 });
    await store.ready();
    const ids = [sid(), sid(), sid()];
    for (const id of ids) await store.create(record(id), LONG);
    const cost = async (op: () => Promise<unknown>): Promise<[number, number]> => {
      sent.length = 0;
      pipelines.length = 0;
      await op();
      return [sent.length, pipelines.length];
    };
    const id = ids[0]!;
    const evals = (n: number): void => assert.ok(sent.slice(0, n).every((c) => c === 'eval' || c === 'evalsha'), sent.join());
    assert.deepEqual(await cost(() => store.append(id, [{ t: 'd', data: 'x' }, { t: 'd', data: 'y' }], roomy)), [1, 0]);
    evals(1);
    assert.deepEqual(await cost(() => store.read(id, 0, 10, 100)), [1, 0]);
    assert.deepEqual(await cost(() => store.ack(id, 1)), [1, 0]);
    assert.deepEqual(await cost(() => store.acceptInbound(id, 1)), [1, 0]);
    // A journaled data frame, and the confirm of the one before riding along: still one script.
    assert.deepEqual(await cost(() => store.acceptInbound(id, 2, { data: 'x' })), [1, 0]);
    store.confirmInbound(id, 2);
    assert.deepEqual(await cost(() => store.acceptInbound(id, 3, { data: 'y' })), [1, 0]);
    assert.deepEqual(await cost(() => store.touch(id, LONG, true)), [1, 0]);
    assert.deepEqual(await cost(() => store.get(id)), [1, 0]);
    assert.deepEqual(await cost(() => store.setData(id, { a: 1 })), [1, 0]);
    assert.deepEqual(await cost(() => store.publish(id, { type: 'pong' })), [1, 0]);
    assert.deepEqual(await cost(() => store.appendClose(ids[2]!, 'server', 1000, '')), [1, 0]);
    // Group commit: the appends of one turn, one script per session and one round trip in all.
    const x = { t: 'd' as const, data: 'x' };
    assert.deepEqual(await cost(() => Promise.all([store.append(id, [x], roomy), store.append(id, [x, x], roomy), store.append(id, [x], roomy)])), [1, 0]);
    assert.deepEqual(await cost(() => Promise.all([store.append(ids[0]!, [x], roomy), store.append(ids[1]!, [x], roomy), store.append(ids[0]!, [x], roomy)])), [2, 1]);
    const run = [4, 5, 6].map((seq) => ({ seq, data: `f${seq}` }));
    assert.deepEqual(await cost(() => store.acceptInboundBatch(id, run)), [1, 0]);
    assert.deepEqual(await cost(() => store.appendEach(ids, { t: 'd', data: 'all' }, roomy)), [3, 1]);
    evals(3);
    assert.deepEqual(await cost(() => store.create(record(sid()), LONG)), [2, 1]);
    await store.close();
    assert.equal(client.status, 'ready'); // not ours: left open
    client.disconnect();
  });

  it('every key of a session carries the {sid} hash tag; rooms and the session set live in their own', async () => {
    const admin = new Redis(server.url);
    const store = storeOn(server, { prefix: 'lay' });
    await store.ready();
    const id = sid();
    await store.create(record(id), LONG);
    await store.append(id, [{ t: 'd', data: 'x' }], roomy);
    await store.join(id, 'r1');
    // An accepted, not yet confirmed client frame sits in the session's inbound journal.
    await store.acceptInbound(id, 1, { data: 'in' });
    const keys = (await admin.keys('lay:*')).sort();
    assert.deepEqual(
      keys,
      [`lay:epoch`, `lay:node:{${store.nodeId}}`, `lay:room:{r1}`, `lay:sessions`, `lay:{${id}}:journal`, `lay:{${id}}:log`, `lay:{${id}}:rec`, `lay:{${id}}:rooms`, `lay:{${id}}:ttl`].sort(),
    );
    assert.deepEqual(await admin.hgetallBuffer(`lay:{${id}}:journal`), { 1: Buffer.from(`${store.nodeId} tin`) });
    assert.ok((await admin.pttl(`lay:{${id}}:journal`)) > LONG, 'the journal expires with the session');
    assert.ok((await admin.pttl(`lay:node:{${store.nodeId}}`)) <= 5000, 'the node key is short-lived');
    // The log entry: a 1-byte tag and the UTF-8 bytes, so STRLEN - 1 is the payload size.
    assert.deepEqual(await admin.lrangeBuffer(`lay:{${id}}:log`, 0, -1), [Buffer.from('tx')]);
    // Every session key expires (TTL + grace), the shadow key at the TTL.
    for (const k of ['rec', 'log', 'rooms']) assert.ok((await admin.pttl(`lay:{${id}}:${k}`)) > LONG, k);
    assert.ok((await admin.pttl(`lay:{${id}}:ttl`)) <= LONG);
    await store.close();
    admin.disconnect();
  });

  it('bad input: odd session ids and room names are just strings, corrupt entries never throw', async () => {
    const admin = new Redis(server.url);
    const store = storeOn(server, { prefix: 'bad' });
    await store.ready();
    for (const id of ['__proto__', 'a}b{c', '{x}', 'x'.repeat(300), 'ünï']) {
      await store.create(record(id), LONG);
      assert.equal(await store.join(id, '}{'), true);
      assert.ok((await store.append(id, [{ t: 'd', data: id }], roomy)).ok);
      assert.equal((await store.read(id, 0, 10, 100))[0]?.frame.t, 'd');
      await store.delete(id);
      assert.equal(await store.get(id), undefined);
    }
    const id = sid();
    await store.create(record(id), LONG);
    await admin.rpush(`bad:{${id}}:log`, Buffer.from('c{not json'));
    await admin.hset(`bad:{${id}}:rec`, 'outSeq', '1', 'data', '{broken');
    assert.deepEqual((await store.read(id, 0, 10, 100)).map((f) => f.frame), [{ t: 'close', seq: 1 }]);
    assert.equal((await store.get(id))?.data, undefined);
    await store.close();
    admin.disconnect();
  });
});

describe('RedisStore: numbers the Lua scripts hand back to Redis', { timeout: 20_000 }, () => {
  let server: TestRedis;
  let admin: Redis;
  beforeAll(async () => {
    server = await TestRedis.start();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  it('ack of 0-byte frames (a close, an empty text) does not send HINCRBY -0, which Redis rejects', async () => {
    const store = storeOn(server, { prefix: 'zero' });
    try {
      await store.ready();
      const id = sid();
      await store.create(record(id), LONG);
      assert.ok((await store.append(id, [{ t: 'd', data: 'x' }, { t: 'd', data: '' }], roomy)).ok);
      assert.equal((await store.appendClose(id, 'server', 4000, 'bye')).ok, true);
      assert.equal(await store.ack(id, 1), true);
      assert.equal(await store.ack(id, 2), true, 'only an empty text');
      assert.equal(await store.ack(id, 3), true, 'only the close frame');
      assert.deepEqual(await admin.hmget(`zero:{${id}}:rec`, 'outAck', 'outBytes'), ['3', '0']);
      assert.deepEqual(await store.read(id, 0, 10, 100), []);
    } finally {
      await store.close();
    }
  });

  it('expiryGraceMs under 1000 ms or not past sweepIntervalMs is refused (an expiry the sweep finds after the grace is never reported)', () => {
    assert.throws(() => storeOn(server, { prefix: 'g0', expiryGraceMs: 0 }), /expiryGraceMs must be at least 1000 ms and longer than sweepIntervalMs/);
    assert.throws(() => storeOn(server, { prefix: 'g1', expiryGraceMs: 20_000, sweepIntervalMs: 30_000 }), /expiryGraceMs/);
    assert.throws(() => storeOn(server, { prefix: 'g2', expiryGraceMs: Number.NaN }), /expiryGraceMs/);
  });

  it('TTLs from 10^17 ms up and a fractional grace reach Redis as plain integers, not 1e+17', async () => {
    const store = storeOn(server, { prefix: 'huge', expiryGraceMs: 60_000.5 });
    try {
      await store.ready();
      for (const ttl of [1e17, 1e21]) {
        const id = sid();
        await store.create(record(id), ttl);
        assert.ok(await store.touch(id, ttl, true));
        assert.ok((await store.append(id, [{ t: 'd', data: 'x' }], roomy)).ok);
        assert.equal(await store.join(id, 'r'), true);
        await store.acceptInbound(id, 1, { data: 'in' });
        for (const k of ['rec', 'log', 'rooms', 'ttl', 'journal']) assert.ok((await admin.pttl(`huge:{${id}}:${k}`)) > 1e15, k);
        await store.delete(id);
      }
    } finally {
      await store.close();
    }
  });

  it('a WebSocket session closed by the server and acked by the client: no store_unavailable, socket closes 1000', async () => {
    const store = storeOn(server, { prefix: 'wsclose' });
    const burrow = createBurrow({ store });
    const errors: Error[] = [];
    burrow.on('error', (e: Error) => errors.push(e));
    burrow.on('message', (s) => void s.close(4000, 'asked to'));
    const srv = await startTestServer(burrow);
    try {
      await store.ready();
      const c = await connectWs(`${srv.ws}/ws`);
      await c.nextJson();
      c.ws.send('1:close-me');
      assert.deepEqual(JSON.parse(((await c.nextFrame()) as { text: string }).text), { t: 'close', seq: 1, code: 4000, reason: 'asked to' });
      // What BurrowSocket does: ack the close frame (the log now holds only 0 bytes), then echo it.
      c.ws.send('{"t":"ack","ack":1}');
      c.ws.send('{"t":"close","seq":2,"code":4000,"reason":"asked to"}');
      assert.equal((await c.closed).code, 1000);
      assert.deepEqual(errors, []);
    } finally {
      await srv.close();
      await store.close();
    }
  });
});
