/**
 * Property and fuzz suite (issues 5 and 10): over 100,000 random and mutated inputs per run into the
 * codec and into every HTTP and WebSocket endpoint of a live server — at the frame level too (raw
 * bytes after the upgrade, on every upgrade outcome: accepted, resumed, refused, accept-then-close),
 * and with made-up but well-formed session ids. The server runs in a child process under a watchdog:
 * an uncaught exception or an exit fails the suite with the child's stderr. Properties: nothing throws
 * out of a decoder, every answer is a documented status with a documented JSON error (or a documented
 * close code), no `error` event, and an unrelated session keeps working.
 *
 * Every property runs twice: with a fixed seed (the same inputs every run) and with a random seed,
 * printed for replay (`FUZZ_SEED=<seed> npm run test:e2e -- fuzz`). `FUZZ_RUNS` scales the counts.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import {
  CloseCode,
  decodeHandshakeRequest,
  decodeJsonFrame,
  decodePollResponse,
  decodeSendRequest,
  decodeWsMessage,
  encodeJsonFrame,
  encodeWsFrame,
  ERROR_CODES,
  type Frame,
  frameFromJson,
  type Result,
} from '@burrow/shared';
import fc from 'fast-check';
import WebSocket from 'ws';
import type { TestServer } from '@burrow/test-support';
import { Canary, httpSession, rawConnect, readRawResponse, wsFrame, type OpenJson, type WsFrameSpec } from './fixtures/raw-protocol.js';

const FIXED_SEED = 0x6275_7272;
const RANDOM_SEED = Number(process.env.FUZZ_SEED ?? randomBytes(4).readUInt32BE(0) % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
const SEEDS = [
  ['fixed seed', FIXED_SEED],
  [`random seed ${RANDOM_SEED}`, RANDOM_SEED],
] as const;

/** Inputs fed in this run, by kind, printed at the end. */
const tally = new Map<string, number>();
const count = (kind: string, n = 1) => tally.set(kind, (tally.get(kind) ?? 0) + n);
afterAll(() => {
  const total = [...tally.values()].reduce((a, b) => a + b, 0);
  console.log(
    `fuzz: ${total} inputs (${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}); seeds: fixed ${FIXED_SEED}, random ${RANDOM_SEED} ` +
      `(replay with FUZZ_SEED=${RANDOM_SEED})`,
  );
});

/**
 * Registers `body` once per seed, each with half of `n` runs (scaled by FUZZ_RUNS). The name says
 * the seed, so a failure names the seed that replays it.
 */
function property(name: string, n: number, body: (params: { numRuns: number; seed: number }) => Promise<void> | void): void {
  for (const [label, seed] of SEEDS) {
    it(`${name} (${label})`, () => body({ numRuns: Math.max(1, Math.round((n / 2) * RUNS)), seed }));
  }
}

const errorCodes = new Set<string>(ERROR_CODES);
const closeCodes = new Set<number>(Object.values(CloseCode));
/** Every HTTP status docs/PROTOCOL.md documents for the Burrow endpoints. */
const statuses = new Set([200, 204, 400, 401, 403, 404, 405, 408, 409, 410, 413, 426, 431, 503]);

function documentedError(r: Result<unknown>): void {
  if (r.ok) return;
  assert.ok(errorCodes.has(r.error.code), `undocumented error code ${r.error.code}`);
  assert.ok(closeCodes.has(r.error.close), `undocumented close code ${r.error.close}`);
  assert.ok(statuses.has(r.error.status), `undocumented status ${r.error.status}`);
}

// ---- generators ------------------------------------------------------------------------------------

const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ unit: 'binary', maxLength: 200 });
const bytes = fc.uint8Array({ maxLength: 200 });
const appCode = fc.oneof(fc.constant(1000), fc.integer({ min: 3000, max: 4999 }));
const validFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ t: fc.constant('d' as const), seq, data: fc.oneof(text, bytes) }),
  fc.record({ t: fc.constant('close' as const), seq, code: appCode, reason: fc.string({ maxLength: 40 }) }),
  fc.record({ t: fc.constant('close' as const), seq }),
  fc.record({ t: fc.constant('ack' as const), ack: fc.nat() }),
  fc.constant({ t: 'ping' as const }),
  fc.constant({ t: 'pong' as const }),
);

