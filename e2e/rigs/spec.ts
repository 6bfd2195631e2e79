/**
 * What every restrictive-network rig must show, as a runner-agnostic list of cases: `rigCases(name)`
 * returns titled async functions that take the running rig and a way to open browser contexts and
 * assert with node:assert. A runner only declares them (e2e/pw/rig-suite.ts does, for
 * @playwright/test). In each rig, in real Chromium:
 *   - the drop-in page (the chat page with its one `new WebSocket` line swapped) with the default
 *     client ends on the transport the rig allows, exchanges 500 messages each way (checked on the page
 *     and in the server app, nothing lost or repeated) across the rig's cut, and never sees close/error;
 *   - the same with each transport the rig lets through forced (`transports: [t]`) on the test page;
 *   - where WebSocket fails, a second page load opens on the remembered transport with no WebSocket
 *     attempt (Playwright's `websocket` event and the proxy's access log);
 *   - a check that the rig really misbehaves as claimed.
 *
 * Cases of one rig share the rig and run in the order given: the log checks at the end read what the
 * exchanges before them left in nginx's / Squid's logs and the relays' counters, so a runner runs a
 * rig's cases of one transport in order, on one rig, and stops at the first failure.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Session, TransportName } from '@burrow/server';
import type { BrowserContext, Page } from 'playwright-core';
import { haveChromium } from '../tests/fixtures/browser.js';
import { differingLines, pageSources, startNativeEcho } from './app.js';
import { RIGS, type Rig, type RigName, type Transport } from './rigs.js';

export const N = 500;
const HALF = N / 2;
/** Timeout of a case that exchanges N messages each way (the runner's default covers the rest). */
export const EXCHANGE_TIMEOUT = 90_000;
const WAIT = 45_000; // upper bound for any single wait: a hang fails, it never synchronises

/** What a case gets from the runner. */
export interface RigEnv {
  /** The running rig (started by the runner, shared by the rig's cases, stopped by the runner). */
  readonly rig: Rig;
  /**
   * A fresh browser context with the rig's context options (the Squid rig's proxy), without any test
   * hook: the page's own client options decide. The runner closes it after the case, also on failure.
   */
  newContext(): Promise<BrowserContext>;
}

export interface RigCase {
  title: string;
  /**
   * The transport the case is about: the one it forces, or the one the default client must end on
   * (the log checks go with the default client's case, whose traffic they read). Runners group by
   * it: e2e/playwright.config.ts has one project per transport.
   */
  transport: Transport;
  /** The case's own timeout in ms, when it needs more than the runner's default. */
  timeout?: number;
  run(env: RigEnv): Promise<void>;
}

/** What the page keeps on `window`: its socket (a BurrowSocket, or the platform WebSocket) and logs. */
type Win = { socket: { transport?: string; sessionId: string; send(data: string): void }; received: string[]; events: string[]; openedAt: number; startedAt: number };

export async function waitOpen(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as Win).events?.length > 0, null, { timeout: WAIT });
  const events = await page.evaluate(() => (window as unknown as Win).events);
  assert.deepEqual(events, ['open'], 'the page opened without error/close');
}

const transportOf = (page: Page) => page.evaluate(() => (window as unknown as Win).socket.transport as string);

/** Waits (bounded) for the page's socket to be on `expected`, then asserts it. */
async function assertTransport(page: Page, expected: Transport, what: string): Promise<void> {
  await page
    .waitForFunction((t) => (window as unknown as Win).socket.transport === t, expected, { timeout: 10_000 })
    .catch(() => {});
  assert.equal(await transportOf(page), expected, what);
}

const sendRange = (page: Page, from: number, to: number) =>
  page.evaluate(([a, b]) => {
    for (let i = a; i <= b; i++) (window as unknown as Win).socket.send(`m${i}`);
  }, [from, to] as const);

const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i + 1));

const harness = (options: object) => `/harness.html?options=${encodeURIComponent(JSON.stringify(options))}`;

