/**
 * The platform's WebSocket, EventSource, HTTP client and document URL. Browser-safe: everything comes
 * from globalThis, except what the Node entry installs with {@link setPlatformDefaults}.
 */
import { fetchHttpClient, type HttpClient, type StreamFunction } from './http-client.js';
import type { EventSourceConstructor, FetchFunction, WebSocketConstructor } from '../types.js';
import { BROWSER_BUNDLE } from './target.js';

interface PlatformDefaults {
  WebSocket?: WebSocketConstructor;
  /**
   * The platform's own HTTP client (Node: node:http), used when the app passes no `fetch`. A platform
   * with one reads SSE itself (the reader registered with the sse transport), not through a global
   * EventSource.
   */
  http?: HttpClient;
  /** Streams a GET over a `fetch`, so that an app's `fetch` carries the SSE stream too (Node). */
  fetchStream?: (fetch: FetchFunction) => StreamFunction;
}

/** Set by the Node entry only: the browser bundle (BROWSER_BUNDLE) never reads it. */
const defaults: PlatformDefaults = {};

/**
 * Sets the pieces used when the options name none. The Node entry calls this with `ws`, its node:http
 * client and fetch streaming; the browser entry leaves it alone so the globals are used.
 */
export function setPlatformDefaults(d: PlatformDefaults): void {
  Object.assign(defaults, d);
}

const g = globalThis as unknown as {
  WebSocket?: WebSocketConstructor;
  EventSource?: EventSourceConstructor;
  fetch?: FetchFunction;
  location?: { href: string };
  document?: { baseURI: string };
};

export function defaultWebSocket(): WebSocketConstructor | undefined {
  return BROWSER_BUNDLE ? g.WebSocket : (defaults.WebSocket ?? g.WebSocket);
}

/** The global EventSource, where SSE is read through one by default (browsers, not Node). */
export function defaultEventSource(): EventSourceConstructor | undefined {
  return BROWSER_BUNDLE || !defaults.http ? g.EventSource : undefined;
}

/**
 * The HTTP client: over the app's `fetch` when it passes one, else the platform's own (Node), else
 * over the global fetch (browsers). Undefined when there is none.
 */
export function resolveHttp(f: FetchFunction | undefined): HttpClient | undefined {
  if (BROWSER_BUNDLE) {
    const fetch = f ?? g.fetch;
    return fetch && fetchHttpClient(fetch);
  }
  const fetch = f ?? (defaults.http ? undefined : g.fetch);
  if (fetch) return fetchHttpClient(fetch, defaults.fetchStream);
  return defaults.http;
}

/**
 * The base URL relative socket URLs resolve against: the document's (its `<base href>` included), a
 * worker's location, else undefined (Node).
 */
export function baseUrl(): string | undefined {
  try {
    return g.document?.baseURI ?? g.location?.href;
  } catch {
    return undefined;
  }
}
