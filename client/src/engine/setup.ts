/**
 * What a {@link Connection} is built from: the socket's URL and options, resolved once into base URLs,
 * defaults, transport factories and the fallback chain of the transports this platform can run.
 */
import { defaultEventSource, defaultWebSocket, resolveFetch } from '../platform/globals.js';
import { handshake, type HandshakeResult } from '../transports/http.js';
import { PollingTransport } from '../transports/polling.js';
import { SseTransport } from '../transports/sse.js';
import type { SessionRef, Transport, TransportContext, TransportHandlers } from '../transports/transport.js';
import { WebSocketTransport } from '../transports/websocket.js';
import { type BurrowSocketOptions, type FetchFunction, TRANSPORT_NAMES, type TransportName } from '../types.js';
import { TransportMemory } from './remember.js';
import { withTestHook } from './test-hook.js';

/** How transports are made. `ConnectionConfig.factories` may replace any of them (BurrowSocket passes none). */
export interface TransportFactories {
  websocket(ctx: TransportContext, h: TransportHandlers): Transport;
  sse(ctx: TransportContext, session: SessionRef, h: TransportHandlers): Transport;
  polling(ctx: TransportContext, session: SessionRef, h: TransportHandlers, knownAck: number | undefined): Transport;
  handshake(ctx: TransportContext, signal: AbortSignal): Promise<HandshakeResult>;
}

export interface ConnectionConfig {
  /** The socket's `ws:`/`wss:` URL (the mount path). */
  readonly url: URL;
  readonly protocols: readonly string[];
  readonly options: BurrowSocketOptions;
  readonly factories?: Partial<TransportFactories>;
}

/** Options the engine reads, with their defaults applied. */
export type Timing = Required<Pick<BurrowSocketOptions, 'sseTimeout' | 'reconnectDelay' | 'reconnectDelayMax' | 'upgrade' | 'upgradeDelay'>>;

export interface Setup {
  /** The mount path as `ws:`/`wss:` (no trailing slash), with the app's own query kept. */
  readonly wsBase: URL;
  /** The same as `http:`/`https:`. */
  readonly httpBase: URL;
  /** Transports to try, in order: the ones asked for that this platform can run. Empty when none. */
  readonly chain: readonly TransportName[];
  readonly fetch: FetchFunction | undefined;
  readonly factories: TransportFactories;
  readonly memory: TransportMemory;
  readonly timing: Timing;
}

export function setUp(config: ConnectionConfig): Setup {
  // A test may pin transports, upgrade and remember from outside the app (see test-hook.ts).
  const o = withTestHook(config.options);
  const wsBase = new URL(config.url.href);
  wsBase.pathname = wsBase.pathname.replace(/\/+$/, '');
  const fetch = resolveFetch(o.fetch);
  const WS = o.WebSocket ?? defaultWebSocket();
  const ES = o.EventSource ?? defaultEventSource();
  const esInit = o.fetch ? { fetch: o.fetch } : undefined;
  const f = config.factories ?? {};
  // The `!`s hold because the chain below keeps only the transports whose pieces exist.
  const factories: TransportFactories = {
    websocket: (ctx, h) => new WebSocketTransport(WS!, ctx, h),
    sse: (ctx, s, h) => new SseTransport(ES!, esInit, ctx, s, h),
    polling: (ctx, s, h, known) => new PollingTransport(ctx, s, h, known),
    handshake,
    ...f,
  };
  const available = (n: TransportName): boolean =>
    n === 'websocket' ? !!(f.websocket ?? WS) : n === 'sse' ? !!(f.sse ?? (ES && fetch)) : !!(f.polling ?? fetch);
  const wanted = o.transports ?? TRANSPORT_NAMES;
  return {
    wsBase,
    httpBase: new URL(wsBase.href.replace(/^ws/, 'http')),
    chain: [...new Set(wanted)].filter((n) => TRANSPORT_NAMES.includes(n) && available(n)),
    fetch,
    factories,
    memory: new TransportMemory(o.remember, wsBase, o.rememberFor ?? 24 * 60 * 60 * 1000),
    timing: {
      sseTimeout: o.sseTimeout ?? 1500,
      reconnectDelay: o.reconnectDelay ?? 250,
      reconnectDelayMax: o.reconnectDelayMax ?? 10_000,
      upgrade: o.upgrade ?? true,
      upgradeDelay: o.upgradeDelay ?? 1000,
    },
  };
}
