/**
 * Property and fuzz suite (issue 5): thousands of random and mutated inputs into the codec and into
 * every HTTP and WebSocket endpoint of a live server. Properties: nothing throws out of a decoder,
 * every answer is a documented status with a documented JSON error (or a documented close code), the
 * process never sees an uncaught exception or an `error` event, and an unrelated session keeps working.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
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
import { startTestServer, type TestServer } from '@burrow/test-support';
import { Canary, httpSession, type OpenJson } from './fixtures/raw-protocol.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * RUNS)), seed: SEED });

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
  it('decodeJsonFrame never throws on arbitrary text; errors are documented', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (s) => documentedError(decodeJsonFrame(s, { from: 'client', maxPayload: 64 }))),
      runs(3000),
    );
  });

  it('frameFromJson never throws on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (v) =>
        documentedError(frameFromJson(v, { from: 'server' })),
      ),
      runs(3000),
    );
  });

  it('decodeWsMessage never throws on arbitrary text or bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 64 })), (m) =>
        documentedError(decodeWsMessage(m, { from: 'client', maxPayload: 32 })),
      ),
      runs(3000),
    );
  });

  it('HTTP body decoders never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json()), (s) => {
        documentedError(decodeSendRequest(s, { from: 'client', maxFrames: 8 }));
        documentedError(decodeHandshakeRequest(s));
        documentedError(decodePollResponse(s, { from: 'server' }));
      }),
      runs(2000),
    );
  });

  it('every valid frame survives both encodings', () => {
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
      runs(2000),
    );
  });

  it('mutated encodings of valid frames never throw', () => {
    fc.assert(
      fc.property(
        validFrame.chain((f) => {
          const enc = encodeWsFrame(f);
          return typeof enc === 'string' ? mutate(enc) : fc.constant(enc);
        }),
        (m) => {
          documentedError(decodeWsMessage(m, { from: 'client' }));
          if (typeof m === 'string') documentedError(decodeJsonFrame(m, { from: 'client' }));
        },
      ),
      runs(3000),
    );
  });
});

// ---- a live server ---------------------------------------------------------------------------------

describe('fuzz: HTTP and WebSocket endpoints of a live server', () => {
  let srv: TestServer;
  let canary: Canary;
  let live: OpenJson;
  const errors: unknown[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    srv = await startTestServer({
      pollTimeout: 50,
      limits: { maxPayload: 256, maxBatchBytes: 4096, maxBatchFrames: 16 },
    }, { app: true });
    srv.burrow.on('error', (e) => errors.push(e));
    canary = await Canary.start(srv);
    live = await httpSession(srv);
  });
  afterAll(async () => {
    canary?.stop();
    await srv?.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });

  const base = () => `http://127.0.0.1:${srv.port}`;

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

  it('random requests to every route get a documented status and JSON error', async () => {
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
          const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
          const r = await hit(method, path + query, headers, body);
          assertDocumented(r, `${method} ${path}`, method);
        },
      ),
      runs(600),
    );
  });

  it('mutated upstream batches on a live session: 200 with an ack, or a documented 4xx; never a 500', async () => {
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
          const r = await hit('POST', `/burrow/sessions/${live.sid}/send?token=${live.token}`, { 'content-type': 'text/plain' }, body);
          assertDocumented(r, 'send');
          assert.ok([200, 400, 413].includes(r.status), `send answered ${r.status}: ${r.text.slice(0, 120)}`);
          if (r.status === 200) {
            assert.equal(typeof r.json?.ack, 'number');
            next = r.json.ack + 1;
          }
        },
      ),
      runs(800),
    );
  });

  it('random WebSocket messages end at most the sender session, with a documented close code', async () => {
    const url = `ws://127.0.0.1:${srv.port}/burrow/ws`;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 300 }),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
            validFrame.map((f) => encodeWsFrame(f)).chain((m) => (typeof m === 'string' ? mutate(m) : fc.constant(Buffer.from(m)))),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        async (messages) => {
          const ws = new WebSocket(url);
          await new Promise<void>((resolve, reject) => {
            ws.once('message', () => resolve()); // the open frame
            ws.once('error', reject);
          });
          const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
          for (const m of messages) ws.send(m);
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
      runs(250),
    );
  });

  it('after all of it: no uncaught exception, no error event, and the other session still works', async () => {
    await canary.check();
    assert.deepEqual(uncaught, []);
    assert.deepEqual(errors, []);
    const h = await hit('GET', `/burrow/health`, {});
    assert.equal(h.status, 200);
  });
});