/** Edits a string: delete, insert or replace one character, or truncate. */
const mutate = (s: string) =>
  fc
    .tuple(fc.nat(), fc.constantFrom('delete', 'insert', 'replace', 'truncate'), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }))
    .map(([pos, op, ch]) => {
      const i = s.length ? pos % s.length : 0;
      if (op === 'delete') return s.slice(0, i) + s.slice(i + 1);
      if (op === 'insert') return s.slice(0, i) + ch + s.slice(i);
      if (op === 'replace') return s.slice(0, i) + ch + s.slice(i + 1);
      return s.slice(0, i);
    });

/** Replaces one field of a JSON object with an arbitrary JSON value. */
const corruptField = (o: Record<string, unknown>) =>
  fc.tuple(fc.constantFrom(...Object.keys(o), '__proto__', 'constructor', 'extra'), fc.jsonValue()).map(([k, v]) => {
    const copy: Record<string, unknown> = JSON.parse(JSON.stringify(o));
    copy[k] = v;
    return JSON.stringify(copy);
  });

// ---- the codec -------------------------------------------------------------------------------------

describe('fuzz: codec', () => {
  property('decodeJsonFrame never throws on arbitrary text; errors are documented', 16000, (params) => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (s) => documentedError(decodeJsonFrame(s, { from: 'client', maxPayload: 64 }))),
      params,
    );
    count('codec', params.numRuns);
  });

  property('frameFromJson never throws on arbitrary values', 14000, (params) => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (v) =>
        documentedError(frameFromJson(v, { from: 'server' })),
      ),
      params,
    );
    count('codec', params.numRuns);
  });

  property('decodeWsMessage never throws on arbitrary text or bytes', 16000, (params) => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 64 })), (m) =>
        documentedError(decodeWsMessage(m, { from: 'client', maxPayload: 32 })),
      ),
      params,
    );
    count('codec', params.numRuns);
  });

  property('HTTP body decoders never throw on arbitrary text', 12000, (params) => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (s) => {
        documentedError(decodeSendRequest(s, { from: 'client', maxFrames: 8 }));
        documentedError(decodeHandshakeRequest(s));
        documentedError(decodePollResponse(s, { from: 'server' }));
      }),
      params,
    );
    count('codec', params.numRuns);
  });

  property('every valid frame survives both encodings', 10000, (params) => {
    fc.assert(
      fc.property(validFrame, (f) => {
        // Spread: fast-check may build null-prototype records, which strict deepEqual tells apart.
        const canonical = f.t === 'close' && !f.reason ? { t: f.t, seq: f.seq, ...(f.code !== undefined ? { code: f.code } : {}) } : { ...f };
        const viaJson = decodeJsonFrame(encodeJsonFrame(f), { from: 'client' });
        const viaWs = decodeWsMessage(encodeWsFrame(f), { from: 'client' });
        assert.ok(viaJson.ok && viaWs.ok);
        assert.deepEqual(viaJson.value, canonical);
        assert.deepEqual(viaWs.value, canonical);
      }),
      params,
    );
    count('codec', params.numRuns);
  });

  property('mutated encodings of valid frames never throw', 16000, (params) => {
    fc.assert(
      fc.property(
        validFrame.chain((f): fc.Arbitrary<string | Uint8Array> => {
          const enc = encodeWsFrame(f);
          return typeof enc === 'string' ? mutate(enc) : fc.constant(enc);
        }),
        (m) => {
          documentedError(decodeWsMessage(m, { from: 'client' }));
          if (typeof m === 'string') documentedError(decodeJsonFrame(m, { from: 'client' }));
        },
      ),
      params,
    );
    count('codec', params.numRuns);
  });
});

// ---- a live server in a child process, under a watchdog ----------------------------------------------

interface TargetStats {
  sessions: number;
  errors: string[];
  rss: number;
}

