/**
 * Hostile networks in the browser, without a proxy: `restrictNetwork(page, mode)` intercepts the page's
 * Burrow traffic with `page.routeWebSocket` and `page.route`, as the misbehaving proxies of Burrow's
 * own e2e rigs do (nginx and Squid there; nothing to install here).
 *
 * Limits of doing it in the browser: `page.route` hands a response over only once it is complete, so
 * an SSE stream can be held (that is what `sse-buffered` wants) but never cut part-way or timed out
 * while it streams. The cut modes therefore act on WebSocket frames and on HTTP requests (polls and
 * sends) and leave SSE streams alone; cut those from the server with `cutTransports(burrow)` of
 * `@burrow/server/testing`.
 */
import type { Page, Route, WebSocketRoute } from '@playwright/test';
import { BURROW_TRANSPORTS, type BurrowTestHook, type BurrowTransport } from './hook.js';

/**
 * The networks {@link restrictNetwork} imitates:
 * - `ws-refused`: the WebSocket upgrade is refused (a proxy answering 403): the page's WebSocket closes
 *   before it opens.
 * - `ws-blackhole`: the upgrade is never answered: the page's WebSocket stays CONNECTING.
 * - `ws-silent`: the upgrade succeeds but no server frame ever reaches the page (the page's frames
 *   still reach the server).
 * - `sse-buffered`: a buffering proxy: SSE responses are held until the server ends them, and (as such
 *   proxies do) WebSocket upgrades are refused.
 * - `idle-cut`: connections idle for `idleSeconds` are cut: a WebSocket with no frame either way, a
 *   long poll not answered in time.
 * - `mid-stream-cut`: connections cut mid-session: a WebSocket after `cutAfter` server frames, and
 *   every third poll or send after the server answered it (the answer is lost), `maxCuts` in all.
 */
export type NetworkMode = 'ws-refused' | 'ws-blackhole' | 'ws-silent' | 'sse-buffered' | 'idle-cut' | 'mid-stream-cut';

/** Every {@link NetworkMode}. */
export const NETWORK_MODES: readonly NetworkMode[] = ['ws-refused', 'ws-blackhole', 'ws-silent', 'sse-buffered', 'idle-cut', 'mid-stream-cut'];

/** Options of {@link restrictNetwork}. */
export interface RestrictNetworkOptions {
  /** The server's Burrow mount path. Default `/burrow`. Only requests under it are touched. */
  path?: string;
  /** `idle-cut`: seconds without traffic before a connection is cut. Default 3. */
  idleSeconds?: number;
  /** `mid-stream-cut`: server frames a WebSocket carries before it is cut. Default 20. */
  cutAfter?: number;
  /** `mid-stream-cut`: how many cuts in all, so the session can settle afterwards. Default 3. */
  maxCuts?: number;
}

/** What {@link restrictNetwork} did so far, for assertions that the network really misbehaved. */
export interface NetworkRestriction {
  readonly mode: NetworkMode;
  /** WebSocket upgrades refused, held or silenced. */
  readonly blocked: number;
  /** SSE responses held until they ended. */
  readonly held: number;
  /** Connections cut (`idle-cut`, `mid-stream-cut`). */
  readonly cuts: number;
}

/** How a test behind a network mode runs in a project pinned to one transport (see {@link planBehind}). */
export interface NetworkPlan {
  /** The transport the page must end on. */
  readonly expected: BurrowTransport;
  /**
   * Set when the test must leave the pin so the client can fall back (the project's transport is the
   * one this network attacks): install it with `installBurrowHook(page, plan.hook)` before `page.goto`.
   */
  readonly hook?: BurrowTestHook;
}

/** The transport each blocking mode attacks, and what it blocks. */
const BLOCKS: Partial<Record<NetworkMode, { target: BurrowTransport; blocked: readonly BurrowTransport[] }>> = {
  'ws-refused': { target: 'websocket', blocked: ['websocket'] },
  'ws-blackhole': { target: 'websocket', blocked: ['websocket'] },
  'ws-silent': { target: 'websocket', blocked: ['websocket'] },
  'sse-buffered': { target: 'sse', blocked: ['websocket', 'sse'] },
};

/**
 * What a test behind `mode` checks in a project pinned to `pinned` (`burrowTransport`), or `undefined`
 * when the mode has nothing to show there (skip the test), so each case runs where it means something:
 * - a mode that blocks transports runs in the project of the transport it attacks (`ws-*`: websocket;
 *   `sse-buffered`: sse), unpinned via `hook` so the client falls back, and expects the first
 *   transport of the default chain it lets through; in the other projects it is skipped;
 * - `idle-cut` and `mid-stream-cut` run pinned and expect the pinned transport, except `idle-cut` on
 *   sse (a page route cannot reach an SSE stream, see {@link restrictNetwork});
 * - unpinned (`'auto'`), every mode runs and expects where the default chain ends.
 *
 * @example
 * ```ts
 * test.describe(mode, () => {
 *   // Decided from the project's option alone, before any page is made.
 *   test.skip(({ burrowTransport }) => !planBehind(mode, burrowTransport), 'not touched by this network');
 *   test('works', async ({ page, burrowTransport }) => {
 *     const plan = planBehind(mode, burrowTransport)!;
 *     if (plan.hook) await installBurrowHook(page, plan.hook);
 *     await restrictNetwork(page, mode);
 *     await page.goto('/');
 *     await expectTransport(page, plan.expected);
 *   });
 * });
 * ```
 */
