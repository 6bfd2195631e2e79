/** The contestants: one server kind each, grouped by the transport class they compete in. */
export type Kind =
  | 'ws'
  | 'burrow-ws'
  | 'socketio-ws'
  | 'sockjs-ws'
  | 'http-sse'
  | 'burrow-sse'
  | 'sockjs-xhr-streaming'
  | 'http-poll'
  | 'burrow-polling'
  | 'socketio-polling'
  | 'sockjs-xhr-polling';

export type Family = 'floor' | 'burrow' | 'peer';
export type TransportClass = 'websocket' | 'streaming' | 'polling';

export interface KindInfo {
  kind: Kind;
  label: string;
  family: Family;
  cls: TransportClass;
}

export const KINDS: readonly KindInfo[] = [
  { kind: 'ws', label: 'raw ws (floor)', family: 'floor', cls: 'websocket' },
  { kind: 'burrow-ws', label: 'Burrow websocket', family: 'burrow', cls: 'websocket' },
  { kind: 'socketio-ws', label: 'Socket.IO websocket', family: 'peer', cls: 'websocket' },
  { kind: 'sockjs-ws', label: 'SockJS websocket', family: 'peer', cls: 'websocket' },
  { kind: 'http-sse', label: 'raw http SSE+POST (floor)', family: 'floor', cls: 'streaming' },
  { kind: 'burrow-sse', label: 'Burrow sse', family: 'burrow', cls: 'streaming' },
  { kind: 'sockjs-xhr-streaming', label: 'SockJS xhr-streaming', family: 'peer', cls: 'streaming' },
  { kind: 'http-poll', label: 'raw http long-poll (floor)', family: 'floor', cls: 'polling' },
  { kind: 'burrow-polling', label: 'Burrow polling', family: 'burrow', cls: 'polling' },
  { kind: 'socketio-polling', label: 'Socket.IO polling', family: 'peer', cls: 'polling' },
  { kind: 'sockjs-xhr-polling', label: 'SockJS xhr-polling', family: 'peer', cls: 'polling' },
];

export const info = (k: Kind): KindInfo => KINDS.find((x) => x.kind === k)!;

export const BENCH_PATHS = { burrow: '/burrow', sockjs: '/sockjs' } as const;

/** Libraries whose default client is opened through a proxy that refuses or black-holes the upgrade. */
export type FallbackLib = 'burrow' | 'socketio' | 'socketio-wsfirst' | 'sockjs';
export const FALLBACK_LIBS: ReadonlyArray<{ lib: FallbackLib; server: Kind; label: string }> = [
  { lib: 'burrow', server: 'burrow-ws', label: 'Burrow (default: websocket, sse, polling)' },
  { lib: 'socketio', server: 'socketio-ws', label: 'Socket.IO (default: polling, then upgrade)' },
  { lib: 'socketio-wsfirst', server: 'socketio-ws', label: "Socket.IO (['websocket','polling'], tryAllTransports)" },
  { lib: 'sockjs', server: 'sockjs-ws', label: 'SockJS (default: websocket, xhr-streaming, ...)' },
];

/**
 * The Chromium paced run (browser.ts): each library's own browser build forced onto one transport, on
 * the server kind of the same name. Fallback transports first, so a short budget still measures them.
 */
export type BrowserLib = 'burrow' | 'sockjs' | 'socketio';
export const BROWSER_ROWS: ReadonlyArray<{ kind: Kind; lib: BrowserLib; transport: string }> = [
  { kind: 'burrow-sse', lib: 'burrow', transport: 'sse' },
  { kind: 'sockjs-xhr-streaming', lib: 'sockjs', transport: 'xhr-streaming' },
  { kind: 'burrow-polling', lib: 'burrow', transport: 'polling' },
  { kind: 'sockjs-xhr-polling', lib: 'sockjs', transport: 'xhr-polling' },
  { kind: 'socketio-polling', lib: 'socketio', transport: 'polling' },
  { kind: 'burrow-ws', lib: 'burrow', transport: 'websocket' },
  { kind: 'sockjs-ws', lib: 'sockjs', transport: 'websocket' },
  { kind: 'socketio-ws', lib: 'socketio', transport: 'websocket' },
];
