/**
 * What a {@link Connection} is built from: the socket's URL and options, resolved once into base URLs,
 * defaults, transport factories and the fallback chain of the transports this platform can run.
 */
import { defaultEventSource, defaultWebSocket, resolveHttp } from '../platform/globals.js';
import { handshake, type HandshakeResult } from '../transports/http.js';
import type { Cancel, HttpClient } from '../platform/http-client.js';
import { pollingTransport } from '../transports/polling.js';
import { eventSourceFeed, type OpenEventFeed, sseTransport, sseReader } from '../transports/sse.js';
import type { SessionRef, Transport, TransportContext, TransportHandlers } from '../transports/transport.js';
import { webSocketTransport } from '../transports/websocket.js';
import { type BurrowSocketOptions, TRANSPORT_NAMES, type TransportName } from '../types.js';
import { createTransportMemory, type TransportMemory } from './remember.js';
import { withTestHook } from './test-hook.js';

/** How transports are made. */
export interface TransportFactories {
  websocket(ctx: TransportContext, h: TransportHandlers): Transport;
  /** `session` null: a new session, the stream being its handshake. */
  sse(ctx: TransportContext, session: SessionRef | null, h: TransportHandlers): Transport;
  polling(ctx: TransportContext, session: SessionRef, h: TransportHandlers, knownAck: number | undefined): Transport;
  handshake(ctx: TransportContext, done: (r: HandshakeResult) => void): Cancel;
}

export interface ConnectionConfig {
  /** The socket's `ws:`/`wss:` URL (the mount path). */
  readonly url: URL;
  readonly protocols: readonly string[];
  readonly options: BurrowSocketOptions;
}

/**
 * Options the engine reads, with their defaults applied. Named apart from the options they come from
 * (`raceDelay`, `sseTimeout`, `reconnectDelay`, `reconnectDelayMax`, `upgrade`, `upgradeDelay`), so that
 * the bundle can rename them (INTERNAL_NAMES in scripts/bundle-client.mjs).
 */
export interface Timing {
  /** The stagger of the first connection's race (ms), or null for none. */
  readonly raceMs: number | null;
  readonly sseWait: number;
  readonly backoffMs: number;
  readonly backoffCap: number;
  readonly upgradeOn: boolean;
  readonly upgradeWait: number;
}

/** Default stagger before the HTTP attempt joins a first WebSocket attempt (ms), as RFC 8305's. */
const RACE_DELAY = 250;

/**
 * The race delay: the option when given; else 250 ms, or, once an earlier session to this origin
 * measured its open time, twice that plus a margin (100 ms to 2 s, RFC 8305's bounds).
 */
function raceDelay(option: number | false | undefined, rtt: number | undefined): number | null {
  if (option === false) return null;
  if (option !== undefined) return Math.max(0, option);
  return rtt === undefined ? RACE_DELAY : Math.min(2000, Math.max(100, 2 * rtt + 50));
}

export interface Setup {
  /** The mount path as `ws:`/`wss:` (no trailing slash), with the app's own query kept. */
  readonly wsBase: URL;
  /** The same as `http:`/`https:`. */
  readonly httpBase: URL;
  /** Transports to try, in order: the ones asked for that this platform can run. Empty when none. */
  readonly chain: readonly TransportName[];
  /**
   * How HTTP requests are made. Only the HTTP transports and their handshake use it, and they are in
   * the chain only when the platform has one.
   */
  readonly http: HttpClient;
  readonly factories: TransportFactories;
  readonly memory: TransportMemory;
  readonly timing: Timing;
}

export function setUp(config: ConnectionConfig): Setup {
  // A test may pin transports, upgrade and remember from outside the app (see test-hook.ts).
  const o = withTestHook(config.options);
  const wsBase = new URL(config.url.href);
  wsBase.pathname = wsBase.pathname.replace(/\/+$/, '');
  const http = resolveHttp(o.fetch);
  const WS = o.WebSocket ?? defaultWebSocket();
  const ES = o.EventSource ?? defaultEventSource();
  // SSE through an EventSource (passed, or the browser's), else through Burrow's reader (Node).
  const feed: OpenEventFeed | undefined = ES ? eventSourceFeed(ES, o.fetch ? { fetch: o.fetch } : undefined) : sseReader(http);
  // The `!`s hold because the chain below keeps only the transports whose pieces exist.
  const factories: TransportFactories = {
    websocket: (ctx, h) => webSocketTransport(WS!, ctx, h),
    sse: (ctx, s, h) => sseTransport(feed!, ctx, s, h),
    polling: pollingTransport,
    handshake,
  };
  const available = (n: TransportName): boolean => !!(n === 'websocket' ? WS : n === 'sse' ? feed && http : http);
  const wanted = o.transports ?? TRANSPORT_NAMES;
  const memory = createTransportMemory(o.remember, wsBase, o.rememberFor ?? 24 * 60 * 60 * 1000);
  const race = raceDelay(o.raceDelay, memory.rtt());
  const chain = [...new Set(wanted)].filter((n) => TRANSPORT_NAMES.includes(n) && available(n));
  const httpBase = new URL(wsBase.href.replace(/^ws/, 'http'));
  // fetch and EventSource refuse a URL with credentials in it, where a WebSocket takes one (and
  // Chromium's opens): the HTTP transports leave them out.
  httpBase.username = httpBase.password = '';
  return {
    wsBase,
    httpBase,
    chain,
    http: http!,
    factories,
    memory,
    timing: {
      raceMs: race,
      // The server's first SSE event leaves with the headers: a stream quiet for twice the race delay
      // is held by a buffering proxy, and polling takes over. With no polling to take over, the short
      // deadline would only fail a stream that is slow (a loaded server), so it gets the full 1500.
      sseWait: o.sseTimeout ?? (race === null || !chain.includes('polling') ? 1500 : Math.min(1500, Math.max(250, 2 * race))),
      backoffMs: o.reconnectDelay ?? 250,
      backoffCap: o.reconnectDelayMax ?? 10_000,
      upgradeOn: o.upgrade ?? true,
      upgradeWait: o.upgradeDelay ?? 1000,
    },
  };
}
