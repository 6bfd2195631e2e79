/**
 * Black-box protocol suite: speaks Burrow wire protocol v1 (docs/PROTOCOL.md) to a real server in RAW
 * HTTP (fetch, node:net) and RAW WebSocket (`ws`, node:net), without the Burrow client, the way
 * Engine.IO's protocol test-suite does. "(BAD-INPUTS n)" cites ../shared/BAD-INPUTS.md. One file per
 * endpoint (handshake, ws, sse, poll, send), plus the session across them (resume, close, ids and
 * tokens) and what every route must refuse (routes); this module is what they share.
 *
 * Waits are on events and responses only. A server that holds an answer it should give "at once"
 * fails by the per-test timeout (every hold the server could do here is longer than it).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { BurrowOptions } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { assertError, Canary, type OpenJson, poll, RawWs, type Wire } from '../fixtures/raw-protocol.js';

/** Every test's bound: the longest the server may take for anything it should do "at once". */
export const T = { timeout: 5000 };
export const LIMITS = { maxPayload: 1024, maxBatchBytes: 4096, maxBufferedMessages: 50 };
export const HEARTBEAT = 10000;
export const HEARTBEAT_TIMEOUT = 10000;
export const RESUME_WINDOW = 10000;
const SID_RE = /^[A-Za-z0-9_-]{16,64}$/;

/** Picks "preferred" when offered, refuses when "nope" is offered, else the first one. */
function handleProtocols(set: Set<string>, _req: IncomingMessage): string | false {
  if (set.has('nope')) return false;
  if (set.has('preferred')) return 'preferred';
  for (const p of set) return p;
  return false;
}

/** The suite's server: the test server's scripted app, with the limits and timings above. */
export function startProtocolServer(overrides: BurrowOptions = {}): Promise<TestServer> {
  return startTestServer(
    {
      limits: LIMITS,
      heartbeat: HEARTBEAT,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      pollTimeout: 8000, // longer than a test may run: a poll that should answer at once must not be held
      resumeWindow: RESUME_WINDOW,
      bodyTimeout: 400,
      // Acks are lazy (2 s by default); the suite's waits for one are bounded by T like the rest.
      ackDelay: 100,
      handleProtocols,
      ...overrides,
    },
    { app: true },
  );
}

export const dataOf = (frames: Wire[]): Wire[] => frames.filter((f) => f.t === 'd');

export function assertOpen(open: OpenJson, resumed = false): void {
  assert.equal(open.t, 'open');
  assert.equal(open.v, 1);
  assert.match(open.sid, SID_RE, 'sid is base64url');
  assert.equal(Buffer.from(open.sid, 'base64url').length, 16, 'sid is 16 random bytes');
  assert.equal(typeof open.token, 'string');
  assert.equal(Buffer.from(open.token, 'base64url').length, 32, 'token is 32 random bytes');
  assert.equal(open.resumed, resumed);
  assert.equal(typeof open.protocol, 'string');
  assert.equal(open.heartbeat, HEARTBEAT);
  assert.equal(open.heartbeatTimeout, HEARTBEAT_TIMEOUT);
  assert.equal(open.maxPayload, LIMITS.maxPayload);
  assert.equal(open.resumeWindow, RESUME_WINDOW);
}

/** A poll that is known to be held by the server: poll A, then B replaces it, A's 409 proves B is in. */
export async function heldPoll(srv: TestServer, s: OpenJson, ack: number) {
  const acA = new AbortController();
  const a = poll(srv, s.sid, s.token, ack, acA.signal);
  // Not a synchronisation by time: B is sent after A, and A's answer says the server has seen B.
  const acB = new AbortController();
  const b = poll(srv, s.sid, s.token, ack, acB.signal);
  const ra = await a;
  assertError(ra, 409, 'poll_replaced', 4004);
  return { answer: b, abort: () => acB.abort() };
}

/**
 * Bad input: after every test of the suite that calls this, the process still serves and another,
 * already-open session still exchanges messages (DESIGN invariant 6).
 */
export function withCanary(server: () => TestServer): void {
  let canary: Canary;
  beforeAll(async () => {
    canary = await Canary.start(server());
  });
  afterEach(async () => {
    await canary.check();
  });
  afterAll(() => canary?.stop());
}

/**
 * For one describe block: a server on default limits, so a parser really sees big inputs, with a
 * canary session checked after every test. Returns the server's getter.
 */
export function useDefaultLimitsServer(): () => TestServer {
  let big: TestServer | undefined;
  const get = (): TestServer => {
    if (!big) throw new Error('the default-limits server is not started yet');
    return big;
  };
  beforeAll(async () => {
    big = await startTestServer({}, { app: true });
  });
  afterAll(() => big?.close());
  withCanary(get);
  return get;
}

/** Opens a fresh WebSocket session, sends `msg` raw, and returns the close code it gets. */
export async function wsCloseCodeAfter(server: TestServer, msg: string | Buffer): Promise<number> {
  const { c } = await RawWs.open(server);
  c.ws.send(msg);
  return (await c.closed).code;
}