/** The fuzz target: a child process running a Burrow server; its exit fails every later check. */
class Target {
  private stderr = '';
  private exited: string | undefined;
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-20_000)));
    child.on('exit', (code, signal) => (this.exited = `the server process exited (code ${code}, signal ${signal})`));
  }

  static async start(): Promise<Target> {
    const child = fork(fileURLToPath(new URL('./fixtures/fuzz-target.ts', import.meta.url)), [], {
      execArgv: ['--conditions=burrow-src', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const [msg] = (await once(child, 'message')) as [{ port: number }];
    return new Target(child, msg.port);
  }

  /** What the fixtures need of a TestServer: its URL and port (the app runs in the child). */
  get srv(): TestServer {
    return { ws: `ws://127.0.0.1:${this.port}/burrow`, port: this.port } as TestServer;
  }

  /** Throws, with the child's stderr, once the server process has died. */
  alive(): void {
    if (this.exited) assert.fail(`${this.exited}\n${this.stderr}`);
  }

  async stats(): Promise<TargetStats> {
    this.alive();
    const reply = once(this.child, 'message') as Promise<[{ stats: TargetStats }]>;
    this.child.send({ cmd: 'stats' });
    const [msg] = await Promise.race([reply, once(this.child, 'exit').then(() => this.alive() as never)]);
    return msg.stats;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = once(this.child, 'exit');
    this.child.send({ cmd: 'stop' });
    await gone;
  }
}

/** Runs `task` over `items` with `width` in flight at once. */
async function pool<T>(items: readonly T[], width: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await task(items[i]!, i);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** Well-formed session ids (`[A-Za-z0-9_-]{22}`) that no session has: they reach the store lookup. */
const madeUpSid = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);

describe('fuzz: HTTP and WebSocket endpoints of a live server (child process, watchdog)', () => {
  let target: Target;
  let canary: Canary;
  let live: OpenJson;

  beforeAll(async () => {
    target = await Target.start();
    canary = await Canary.start(target.srv);
    live = await httpSession(target.srv);
  });
  afterAll(async () => {
    canary?.stop();
    await target?.stop();
  });
  // After every property: the process is up and the unrelated session still echoes (which also keeps
  // it inside the heartbeat window however long the run takes).
  afterEach(async () => {
    target.alive();
    await canary.check();
  });

  const base = () => `http://127.0.0.1:${target.port}`;

  /** Sends one request; a 200 stream (SSE) is cut after its headers. Returns status and parsed body. */
  async function hit(method: string, path: string, headers: Record<string, string>, body?: string) {
    const ctrl = new AbortController();
    const res = await fetch(base() + path, {
      method,
      headers,
      ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
      signal: ctrl.signal,
    });
    if (res.status === 200 && res.headers.get('content-type')?.startsWith('text/event-stream')) {
      ctrl.abort();
      return { status: res.status, json: undefined, text: '' };
    }
    const t = await res.text();
    let json: any;
    try {
      json = JSON.parse(t);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text: t };
  }

  function assertDocumented(r: { status: number; json: any; text: string }, where: string, method = 'GET'): void {
    assert.ok(statuses.has(r.status), `${where}: undocumented status ${r.status} ${r.text.slice(0, 120)}`);
    if (r.status >= 400 && r.status !== 405 && r.json !== undefined) {
      assert.ok(errorCodes.has(r.json.error), `${where}: undocumented error ${JSON.stringify(r.json)}`);
      assert.equal(typeof r.json.close, 'number', `${where}: error without a close code`);
    }
    // A HEAD answer has no body by definition; every other error carries the JSON one.
    if (r.status >= 400 && method !== 'HEAD') assert.ok(r.json !== undefined, `${where}: error body is not JSON: ${r.text.slice(0, 80)}`);
  }

  const sidArb = () =>
    fc.oneof(
      fc.constant(live.sid),
      madeUpSid,
      fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', '..', '%2e%2e', 'a'.repeat(2000), ''),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map(encodeURIComponent),
    );
  const queryArb = () =>
    fc
      .record({
        token: fc.oneof(fc.constant(live.token), fc.string({ maxLength: 20 })),
        ack: fc.oneof(fc.nat().map(String), fc.string({ maxLength: 8 }), fc.constantFrom('-1', '1e400', 'NaN', '9007199254740993')),
        extra: fc.string({ maxLength: 10 }),
      })
      .map((q) => `?token=${encodeURIComponent(q.token)}&ack=${encodeURIComponent(q.ack)}&x=${encodeURIComponent(q.extra)}`);

  property('random requests to every route get a documented status and JSON error', 1600, async (params) => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
        fc.oneof(
          sidArb().map((sid) => `/burrow/sessions/${sid}/sse`),
          sidArb().map((sid) => `/burrow/sessions/${sid}/poll`),
          sidArb().map((sid) => `/burrow/sessions/${sid}/send`),
          sidArb().map((sid) => `/burrow/sessions/${sid}/${'x'}`),
          fc.constantFrom('/burrow/sessions', '/burrow/ws', '/burrow/health', '/burrow/client.js', '/burrow', '/burrow/'),
          fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => `/burrow/${encodeURIComponent(s)}`),
        ),
        queryArb(),
        fc.constantFrom('text/plain', 'application/json', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''),
        fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.json({ maxDepth: 3 })),
        async (method, path, query, contentType, body) => {
          target.alive();
          const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
          const r = await hit(method, path + query, headers, body);
          assertDocumented(r, `${method} ${path}`, method);
        },
      ),
      params,
    );
    count('http requests', params.numRuns);
  });

  property('made-up but well-formed ids, bodies declared and never sent: answered at once, never read', 3000, async (params) => {
    const inputs = fc.sample(
      fc.record({
        sid: madeUpSid,
        what: fc.constantFrom('send', 'sse', 'poll'),
        token: fc.oneof(fc.constant(null), fc.constant(live.token), fc.string({ unit: 'grapheme-ascii', maxLength: 30 })),
        declared: fc.integer({ min: 1, max: 64 * 1024 * 1024 }),
        sent: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      }),
      params,
    );
    await pool(inputs, 16, async (x) => {
      target.alive();
      const sock: Socket = await rawConnect(target.srv);
      sock.on('error', () => {});
      const answer = readRawResponse(sock);
      const q = x.token === null ? '' : `?token=${encodeURIComponent(x.token)}`;
      const method = x.what === 'send' ? 'POST' : 'GET';
      sock.write(
        `${method} /burrow/sessions/${x.sid}/${x.what}${q} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${x.declared}\r\n\r\n${x.sent}`,
      );
      const r = await answer;
      sock.destroy();
      assert.ok(r, `no answer to ${method} ${x.what} for a made-up id`);
      // A token in the query is proven before the body is read: 404 (400 for a GET with a body),
      // never 408, which would mean the server waited to read what was never sent. Without one, the
      // token can only be in the body: over maxUnprovenBodyBytes (here maxBatchBytes, 4096) that is
      // 413 at once; a smaller body is read, within that bound, and may time out (408).
      const allowed = x.token !== null ? [400, 404] : x.declared > 4096 ? [400, 413] : [400, 404, 408];
      assert.ok(allowed.includes(r.status), `${method} ${x.what} (token ${x.token === null ? 'absent' : 'in query'}): ${r.status} ${r.body.slice(0, 120)}`);
    });
    count('http made-up ids', inputs.length);
  });

  property('mutated upstream batches on a live session: 200 with an ack, or a documented 4xx; never a 500', 1000, async (params) => {
    let next = 1;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(0).chain(() => mutate(JSON.stringify({ ack: 0, frames: [{ t: 'd', seq: next, text: 'x' }] }))),
          fc.constant(0).chain(() => corruptField({ ack: 0, frames: [{ t: 'd', seq: next, text: 'x' }] })),
          fc.array(fc.oneof(validFrame, fc.jsonValue()), { maxLength: 20 }).map((frames) =>
            JSON.stringify({ frames: frames.map((f) => (typeof f === 'object' && f !== null && 't' in (f as object) ? JSON.parse(encodeJsonFrame(f as Frame)) : f)) }),
          ),
        ),
        async (body) => {
          target.alive();
          const r = await hit('POST', `/burrow/sessions/${live.sid}/send?token=${live.token}`, { 'content-type': 'text/plain' }, body);
          assertDocumented(r, 'send');
          assert.ok([200, 400, 413].includes(r.status), `send answered ${r.status}: ${r.text.slice(0, 120)}`);
          if (r.status === 200) {
            assert.equal(typeof r.json?.ack, 'number');
            next = r.json.ack + 1;
          }
        },
      ),
      params,
    );
    count('http batches', params.numRuns);
  });

  property('random WebSocket messages end at most the sender session, with a documented close code', 300, async (params) => {
    const url = `ws://127.0.0.1:${target.port}/burrow/ws`;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 300 }),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
            validFrame.map((f) => encodeWsFrame(f)).chain((m): fc.Arbitrary<string | Buffer> => (typeof m === 'string' ? mutate(m) : fc.constant(Buffer.from(m)))),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        async (messages) => {
          target.alive();
          const ws = new WebSocket(url);
          await new Promise<void>((resolve, reject) => {
            ws.once('message', () => resolve()); // the open frame
            ws.once('error', reject);
          });
          const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
          for (const m of messages) ws.send(m);
          sent += messages.length;
          // A ping round trip after the messages: answered (still open) or the socket closed first.
          ws.send('{"t":"ping"}');
          const outcome = await Promise.race([
            closed.then((code) => ({ code })),
            new Promise<{ code?: number }>((resolve) =>
              ws.on('message', (d, isBinary) => {
                if (!isBinary && d.toString() === '{"t":"pong"}') resolve({});
              }),
            ),
          ]);
          if (outcome.code !== undefined) {
            assert.ok(closeCodes.has(outcome.code) && outcome.code !== 1005 && outcome.code !== 1006, `undocumented close ${outcome.code}`);
          } else {
            ws.close();
            await closed;
          }
        },
      ),
      params,
    );
    count('ws messages', sent);
  });

  // ---- frame level: raw bytes after the upgrade, on every upgrade outcome ----

  type Outcome = 'new' | 'resumed' | 'refused (origin)' | 'refused (bad key)' | 'accept-then-close 4001' | 'accept-then-close 1002';
  const outcomes: readonly Outcome[] = ['new', 'resumed', 'refused (origin)', 'refused (bad key)', 'accept-then-close 4001', 'accept-then-close 1002'];

  /** A valid Burrow message as the payload of a text or binary frame. */
  const burrowPayload = validFrame.map((f) => {
    const m = encodeWsFrame(f);
    return typeof m === 'string' ? Buffer.from(m) : Buffer.from(m);
  });
  const frameSpec: fc.Arbitrary<WsFrameSpec> = fc.record(
    {
      fin: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.boolean() }),
      rsv: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
      opcode: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(1, 2) }, { weight: 2, arbitrary: fc.constantFrom(0, 8, 9, 10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
      payload: fc.oneof(
        { weight: 4, arbitrary: burrowPayload },
        { weight: 2, arbitrary: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 130 }).map((t) => Buffer.from(t)) },
      ),
      masked: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      declaredLength: fc.oneof(
        { weight: 1, arbitrary: fc.constantFrom(126n, 65535n, 65536n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n) },
        { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
      ),
    },
    { requiredKeys: ['opcode'] },
  );
  /** One connection's input: how the upgrade ends, then frames (or raw garbage) cut into chunks. */
  const connectionInput = fc.record({
    outcome: fc.constantFrom(...outcomes),
    frames: fc.array(
      fc.oneof({ weight: 5, arbitrary: frameSpec.map((f) => wsFrame(f)) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)) }),
      { minLength: 1, maxLength: 12 },
    ),
    cuts: fc.array(fc.nat(), { maxLength: 3 }),
  });

  /** The upgrade request of an outcome. */
  function upgradeRequest(outcome: Outcome, resume: OpenJson): string {
    const key = outcome === 'refused (bad key)' ? 'tooshort' : randomBytes(16).toString('base64');
    const origin = outcome === 'refused (origin)' ? 'Origin: http://evil.test\r\n' : '';
    const query =
      outcome === 'resumed'
        ? `?sid=${resume.sid}&token=${resume.token}&ack=0`
        : outcome === 'accept-then-close 4001'
          ? `?sid=${'A'.repeat(22)}&token=x`
          : outcome === 'accept-then-close 1002'
            ? `?sid=${'A'.repeat(22)}&token=x&ack=-1`
            : '';
    return (
      `GET /burrow/ws${query} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${origin}\r\n`
    );
  }

  property('raw frames after every kind of upgrade: the node stays up, the socket ends', 5000, async (params) => {
    const inputs = fc.sample(connectionInput, params);
    // Resumes share a few HTTP sessions (each resume replaces the previous transport).
    const resumable = await Promise.all(Array.from({ length: 8 }, () => httpSession(target.srv)));
    let frames = 0;
    await pool(inputs, 8, async (x, i) => {
      target.alive();
      const sock = await rawConnect(target.srv);
      sock.on('error', () => {});
      // Not events.once: it rejects on 'error', and a write racing the server's close is an EPIPE.
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      // The upgrade and the frames go in one stream, cut at arbitrary points, as a network would.
      const stream = Buffer.concat([Buffer.from(upgradeRequest(x.outcome, resumable[i % resumable.length]!), 'latin1'), ...x.frames]);
      const cuts = [...new Set(x.cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
      let at = 0;
      for (const c of [...cuts, stream.length]) {
        if (c > at) sock.write(stream.subarray(at, c));
        at = c;
      }
      // FIN after the input: whatever state the server's parser is in, it must let the socket go.
      sock.end();
      sock.resume();
      await closed;
      frames += x.frames.length;
    });
    count('ws raw frames', frames);
    target.alive();
  });

  it('after all of it: the process is up, no error event, and the other session still works', async () => {
    target.alive();
    await canary.check();
    const stats = await target.stats();
    assert.deepEqual(stats.errors, []);
    const h = await hit('GET', `/burrow/health`, {});
    assert.equal(h.status, 200);
  });
});