/** GET /hold through the rig: resolves with the status once the idle-cutting proxy gives up on it. */
function idleWitness(origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/hold`, (res) => {
      res.on('error', reject);
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The behaviour every rig must show: open on `expected`, 500 messages each way through the rig's cut,
 * the app sees no close or error, the server app got every message once, in order.
 */
async function exchangeAcrossCut(rig: Rig, ctx: BrowserContext, path: string, expected: Transport): Promise<void> {
  const page = await ctx.newPage();
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(rig.origin + path);
  await waitOpen(page);
  assert.equal(await transportOf(page), expected, 'transport at open');
  const sid: string = await page.evaluate(() => (window as unknown as Win).socket.sessionId);
  assert.ok(sid, 'session id');
  const got = () => rig.app.received.get(sid) ?? [];

  // The cutter's count is the rig's: this exchange must add its own three cuts to it.
  const cutsBefore = rig.cutter?.cuts.count ?? 0;
  if (rig.def.cut === 'relay-cut') rig.cutter!.arm(2048, 3);
  await sendRange(page, 1, HALF);
  await rig.app.until(() => got().length >= HALF / 2, 'the server app got a first part of the messages', WAIT);
  if (rig.def.cut === 'server-kill') {
    // Between two polls nothing may be open (nginx opens an upstream connection per request): cut
    // while one is.
    await rig.app.whenConnected();
    assert.ok(rig.app.killConnections() > 0, 'the cut dropped live connections');
  } else if (rig.def.cut === 'idle') {
    // Let everything settle, then stay idle until the proxy provably cut an idle request (>= 3 s).
    await rig.app.until(() => got().length >= HALF, 'first half at the server', WAIT);
    await page.waitForFunction((n) => (window as unknown as Win).received.length >= n, HALF, { timeout: WAIT });
    assert.equal(await idleWitness(rig.origin), 504, 'nginx cut the idle witness request');
  }
  await sendRange(page, HALF + 1, N);
  await rig.app.until(() => got().length >= N, `the server app got ${N} messages`, WAIT);
  await page.waitForFunction((n) => (window as unknown as Win).received.length >= n, N, { timeout: WAIT });
  if (rig.def.cut === 'relay-cut') await rig.cutter!.waitForCuts(cutsBefore + 3, WAIT);

  assert.deepEqual(got(), range(N, (i) => `m${i}`), 'server app: every message once, in order');
  const { received, events } = await page.evaluate(() => {
    const w = window as unknown as Win;
    return { received: w.received, events: w.events };
  });
  assert.deepEqual(received, range(N, (i) => `echo:m${i}`), 'page: every message once, in order');
  assert.deepEqual(events, ['open'], 'page saw no close or error');
  assert.equal(rig.app.closes.get(sid), undefined, 'server app saw no close');
  await assertTransport(page, expected, 'transport at the end');
  if (rig.def.cut === 'idle' && expected === 'websocket') {
    assert.equal(sockets.length, 1, 'the heartbeat kept the one WebSocket alive through the idle period');
  }
  await page.close();
}

/** Where WebSocket fails: the second load opens on the remembered transport, with no WebSocket attempt. */
async function rememberedTransport(rig: Rig, ctx: BrowserContext): Promise<void> {
  const expected = rig.def.expected;
  // upgrade off: no background WebSocket probe, so any WebSocket seen would be the opening attempt.
  const path = harness({ upgrade: false });
  // Earlier cases on this rig may have logged WebSocket attempts already: the first load's own must
  // be logged before the count is taken, or it lands after it and reads as the second load's.
  const before = rig.wsAttemptsLogged();
  const first = await ctx.newPage();
  const firstWs: string[] = [];
  first.on('websocket', (ws) => firstWs.push(ws.url()));
  await first.goto(rig.origin + path);
  await waitOpen(first);
  assert.equal(await transportOf(first), expected, 'first load falls back');
  assert.equal(firstWs.length, 1, 'first load tried WebSocket once');
  await waitForLog(() => rig.wsAttemptsLogged() >= before + 1, 'the proxy logged the WebSocket attempt');
  const logged = rig.wsAttemptsLogged();
  await first.close();

  const second = await ctx.newPage();
  const secondWs: string[] = [];
  second.on('websocket', (ws) => secondWs.push(ws.url()));
  await second.goto(rig.origin + path);
  await waitOpen(second);
  assert.equal(await transportOf(second), expected, 'second load opens on the remembered transport');
  await second.evaluate(() => (window as unknown as Win).socket.send('after-reload'));
  await second.waitForFunction(() => (window as unknown as Win).received.includes('echo:after-reload'), null, { timeout: WAIT });
  assert.deepEqual(secondWs, [], 'no WebSocket attempt on the second load');
  assert.equal(rig.wsAttemptsLogged(), logged, 'the proxy logged no new WebSocket attempt');
}

/** The binary a rig needs that is not installed, if any. */
export function missingBinary(name: RigName): string | undefined {
  return !haveChromium() ? 'Chromium' : !RIGS[name].needs() ? `the ${name} rig's proxy` : undefined;
}

