/**
 * The client's public types: options and the platform pieces they accept. WebSocket, EventSource and
 * fetch are described structurally so the browser's natives, `ws` and `eventsource` all fit without
 * this package importing any of them (the Node entry imports `ws`).
 */

/** The wire protocols a session can run on. */
export type TransportName = 'websocket' | 'sse' | 'polling';

/** Every transport name, in the default fallback order. */
export const TRANSPORT_NAMES: readonly TransportName[] = ['websocket', 'sse', 'polling'];

/** The part of a W3C `WebSocket` the client uses. Both the browser's and `ws`'s fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  /** Bytes the platform socket still holds; absent on minimal fakes. */
  readonly bufferedAmount?: number;
  onopen: ((ev: unknown) => unknown) | null;
  onmessage: ((ev: { data: unknown }) => unknown) | null;
  onerror: ((ev: unknown) => unknown) | null;
  onclose: ((ev: { code: number; reason: string }) => unknown) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` constructor (the browser's global, or `ws`'s). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The part of a W3C `EventSource` the client uses. */
export interface EventSourceLike {
  onmessage: ((ev: { data: string }) => unknown) | null;
  onerror: ((ev: { code?: number }) => unknown) | null;
  close(): void;
}

/** An `EventSource` constructor. The init object is passed through (`eventsource` reads `fetch` from it). */
export type EventSourceConstructor = new (url: string, init?: Record<string, unknown>) => EventSourceLike;

/** The `fetch` the HTTP transports use. */
export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

/** Where the transport that worked is remembered: `localStorage` fits. */
export interface RememberStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem?(key: string): void;
}

/** Options of {@link BurrowSocket}; every one is optional. */
export interface BurrowSocketOptions {
  /** Transports to use, in fallback order; a subset is allowed. Default `['websocket', 'sse', 'polling']`. */
  transports?: readonly TransportName[];
  /** WebSocket constructor. Default: `globalThis.WebSocket` (the Node entry uses `ws`). */
  WebSocket?: WebSocketConstructor;
  /**
   * EventSource constructor for the SSE downstream. Default: `globalThis.EventSource` in browsers; in
   * Node none: the Node entry reads the stream itself (over node:http, or over `fetch` if passed).
   */
  EventSource?: EventSourceConstructor;
  /**
   * fetch for every HTTP request (handshake, POSTs, polls, and in Node the SSE stream). Default:
   * `globalThis.fetch` in browsers; node:http with keep-alive agents in Node. Also handed to an
   * `EventSource` option as `init.fetch` (the `eventsource` package reads it).
   */
  fetch?: FetchFunction;
  /**
   * How long a WebSocket may take to deliver its `open` frame before the next transport is tried (ms).
   * Default 1500 for the first attempt; later attempts use `clamp(4 * rtt + 500, 1000, 3000)` once a
   * ping round trip was measured. Setting it fixes the value for every attempt.
   */
  connectTimeout?: number;
  /**
   * How long the SSE stream may take to deliver its first event before polling takes over (ms).
   * Default `min(1500, 2 * raceDelay)` (500 ms with the default race delay): the server sends its first
   * event at once, so a stream that stays quiet that long is held by a buffering proxy. 1500 when
   * `transports` leaves polling out (nothing could take over, so only a slow server would be failed).
   */
  sseTimeout?: number;
  /**
   * The staggered race of a first connection (RFC 8305 style): when the WebSocket has not delivered
   * its `open` frame after this long (ms), the HTTP handshake starts beside it and whichever opens
   * first carries the session. Default 250, adapted to the open time measured on earlier sessions to
   * the same origin (remembered with the transport). `false` tries transports one after another.
   */
  raceDelay?: number | false;
  /** Base of the reconnect backoff (ms); attempt n waits `random(0, min(max, base * 2^n))`. Default 250. */
  reconnectDelay?: number;
  /** Cap of the reconnect backoff (ms). Default 10000. */
  reconnectDelayMax?: number;
  /** Whether a session on SSE or polling probes WebSocket in the background and upgrades. Default true. */
  upgrade?: boolean;
  /** Delay before the first upgrade probe (ms); doubles after each failed probe, up to 60 s. Default 1000. */
  upgradeDelay?: number;
  /**
   * Remember the transport that worked, per origin+path, and start there next time. `true` uses
   * `localStorage` when the platform has one, else an in-memory map for this process; `false`
   * disables; or pass any Storage-like object. Default true.
   */
  remember?: boolean | RememberStorage;
  /** How long a remembered transport is trusted (ms). Default 24 h. */
  rememberFor?: number;
}
