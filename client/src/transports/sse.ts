/**
 * The `sse` transport: an event stream on `P/sessions/:sid/sse?token&ack` down, POSTed batches up.
 * The server's first event is an `ack` frame; until it arrives the stream is not trusted, because a
 * buffering proxy lets the request through but holds every byte (the engine then moves to polling).
 * Without a session, the stream is the handshake (`GET P/sessions`): its first event is the `open`
 * frame, reported with `onOpen` as a WebSocket's is.
 *
 * The stream is read by an {@link EventFeed}: a W3C EventSource (browsers, or one the app passes), or
 * Burrow's own reader over a streamed HTTP body (Node's default: `httpEventFeed` in sse-reader.ts).
 */
import { readJsonFrame } from '@burrow/shared';
import { type HttpClient, MAX_ANSWER_CHARS } from '../platform/http-client.js';
import { BROWSER_BUNDLE } from '../platform/target.js';
import type { EventSourceConstructor, EventSourceLike } from '../types.js';
import { transportEnd } from './base.js';
import { downFromAnswer, httpUpstream, sessionUrl, sseHandshakeUrl } from './http.js';
import { type DownReason, FAILED, type SessionRef, SSE_ACK_DELAY, TIMEOUT, type Transport, type TransportContext, type TransportHandlers } from './transport.js';


/** What a feed reports. Never called synchronously from opening it. */
export interface EventFeedHandlers {
  /** One event's data. */
  message(data: string): void;
  /** Something arrived that is not an event (a keep-alive comment): the stream is alive. */
  alive(): void;
  /** The stream ended or failed; nothing follows. */
  down(why: DownReason): void;
  /**
   * The stream failed without saying why: a browser's EventSource hides the status, so a session
   * the server no longer knows (404) looks like a network error. Nothing follows.
   */
  lost(): void;
}

/** An open event stream. */
export interface EventFeed {
  close(): void;
}

/** Opens the SSE downstream at `url`; `maxEventChars` bounds one event, where the reader can. */
export type OpenEventFeed = (url: string, maxEventChars: number, h: EventFeedHandlers) => EventFeed;

/** Burrow's own reader over an HTTP client that streams, where the entry installs one (Node). */
let reader: ((http: HttpClient) => OpenEventFeed) | undefined;

/** Installs the SSE reader used when no EventSource is passed (the Node entry: `sse-reader.ts`). */
export function useSseReader(r: (http: HttpClient) => OpenEventFeed): void {
  reader = r;
}

/** The installed reader over `http`, if there is one and `http` can stream. */
export function sseReader(http: HttpClient | undefined): OpenEventFeed | undefined {
  // Browsers read SSE through their EventSource: no reader is installed in the bundle.
  if (BROWSER_BUNDLE) return undefined;
  return http?.stream && reader ? reader(http) : undefined;
}

/**
 * A feed over a W3C EventSource. It would reconnect on its own after an error; that would race the
 * engine's resume (and a resumed stream needs a fresh `ack`), so the source is closed on its first
 * error. `init` is passed to the constructor (`eventsource` reads an injected `fetch` from it).
 */
export function eventSourceFeed(ES: EventSourceConstructor, init: Record<string, unknown> | undefined): OpenEventFeed {
  return (url, _max, h) => {
    // An absent init is `undefined`, which an EventSource takes as no init at all (WebIDL).
    const es: EventSourceLike = new ES(url, init);
    es.onmessage = (ev) => h.message(ev.data);
    es.onerror = (ev) => {
      // Browsers expose no status; `eventsource` does, and a 404, 410 or 503 means there what it
      // means on any request (anything else fails the stream, as a network error would).
      const status = ev?.code;
      if (!status) return h.lost();
      h.down(status === 404 || status === 410 || status === 503 ? downFromAnswer({ status, text: '', retryAfter: 0 }) : FAILED);
    };
    return {
      close() {
        es.onmessage = es.onerror = null;
        es.close();
      },
    };
  };
}

/** @param session the session to resume, or null for a new one (the stream is its handshake). */
export function sseTransport(open: OpenEventFeed, ctx: TransportContext, session: SessionRef | null, handlers: TransportHandlers): Transport {
  let feed: EventFeed | undefined;
  let opened = false;
  /** An error is being told apart from a lost session (see lost). */
  let probing = false;
  /** The ack the stream's URL carried. */
  let urlAck = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the session is known: no `…/send` to probe the stream's failure with before it is. */
  let bound = !!session;
  const end = transportEnd(handlers, () => {
    clearTimeout(timer);
    up.cleanup();
    feed?.close();
  });
  const { done, down } = end;
  const up = httpUpstream(ctx, session, handlers, undefined, end);

  const message = (data: string): void => {
    if (done()) return;
    const f = readJsonFrame(data, ctx.maxPayload);
    if (!f) return down(FAILED);
    if (!opened) {
      // The first event is the handshake's `open` on a new session, an `ack` on a resumed one.
      if (f.t === 'open' && !bound) {
        bound = true;
        up.bind(f);
      } else if (f.t !== 'ack' || !bound) return down(FAILED);
      opened = true;
      clearTimeout(timer);
      ctx.ackCarried(urlAck);
      return handlers.onOpen(f.ack, f.t === 'open' ? f : undefined);
    }
    up.deliver(f);
  };

  /**
   * The stream failed and its status is unknown: retrying a forgotten session would go on for the
   * whole resume window, so one empty POST on the same session tells the two apart in a round trip.
   */
  const lost = (): void => {
    if (done() || probing) return;
    if (!bound) return down(FAILED);
    probing = true;
    feed?.close();
    // The POST answered: the session is there and only the stream failed.
    up.probeAck((r) => down(typeof r === 'number' ? FAILED : r));
  };

  // JSON escaping makes a frame at most 6 characters per payload byte (`\u0000`), plus its fields.
  // Only Burrow's own reader takes a bound; the bundle has none (an EventSource cannot be bounded).
  // Under V8's longest string (2^29 - 24 units) whatever the server's maxPayload: past it, a string append throws.
  const maxEventChars = BROWSER_BUNDLE ? 0 : Math.min(6 * (ctx.maxPayload ?? 1024 * 1024) + 64 * 1024, MAX_ANSWER_CHARS);
  try {
    const ack = session ? ctx.ack() : 0;
    const url = session ? sessionUrl(ctx, session, 'sse', { ack, ...ctx.hints }) : sseHandshakeUrl(ctx);
    urlAck = ack;
    feed = open(url, maxEventChars, {
      message,
      alive: () => {
        if (!done()) handlers.onAlive();
      },
      down,
      lost,
    });
    timer = setTimeout(() => down(TIMEOUT), ctx.openTimeout);
  } catch {
    queueMicrotask(() => down(FAILED));
  }
  return { name: 'sse', ackDelay: SSE_ACK_DELAY, send: up.send, close: end.close };
}