/** The title of a rig's group of cases. */
export const rigTitle = (name: RigName): string => `rig ${name}: ${RIGS[name].title}`;

/**
 * The cases of rig `name`, in the order they must run. A missing binary is one failing case (npm test
 * installs what the rigs start, scripts/system-deps.mjs): never a silent skip.
 */
export function rigCases(name: RigName): RigCase[] {
  const def = RIGS[name];
  const missing = missingBinary(name);
  if (missing) {
    return [{ title: 'has its binaries', transport: def.expected, run: async () => assert.fail(`${missing} is not installed: run node scripts/system-deps.mjs`) }];
  }
  const cases: RigCase[] = [
    {
      title: `drop-in page, default client: ends on ${def.expected}, ${N} each way across the ${def.cut}, no close`,
      transport: def.expected,
      timeout: EXCHANGE_TIMEOUT,
      run: async ({ rig, newContext }) => exchangeAcrossCut(rig, await newContext(), '/', def.expected),
    },
    ...def.allowed.map((t): RigCase => ({
      title: `test page forced to ${t}: ${N} each way across the ${def.cut}, no close`,
      transport: t,
      timeout: EXCHANGE_TIMEOUT,
      run: async ({ rig, newContext }) => exchangeAcrossCut(rig, await newContext(), harness({ transports: [t] }), t),
    })),
  ];
  if (def.expected !== 'websocket') {
    cases.push({
      title: `second page load opens directly on the remembered ${def.expected}: no WebSocket attempt`,
      transport: def.expected,
      timeout: EXCHANGE_TIMEOUT,
      run: async ({ rig, newContext }) => rememberedTransport(rig, await newContext()),
    });
  }
  return [...cases, ...rigChecks(name)];
}

