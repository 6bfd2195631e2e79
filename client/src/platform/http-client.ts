/**
 * How the HTTP transports make requests. Two implementations: over `fetch` here (browsers, and any
 * app that passes its own `fetch`), and over `node:http` with a keep-alive agent (the Node entry's
 * default, `node-http.ts`, which this module must not import: it is browser-safe).
 *
 * Callbacks rather than promises: a request settles once, into one callback, with no promise, no
 * AbortController and no Response object on the Node path. Neither function calls back synchronously.
 */
import { MAX_DELAY } from '@burrow/shared';
import type { FetchFunction } from '../types.js';
import { BROWSER_BUNDLE } from './target.js';

/** A finished HTTP exchange. */
export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  /** Retry-After in ms (0 when absent). */
  readonly retryAfter: number;
}

/** Cancels a request: its callbacks are never called after this. */
export type Cancel = () => void;

/** Where a streamed response goes (the SSE downstream). */
export interface StreamSink {
  /**
   * The response head arrived. Return true to take the body as a stream of text chunks; false to
   * have it read whole and handed to `end` as an answer (an error status, or not an event stream).
   */
  head(status: number, contentType: string): boolean;
  /** A piece of the body, decoded as UTF-8 (a character split across pieces is kept whole). */
  chunk(text: string): void;
  /**
   * Called once, last: with the answer when the body was refused by `head`, with `null` when the
   * request failed or a streamed body ended (the server closed it or the connection broke).
   */
  end(answer: HttpAnswer | null): void;
}

export interface HttpClient {
  /**
   * One request, its whole body read as text. `done` gets the answer (any status), or null when the
   * request failed: network error, timeout (`timeout` ms, 0 for none).
   */
  request(method: 'GET' | 'POST', url: string, body: string | null, timeout: number, done: (a: HttpAnswer | null) => void): Cancel;
  /** A GET whose body is read as it arrives (an SSE stream); absent where SSE needs no streaming (browsers). */
  readonly stream?: StreamFunction;
}

export type StreamFunction = (url: string, sink: StreamSink) => Cancel;

/** Retry-After (seconds, or an HTTP date) in ms from now; 0 when absent, past or unreadable. */
export function parseRetryAfter(v: string | null | undefined): number {
  // Number('') and Number(null) are 0; a date is NaN seconds (as is undefined, which no date parses).
  let ms = Number(v) * 1000;
  if (!Number.isFinite(ms)) ms = Date.parse(v!) - Date.now();
  // NaN (no date either) fails the comparison too.
  return ms > 0 ? ms : 0;
}

/** POST bodies are JSON sent as text/plain: a simple request, no CORS preflight. */
export const POST_CONTENT_TYPE = 'text/plain;charset=UTF-8';

/**
 * Most UTF-16 units of one answer or SSE event the Node client reads: half of V8's longest string
 * (2^29 - 24), past which appending a chunk throws in a 'data' listener, an uncaught exception that
 * ended the app's process. A server's answers are bounded far below (maxPollBytes, maxPayload).
 */
export const MAX_ANSWER_CHARS = 2 ** 28;
const POST_HEADERS = { 'Content-Type': POST_CONTENT_TYPE };
/** What an EventSource sends; the server needs neither, proxies may look at both. */
export const STREAM_HEADERS = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' } as const;

/**
 * An {@link HttpClient} over `fetch` (the browser's, or one the app passes), always called as a plain
 * function: a browser's fetch throws when called as a method of anything but the global. Streaming comes from
 * `stream` when the platform entry supplies it (Node: `fetch-stream.ts`): browsers read SSE
 * through their EventSource, and keep the code out of the bundle.
 */
export function fetchHttpClient(fetch: FetchFunction, stream?: (fetch: FetchFunction) => StreamFunction): HttpClient {
  return {
    ...(!BROWSER_BUNDLE && stream ? { stream: stream(fetch) } : {}),
    request(method, url, body, timeout, done) {
      const ac = new AbortController();
      let over = false;
      // A timer fires at once for a delay it cannot hold (the open frame's terms add up past it).
      const timer = timeout > 0 ? setTimeout(() => ac.abort(), Math.min(timeout, MAX_DELAY)) : undefined;
      const finish = (a: HttpAnswer | null): void => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        done(a);
      };
      // A string body makes the Fetch standard send exactly POST_CONTENT_TYPE, so the browser bundle
      // leaves it to the browser's fetch (issue #16); another fetch (Node's, an app's) is told. A GET
      // may carry a null body.
      const init: RequestInit =
        BROWSER_BUNDLE || body === null ? { method, body, signal: ac.signal } : { method, headers: POST_HEADERS, body, signal: ac.signal };
      // Through a promise's executor: an app's fetch that throws (or returns no promise) fails the
      // request as a rejection does, where it threw out of a constructor or a flush (and ended a
      // Node process). `finish` runs after the catch, so an exception of the engine's is not taken
      // for a failed request and dropped.
      new Promise<Response>((r) => r(fetch(url, init)))
        .then(async (res): Promise<HttpAnswer> => ({ status: res.status, text: await res.text(), retryAfter: parseRetryAfter(res.headers.get('retry-after')) }))
        .catch(() => null)
        .then(finish);
      return () => {
        over = true;
        clearTimeout(timer);
        ac.abort();
      };
    },
  };
}
