/**
 * The Node entry's {@link HttpClient}: `node:http` / `node:https` through one keep-alive agent per
 * scheme (an agent pools sockets per origin), so a session's POSTs, polls and streams reuse warm
 * connections instead of paying `fetch`'s Request/Response/WHATWG-stream machinery per request.
 *
 * Every request, response and socket has an error listener from the moment it exists. A request that
 * fails on a reused keep-alive socket before any answer (the server closed the idle socket as we
 * sent) is retried once on a fresh one: Burrow's requests are safe to repeat (a poll never removes
 * frames, a send batch is deduplicated by seq).
 *
 * Node-only: imported by `node.ts`, never by the browser entry.
 */
import { Agent as HttpAgent, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { type HttpAnswer, type HttpClient, MAX_ANSWER_CHARS, parseRetryAfter, POST_CONTENT_TYPE } from './http-client.js';
import { deadline } from './request-deadlines.js';

const agents = {
  http: new HttpAgent({ keepAlive: true, scheduling: 'lifo', noDelay: true } as ConstructorParameters<typeof HttpAgent>[0]),
  https: new HttpsAgent({ keepAlive: true, scheduling: 'lifo', noDelay: true } as ConstructorParameters<typeof HttpsAgent>[0]),
};

const POST_HEADERS: OutgoingHttpHeaders = { 'Content-Type': POST_CONTENT_TYPE };
const GET_HEADERS: OutgoingHttpHeaders = {};
const STREAM_HEADERS: OutgoingHttpHeaders = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };

const noop = (): void => {};
/** Sockets that already carry our error listener (one per socket, not one per request it serves). */
const guarded = new WeakSet<Socket>();
function guard(socket: Socket): void {
  if (guarded.has(socket)) return;
  guarded.add(socket);
  socket.on('error', noop);
}

/** An origin's request options, parsed once (`new URL` per request is a measurable cost). */
interface Origin {
  readonly https: boolean;
  readonly hostname: string;
  readonly port: string;
  readonly auth: string | undefined;
  /** TLS SNI name ('' for none: plain HTTP, or an IP address); given, the agent skips working it out per request. */
  readonly servername: string;
}
const origins = new Map<string, Origin>();

function split(url: string): { origin: Origin; path: string } {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  const key = slash === -1 ? url : url.slice(0, slash);
  let origin = origins.get(key);
  if (!origin) {
    const u = new URL(key);
    // node:http wants an IPv6 literal without its brackets.
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const https = u.protocol === 'https:';
    origin = {
      https,
      hostname,
      servername: https && isIP(hostname) === 0 ? hostname : '',
      port: u.port,
      auth: u.username ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` : undefined,
    };
    if (origins.size > 64) origins.clear();
    origins.set(key, origin);
  }
  return { origin, path: slash === -1 ? '/' : url.slice(slash) };
}

function start(url: string, method: string, headers: OutgoingHttpHeaders, onResponse: (res: IncomingMessage) => void): ClientRequest {
  const { origin, path } = split(url);
  const req = (origin.https ? httpsRequest : httpRequest)(
    {
      agent: origin.https ? agents.https : agents.http,
      hostname: origin.hostname,
      servername: origin.servername,
      ...(origin.port ? { port: origin.port } : {}),
      ...(origin.auth ? { auth: origin.auth } : {}),
      path,
      method,
      headers,
    },
    onResponse,
  );
  req.on('socket', guard);
  return req;
}

/** A failure on a reused keep-alive socket before any answer: the server closed it as we sent. */
function staleSocket(req: ClientRequest, err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
}

function readAll(res: IncomingMessage, done: (a: HttpAnswer | null) => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => {
    // Too long to hold: a failed request (its 'close' comes without 'end'), not a crash.
    if (text.length + c.length > MAX_ANSWER_CHARS) return void res.destroy();
    text += c;
  });
  res.on('end', () => done({ status: res.statusCode ?? 0, text, retryAfter: parseRetryAfter(res.headers['retry-after'] as string | undefined) }));
  // A body cut short ends in 'close' without 'end' (and 'error' on some versions): a failed request.
  res.on('close', () => {
    if (!res.complete) done(null);
  });
}

export const nodeHttpClient: HttpClient = {
  request(method, url, body, timeout, done) {
    let over = false;
    let cancelled = false;
    let req: ClientRequest | undefined;
    // The whole request's timeout, as fetch's in browsers: its 'error' settles it as failed.
    const unarm = timeout > 0 ? deadline(timeout, () => req?.destroy(new Error('request timed out'))) : noop;
    // Settled in a microtask: by then the agent has put the socket back in its free list (it does
    // so on the next tick after the body ends), so a request made from `done` reuses it.
    const settle = (a: HttpAnswer | null): void => {
      if (over) return;
      over = true;
      unarm();
      queueMicrotask(() => {
        if (!cancelled) done(a);
      });
    };
    const send = (retry: boolean): void => {
      let answered = false;
      let r: ClientRequest;
      try {
        r = start(url, method, body === null ? GET_HEADERS : POST_HEADERS, (res) => {
          answered = true;
          res.on('error', () => settle(null));
          readAll(res, settle);
        });
      } catch {
        // node:http throws on what fetch would reject (a bad host or path): a failed request.
        return settle(null);
      }
      req = r;
      r.on('error', (err) => {
        if (over || r !== req) return;
        if (!answered && retry && staleSocket(r, err)) return send(false);
        settle(null);
      });
      r.end(body ?? undefined);
    };
    send(true);
    return () => {
      over = cancelled = true;
      unarm();
      req?.destroy();
    };
  },

  stream(url, sink) {
    let over = false;
    let req: ClientRequest | undefined;
    const end = (a: HttpAnswer | null): void => {
      if (over) return;
      over = true;
      sink.end(a);
    };
    const send = (retry: boolean): void => {
      let answered = false;
      let r: ClientRequest;
      try {
        r = start(url, 'GET', STREAM_HEADERS, (res) => {
          answered = true;
          res.on('error', () => end(null));
          if (!sink.head(res.statusCode ?? 0, res.headers['content-type'] ?? '')) return readAll(res, end);
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (!over) sink.chunk(c);
          });
          res.on('end', () => end(null));
          res.on('close', () => end(null));
        });
      } catch {
        return void queueMicrotask(() => end(null));
      }
      req = r;
      r.on('error', (err) => {
        if (over || r !== req) return;
        if (!answered && retry && staleSocket(r, err)) return send(false);
        end(null);
      });
      r.end();
    };
    send(true);
    return () => {
      over = true;
      req?.destroy();
    };
  },
};