export function planBehind(mode: NetworkMode, pinned: BurrowTransport | 'auto' = 'auto'): NetworkPlan | undefined {
  const b = BLOCKS[mode];
  if (b) {
    const expected = BURROW_TRANSPORTS.find((t) => !b.blocked.includes(t))!;
    if (pinned === 'auto') return { expected };
    return pinned === b.target ? { expected, hook: { remember: false } } : undefined;
  }
  if (pinned === 'auto') return { expected: 'websocket' };
  return mode === 'idle-cut' && pinned === 'sse' ? undefined : { expected: pinned };
}

/**
 * Makes the page's network to its Burrow server behave as `mode` says (see {@link NetworkMode}), for
 * the rest of the page's life. Call it before `page.goto`.
 *
 * @example
 * ```ts
 * const net = await restrictNetwork(page, 'ws-silent');
 * await page.goto('/');
 * await expectTransport(page, 'sse');
 * expect(net.blocked).toBeGreaterThan(0);
 * ```
 */
export async function restrictNetwork(page: Page, mode: NetworkMode, options: RestrictNetworkOptions = {}): Promise<NetworkRestriction> {
  const path = (options.path ?? '/burrow').replace(/\/+$/, '');
  const idleMs = (options.idleSeconds ?? 3) * 1000;
  const cutAfter = options.cutAfter ?? 20;
  const maxCuts = options.maxCuts ?? 3;
  const stats = { mode, blocked: 0, held: 0, cuts: 0 };

  const isWs = (u: URL): boolean => u.pathname === `${path}/ws`;
  const under = (u: URL, tail: RegExp): boolean => u.pathname.startsWith(`${path}/sessions/`) && tail.test(u.pathname);
  // An SSE stream: a resume's `sessions/:sid/sse`, or a new session's handshake stream, a GET of
  // `sessions` itself (its POST is polling's handshake, let through below).
  const isSse = (u: URL): boolean => under(u, /\/sse$/) || u.pathname === `${path}/sessions`;
  const isPoll = (u: URL): boolean => under(u, /\/poll$/);
  const isPollOrSend = (u: URL): boolean => under(u, /\/(poll|send)$/);
  const closed = new Promise<void>((resolve) => page.once('close', () => resolve()));

  /** Cuts both ends of a routed WebSocket as a dropped connection would (1006: no close frame). */
  const cutBoth = (ws: WebSocketRoute, server: WebSocketRoute): void => {
    stats.cuts++;
    void ws.close({ code: 1006, reason: '' }).catch(() => {});
    void server.close().catch(() => {});
  };

  const refuse = (ws: WebSocketRoute): Promise<void> => {
    stats.blocked++;
    // Closing before the route connects or opens: the page sees its WebSocket fail without opening.
    return ws.close({ code: 1006, reason: '' }).catch(() => {});
  };

  switch (mode) {
    case 'ws-refused':
      await page.routeWebSocket(isWs, refuse);
      break;
    case 'ws-blackhole':
      await page.routeWebSocket(isWs, () => {
        stats.blocked++;
        // Playwright opens an unconnected route's socket once the handler returns; never returning
        // (until the page closes) keeps it CONNECTING, as an unanswered upgrade does.
        return closed;
      });
      break;
    case 'ws-silent':
      await page.routeWebSocket(isWs, (ws) => {
        stats.blocked++;
        const server = ws.connectToServer();
        // A handler on the server side stops Playwright forwarding its frames: they are dropped.
        server.onMessage(() => {});
      });
      break;
    case 'sse-buffered':
      await page.routeWebSocket(isWs, refuse);
      await page.route(isSse, async (route) => {
        if (route.request().method() !== 'GET') return route.fallback();
        stats.held++;
        // route.fetch resolves only with the complete response: exactly a buffering proxy.
        await forward(route, 0);
      });
      break;
    case 'idle-cut':
      await page.routeWebSocket(isWs, (ws) => {
        const server = ws.connectToServer();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const touch = (): void => {
          clearTimeout(timer);
          timer = setTimeout(() => cutBoth(ws, server), idleMs);
        };
        ws.onMessage((m) => {
          touch();
          server.send(m);
        });
        server.onMessage((m) => {
          touch();
          ws.send(m);
        });
        ws.onClose(() => clearTimeout(timer));
        server.onClose(() => clearTimeout(timer));
        touch();
      });
      await page.route(isPoll, async (route) => {
        if (!(await forward(route, idleMs))) stats.cuts++;
      });
      break;
    case 'mid-stream-cut': {
      await page.routeWebSocket(isWs, (ws) => {
        const server = ws.connectToServer();
        let frames = 0;
        server.onMessage((m) => {
          ws.send(m);
          if (++frames >= cutAfter && stats.cuts < maxCuts) cutBoth(ws, server);
        });
      });
      let requests = 0;
      await page.route(isPollOrSend, async (route) => {
        if (++requests % 3 !== 0 || stats.cuts >= maxCuts) return void (await forward(route, 0));
        try {
          // The server gets the request and answers; the answer is lost on the way back.
          await route.fetch({ timeout: 0 });
          stats.cuts++;
        } catch {
          // The test ended while a poll was held (route.fetch rejects then), or the request failed:
          // unhandled, Playwright failed the whole run with an error outside any test.
        } finally {
          await route.abort('connectionreset').catch(() => {});
        }
      });
      break;
    }
  }
  return stats;
}

/**
 * Sends the request on from the test process and fulfils it with the complete response; after
 * `timeoutMs` (0: none) or on a network error, aborts it. Resolves false when it was aborted.
 */
async function forward(route: Route, timeoutMs: number): Promise<boolean> {
  try {
    const response = await route.fetch({ timeout: timeoutMs, maxRetries: 0 });
    await route.fulfill({ response });
    return true;
  } catch {
    // Timed out, or the page went away meanwhile (then abort fails too, which is fine).
    await route.abort('timedout').catch(() => {});
    return false;
  }
}
