/**
 * The platform's WebSocket, EventSource, fetch and document URL. Browser-safe: everything comes from
 * globalThis, except what the Node entry installs with {@link setPlatformDefaults}.
 */
import type { EventSourceConstructor, FetchFunction, WebSocketConstructor } from '../types.js';

interface PlatformDefaults {
  WebSocket?: WebSocketConstructor;
  EventSource?: EventSourceConstructor;
}

const defaults: PlatformDefaults = {};

/**
 * Sets the constructors used when the options name none. The Node entry calls this with `ws` and
 * `eventsource`; the browser entry leaves it alone so the globals are used.
 */
export function setPlatformDefaults(d: PlatformDefaults): void {
  if (d.WebSocket) defaults.WebSocket = d.WebSocket;
  if (d.EventSource) defaults.EventSource = d.EventSource;
}

const g = globalThis as unknown as {
  WebSocket?: WebSocketConstructor;
  EventSource?: EventSourceConstructor;
  fetch?: FetchFunction;
  location?: { href: string };
};

export function defaultWebSocket(): WebSocketConstructor | undefined {
  return defaults.WebSocket ?? g.WebSocket;
}

export function defaultEventSource(): EventSourceConstructor | undefined {
  return defaults.EventSource ?? g.EventSource;
}

/** fetch, called as a plain function: a browser's fetch throws when `this` is not the global. */
export function resolveFetch(f: FetchFunction | undefined): FetchFunction | undefined {
  const fn = f ?? g.fetch;
  return fn ? (input, init) => fn(input, init) : undefined;
}

/** The document's base URL in a browser (relative socket URLs resolve against it), else undefined. */
export function baseUrl(): string | undefined {
  try {
    return g.location?.href;
  } catch {
    return undefined;
  }
}