/** Re-reads a log file (bounded) until a line appears: nginx and Squid write their logs themselves. */
async function waitForLog(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Checks that each rig really misbehaves the way it claims (and the page proof for the pass rig).
 * They go with the default client's transport: they read what its exchange left behind.
 */
function rigChecks(name: RigName): RigCase[] {
  const on = RIGS[name].expected;
  switch (name) {
    case 'pass':
      return [
        {
          title: 'the Burrow page differs from the WebSocket page in exactly one line',
          transport: on,
          run: async () => {
            const { native, burrow, harness: harnessPage } = pageSources();
            const lines = differingLines(native, burrow);
            assert.equal(lines.length, 1, `differing lines: ${lines.join(', ')}`);
            const at = lines[0]! - 1;
            assert.match(native.split('\n')[at]!, /new WebSocket\(url\)/);
            assert.match(burrow.split('\n')[at]!, /new Burrow\.BurrowSocket\(url\)/);
            assert.equal(differingLines(native, harnessPage).length, 1);
          },
        },
        {
          title: `the WebSocket page as written works against a plain ws server (${N} each way)`,
          transport: on,
          timeout: EXCHANGE_TIMEOUT,
          run: async ({ rig, newContext }) => {
            const echo = await startNativeEcho();
            try {
              const page = await (await newContext()).newPage();
              await page.goto(`${rig.app.origin}/native.html?url=${encodeURIComponent(echo.url)}`);
              await waitOpen(page);
              assert.equal(await transportOf(page), undefined, 'a platform WebSocket (no Burrow extras)');
              await sendRange(page, 1, N);
              await page.waitForFunction((n) => (window as unknown as Win).received.length >= n, N, { timeout: WAIT });
              assert.deepEqual(echo.received, range(N, (i) => `m${i}`));
              assert.deepEqual(await page.evaluate(() => (window as unknown as Win).received), range(N, (i) => `echo:m${i}`));
            } finally {
              await echo.close();
            }
          },
        },
      ];
    case 'blackhole':
      return [
        {
          title: 'the black hole accepted the upgrades and answered nothing',
          transport: on,
          run: async ({ rig }) => {
            assert.ok(rig.seen.blackHoleAccepted!() >= 1);
          },
        },
      ];
    case 'silent':
      return [
        {
          title: 'the silent relay passed upgrades (101) through',
          transport: on,
          run: async ({ rig }) => {
            assert.ok(rig.seen.silentUpgrades!() >= 1);
            assert.ok(rig.nginx!.accessLog().some((l) => l.includes('GET /burrow/ws') && l.includes('" 101 ')), 'nginx logged a 101');
          },
        },
      ];
    case 'refuse':
      return [
        {
          title: 'nginx answered the upgrades with 403',
          transport: on,
          run: async ({ rig }) => {
            assert.ok(rig.nginx!.accessLog().some((l) => l.includes('GET /burrow/ws') && l.includes('" 403 ')));
          },
        },
      ];
    case 'squid':
      return [
        {
          title: 'Squid denied the WebSocket CONNECT and proxied the HTTP transports',
          transport: on,
          run: async ({ rig }) => {
            const log = rig.squid!.accessLog();
            assert.ok(log.some((l) => l.includes('TCP_DENIED/403') && l.includes(' CONNECT ')), 'CONNECT denied');
            assert.ok(log.some((l) => l.includes('/burrow/sessions')), 'HTTP transports went through Squid');
          },
        },
      ];
    case 'buffer':
      return [
        {
          title: 'nginx really holds an SSE stream until it ends (and the app alone streams it)',
          transport: on,
          timeout: EXCHANGE_TIMEOUT,
          run: async ({ rig }) => {
            assert.equal(await firstSseChunkBeforeEnd(rig, rig.app.origin, true), true, 'direct: SSE streams');
            assert.equal(await firstSseChunkBeforeEnd(rig, rig.origin, false), false, 'through nginx: nothing before the response ended');
          },
        },
      ];
    case 'midcut':
      return [
        {
          title: 'the relay cut connections in the middle of a message',
          transport: on,
          run: async ({ rig }) => {
            assert.ok(rig.cutter!.cuts.count >= 3);
          },
        },
      ];
    default:
      return [];
  }
}

/**
 * Opens an SSE downstream through `origin` and has the server write frames. `streaming`: wait for the
 * first body bytes. Otherwise end that response from the server side (a poll straight to the app
 * replaces the SSE downstream) and then wait. Resolves whether the first body bytes reached the
 * reader before the server had ended the response.
 */
async function firstSseChunkBeforeEnd(rig: Rig, origin: string, streaming: boolean): Promise<boolean> {
  const app = rig.app;
  const open = (await (await fetch(`${origin}/burrow/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ v: 1 }),
  })).json()) as { sid: string; token: string };
  const q = `token=${encodeURIComponent(open.token)}&ack=0`;
  let resolveSession: (s: Session) => void = () => {};
  const sessionReady = new Promise<Session>((resolve) => (resolveSession = resolve));
  const attached = (s: Session, t: TransportName): void => {
    if (s.id === open.sid && t === 'sse') resolveSession(s);
  };
  app.burrow.on('transport', attached);
  const firstChunk = new Promise<boolean>((resolve, reject) => {
    const req = request(`${origin}/burrow/sessions/${open.sid}/sse?${q}`, (res) => {
      res.on('error', reject);
      res.once('data', () => {
        resolve(!app.sseEnded.has(open.sid));
        res.destroy();
      });
    });
    req.on('error', reject);
    req.end();
  });
  const session = await sessionReady;
  app.burrow.off('transport', attached);
  for (let i = 0; i < 3; i++) await session.send(`held-${i}`);
  if (streaming) return firstChunk; // the control: the bytes come while the response is still open
  // End the SSE response from the server side; a buffering proxy releases the bytes only now.
  const poll = await fetch(`${app.origin}/burrow/sessions/${open.sid}/poll?${q}`);
  await poll.text();
  return firstChunk;
}
