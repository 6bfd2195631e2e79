/**
 * The Burrow server: routing of every endpoint under the mount path, the WebSocket upgrade hook, and
 * the events applications listen to. Handlers are registered here, never per connection, because the
 * next message of a session may arrive on another node.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, SESSION_ID_RE } from '@burrow/shared';
import { isBundleRoute, serveBundle } from './http/bundle.js';
import { isStoreFailure } from './errors/burrow-error.js';
import { refusal } from './errors/refusals.js';
import { handleHandshake, handleSseHandshake } from './transports/handshake.js';
import { destroySocketOnError, hasBody, rejectSocket, sendError, sendJson } from './http/respond.js';
import { type BurrowOptions, resolveOptions, type ResolvedOptions } from './options.js';
import { handlePoll } from './transports/polling.js';
import { handleSend } from './transports/send.js';
import { checkRoom, type SendData } from './session/payload.js';
import { handled } from './session/handle.js';
import { SessionRegistry } from './session/registry.js';
import { handleSse } from './transports/sse.js';
import type { StoreStatus } from './store/store.js';
import { WebSocketTransport } from './transports/websocket.js';
import { drainTransports, refusedWhileDraining, type DrainOptions, type DrainResult } from './ops/drain.js';
import { refusalOf } from './http/respond.js';
import { internals } from './ops/internals.js';
import type { BurrowEvents } from './ops/events.js';
import { Lifecycle, resolveDebug } from './ops/lifecycle.js';
import { createMetrics, type BurrowMetrics, type MetricsOptions } from './ops/metrics.js';
import { answerPreflight, applyCors, isOriginAllowed } from './http/cors.js';
import { addUpgradeRoute, removeUpgradeRoute, type UpgradeRoute } from './http/upgrades.js';

/** What `burrow.health()` and `GET {path}/health` report. */
export interface BurrowHealth {
  /** The node can serve sessions: its store is reachable and it is not shutting down. */
  readonly ok: boolean;
  readonly store: StoreStatus;
  /** Live sessions on this node. */
  readonly sessions: number;
  /** Present (true) while the node is draining (see `burrow.drain()`): balancers should stop routing here. */
  readonly draining?: true;
}

/** Fan-out to a room (see {@link Burrow.to}). */
export interface RoomTarget {
  readonly room: string;
  /**
   * Appends `data` to the outbound log of every member of the room, on whatever node serves each, so
   * each gets it exactly once, in order with its other messages. Resolves with how many sessions it was
   * queued for. A member whose outbound buffer is full is closed with 4003 (the others still get it).
   * Rejects with a {@link BurrowError}: `payload_too_large`, `store_unavailable`.
   */
  send(data: SendData): Promise<{ delivered: number }>;
}

/** `(req, res, next)`: Express-compatible; `next` is called for requests outside the mount path. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => boolean;

type Route = (req: IncomingMessage, res: ServerResponse, rest: string, query: URLSearchParams) => Promise<void> | void;

/** A Burrow server on this node. Create it with {@link createBurrow}. */
export class Burrow extends EventEmitter<BurrowEvents> {
  /** The options in effect, defaults applied. */
  readonly options: ResolvedOptions;
  readonly #registry: SessionRegistry;
  readonly #ws: WebSocketTransport;
  readonly #servers = new Set<Server>();
  #closing: Promise<void> | undefined;
  readonly #lifecycle: Lifecycle;
  #drain: Promise<DrainResult> | undefined;
  #metrics: BurrowMetrics | undefined;

  constructor(options: BurrowOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.#registry = new SessionRegistry(this.options, {
      connection: (s) => {
        this.#lifecycle.connection(s);
        this.emit('connection', s);
      },
      message: (s, d, i) => this.emit('message', s, d, i),
      close: (s, c, r) => {
        this.emit('close', s, c, r);
        this.#lifecycle.closed(s, c, r);
      },
      transport: (s, n) => {
        this.#lifecycle.transport(s, n);
        this.emit('transport', s, n);
      },
      error: (err) => this.#error(err),
    });
    this.#ws = new WebSocketTransport(this.#registry);
    this.#lifecycle = new Lifecycle(this, resolveDebug(options.debug), this.#registry.nodeId);
    this.#registry.lifecycle = this.#lifecycle;
    internals.set(this, { registry: this.#registry, lifecycle: this.#lifecycle });
  }

  /** Live sessions on this node. */
  get sessions(): number {
    return this.#registry.size;
  }

  /**
   * The members of `room` (across nodes). Throws a TypeError for an invalid room name (not a
   * non-empty string of at most 256 characters).
   */
  to(room: string): RoomTarget {
    checkRoom(room);
    const reg = this.#registry;
    return { room, send: (data) => handled(reg.fanout(room, data)) };
  }

  /** Like `to(room).send(data)` for every open session, on every node. */
  broadcast(data: SendData): Promise<{ delivered: number }> {
    return handled(this.#registry.fanout(undefined, data));
  }

  /** This node's health; also served (no token needed) as `GET {path}/health`: 200 when ok, else 503. */
  health(): BurrowHealth {
    const store = this.#registry.storeStatus;
    const draining = this.#registry.draining;
    const ok = store !== 'down' && this.#closing === undefined && !draining;
    return { ok, store, sessions: this.#registry.size, ...(draining ? { draining: true as const } : {}) };
  }

  /**
   * The framework-free `node:http` handler. Returns false (and calls `next`) for paths outside the
   * mount path; answers everything under it.
   */
  readonly handler: RequestHandler = (req, res, next) => this.handle(req, res, next);

  /** See {@link Burrow.handler}. */
  handle(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): boolean {
    const { pathname, query } = splitUrl((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/');
    const rest = this.#relative(pathname);
    if (rest === undefined) {
      next?.();
      return false;
    }
    // A reset mid-request must not become an uncaught 'error': the answer, if any, is just lost.
    req.on('error', destroyOnError);
    res.on('error', destroyOnError);
    if (this.#lifecycle.watching) this.#watch(req, res, pathname);
    // A route answers within the call when it can (a poll or a POST on the in-process store), else
    // returns a promise; a throw and a rejection are answered alike.
    let routed: Promise<void> | void;
    try {
      routed = this.#route(req, res, rest, new URLSearchParams(query));
    } catch (err) {
      this.#failed(res, err);
      return true;
    }
    if (routed) routed.catch((err: unknown) => this.#failed(res, err));
    return true;
  }

  /** A request whose handling threw or rejected. */
  #failed(res: ServerResponse, err: unknown): void {
    this.#error(err);
    // A store call that failed mid-request: the client retries later; the session is intact.
    if (res.headersSent) res.destroy();
    else if (isStoreFailure(err)) sendError(res, refusal('storeUnavailable'));
    else sendError(res, refusal('internal'));
  }

  /** Express middleware (the same handler). */
  middleware(): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
    return (req, res, next) => {
      this.handle(req, res, next);
    };
  }

  /**
   * Serves WebSocket upgrades to `{path}/ws` on `server`. Upgrades elsewhere under the path get 400;
   * upgrades outside it are left to other listeners, or refused with 400 when Burrow is the only one.
   * Several Burrows (different paths) may attach to one server: they share one `upgrade` listener,
   * and an upgrade outside all of their paths gets exactly one answer. An upgrade to another protocol
   * (`Upgrade: h2c`) is not Burrow's: left to other listeners, or else answered by the server's
   * `request` listeners as a plain request, as Node does without an upgrade listener.
   */
  attach(server: Server): this {
    if (this.#servers.has(server)) return this;
    this.#servers.add(server);
    addUpgradeRoute(server, this.#upgrades);
    return this;
  }

  /** This Burrow's part in the upgrades of the servers it is attached to. */
  readonly #upgrades: UpgradeRoute = {
    take: (req, socket, head) => {
      const { pathname, query } = splitUrl(req.url ?? '/');
      const rest = this.#relative(pathname);
      if (rest === undefined) return false;
      // Node hands an upgrade's socket over with no 'error' listener of its own: a reset while the
      // refusal is written would otherwise be an uncaught 'error' that ends the process.
      socket.on('error', destroySocketOnError);
      if (this.#lifecycle.watching) this.#watch(req, socket, pathname);
      if (!this.#originAllowed(req)) rejectSocket(socket, refusal('originForbidden'));
      else if (this.#closing) rejectSocket(socket, refusal('goingAway'));
      else if (rest !== '/ws' || req.method !== 'GET') rejectSocket(socket, refusal('badRequest', 'WebSocket upgrades go to /ws'));
      else {
        this.#ws.handleUpgrade(req, socket, head, new URLSearchParams(query)).catch((err: unknown) => {
          this.#error(err);
          rejectSocket(socket, refusal('internal'));
        });
      }
      return true;
    },
  };

  /** True once `drain()` was called. */
  get draining(): boolean {
    return this.#registry.draining;
  }

  /**
   * Moves this node's clients elsewhere (a rolling deploy): from now on handshakes and downstream
   * requests get 503 `service_restart` + `Retry-After` and WebSocket upgrades close 1012, `GET
   * {path}/health` answers 503; every live transport is told to move (WebSocket closed 1012, held poll
   * answered, SSE ended) and its client resumes on whatever node the balancer picks, nothing lost.
   * Resolves when no live transport is left here, or at the deadline (default 30 s). Call `close()`
   * after it. Needs a shared store (e.g. RedisStore) for the sessions to survive the move.
   */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    if (!this.#drain) {
      this.#registry.draining = true;
      this.#lifecycle.drain(`start sessions=${this.#registry.size}`);
      this.#drain = drainTransports(this.#registry, options).then((r) => {
        this.#lifecycle.drain(`done moved=${r.moved} remaining=${r.remaining}`);
        return r;
      });
    }
    return this.#drain;
  }

  /**
   * Prometheus metrics of this node (needs the optional peer dependency `prom-client`, loaded only
   * now). Returns the same instance on every call; see {@link createMetrics}.
   */
  metrics(options: MetricsOptions = {}): BurrowMetrics {
    this.#metrics ??= createMetrics(this, options);
    return this.#metrics;
  }

  /** A `node:http` / Express handler serving the metrics in the Prometheus text format. */
  metricsHandler(options: MetricsOptions = {}): BurrowMetrics['handler'] {
    return this.metrics(options).handler;
  }

  /** Reports the request's refusal (if it ends with one) to the lifecycle log, metrics and `limit`. */
  #watch(req: IncomingMessage, target: ServerResponse | Duplex, path: string): void {
    const report = (status: number): void => {
      const err = refusalOf.get(target);
      if (!err || status < 400 && status !== 101) return;
      this.#lifecycle.refused({ status, error: err.code, close: err.close, limit: 'limit' in err ? err.limit : undefined, method: req.method ?? 'GET', path });
    };
    if ('writeHead' in target) target.once('finish', () => report(target.statusCode));
    else target.once('close', () => report(refusalOf.get(target)?.status ?? 0));
  }

  /** Ends every transport on this node with 1001 and stops all timers. Sessions live on in the store. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const server of this.#servers) removeUpgradeRoute(server, this.#upgrades);
      this.#servers.clear();
      this.#registry.closeAll(CloseCode.GoingAway, 'server going away');
      await this.#ws.close();
      if (this.options.ownsStore) await this.options.store.close?.();
    })();
    return this.#closing;
  }

  #relative(pathname: string): string | undefined {
    const p = this.options.path;
    if (pathname === p) return '';
    if (pathname.startsWith(p) && pathname.charCodeAt(p.length) === 0x2f /* / */) return pathname.slice(p.length);
    return undefined;
  }

  #originAllowed(req: IncomingMessage): boolean {
    return isOriginAllowed(this.options.allowedOrigins, req.headers.origin);
  }

  #route(req: IncomingMessage, res: ServerResponse, rest: string, query: URLSearchParams): Promise<void> | void {
    // CORS: a preflight is answered here (204 / 403); every other answer carries Vary / Allow-Origin.
    if (req.method === 'OPTIONS') return answerPreflight(this.options.allowedOrigins, req, res);
    applyCors(this.options.allowedOrigins, req, res);
    if (!this.#originAllowed(req)) return sendError(res, refusal('originForbidden'));
    // An upgrade after close() reaches here (the upgrade listener is gone): the documented 503, not a 400.
    if (this.#closing && req.headers.upgrade !== undefined) return sendError(res, refusal('goingAway'), { Connection: 'close' });
    if (req.headers.upgrade !== undefined) {
      return sendError(res, refusal('badRequest', 'no upgrade on this route'), { Connection: 'close' });
    }
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && hasBody(req)) {
      return sendError(res, refusal('badRequest', 'a GET has no body'), { Connection: 'close' });
    }
    if (rest === '/health') {
      if (method !== 'GET' && method !== 'HEAD') return sendError(res, refusal('badMethod'), { Allow: 'GET, HEAD' });
      const h = this.health();
      return sendJson(res, h.ok ? 200 : 503, JSON.stringify(h));
    }
    const route = this.#match(rest);
    if (!route) return sendError(res, refusal('notFound'));
    if (!route.methods.includes(method)) return sendError(res, refusal('badMethod'), { Allow: route.methods.join(', ') });
    if (this.#closing) return sendError(res, refusal('goingAway'));
    if (this.#registry.draining && refusedWhileDraining(rest)) return sendError(res, refusal('serviceRestart'));
    // Every route but the bundle needs the store; fail fast rather than wait on a dead one.
    if (route.store && this.#registry.storeDown) return sendError(res, refusal('storeUnavailable'));
    return route.run(req, res, rest, query);
  }

  #match(rest: string): { methods: readonly string[]; run: Route; store?: boolean } | undefined {
    const reg = this.#registry;
    if (rest === '/ws') {
      return {
        methods: ['GET'],
        run: (_req, res) => sendError(res, { ...refusal('badRequest', 'WebSocket upgrade required'), status: 426 }, { Upgrade: 'websocket', Connection: 'Upgrade' }),
      };
    }
    if (rest === '/sessions') {
      return {
        methods: ['POST', 'GET'],
        store: true,
        run: (req, res, _rest, query) => (req.method === 'GET' ? handleSseHandshake(reg, req, res, query) : handleHandshake(reg, req, res, query)),
      };
    }
    if (isBundleRoute(rest)) {
      return { methods: ['GET', 'HEAD'], run: (req, res) => serveBundle(this.options.clientBundleDir, rest, req, res) };
    }
    const parts = rest.split('/');
    if (parts.length !== 4 || parts[1] !== 'sessions') return undefined;
    return this.#sessionRoutes.get(parts[3]!);
  }

  /** `/sessions/:sid/{send,sse,poll}`: one route object each, made once (a poll is a request per message). */
  readonly #sessionRoutes = new Map(
    [...SESSION_ROUTES].map(([name, handler]) => [
      name,
      {
        methods: name === 'send' ? ['POST'] : ['GET'],
        store: true,
        run: (req: IncomingMessage, res: ServerResponse, rest: string, query: URLSearchParams): Promise<void> | void => {
          const sid = rest.slice('/sessions/'.length, rest.length - name.length - 1);
          // Checked before any store lookup: `__proto__`, `../x` or 10 KB of junk never reach it.
          if (!SESSION_ID_RE.test(sid)) return sendError(res, refusal('sessionUnknown'));
          // Held here when the store lost its state: say so (410, close 4006) rather than 404.
          if (this.#registry.isLost(sid)) return sendError(res, refusal('stateLost'));
          return handler(this.#registry, req, res, sid, query);
        },
      },
    ]),
  );

  #error(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', e);
    else process.emitWarning(`burrow: ${e.stack ?? e.message}`);
  }
}

function destroyOnError(this: IncomingMessage | ServerResponse): void {
  this.destroy();
}

/** Per-session endpoints. A Map, so a path segment like `__proto__` is just a miss. */
const SESSION_ROUTES = new Map([
  ['sse', handleSse],
  ['poll', handlePoll],
  ['send', handleSend],
]);

function splitUrl(url: string): { pathname: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { pathname: url, query: '' } : { pathname: url.slice(0, q), query: url.slice(q + 1) };
}

/** Creates a Burrow server. Mount it with `middleware()` / `handler` and `attach(httpServer)`. */
export function createBurrow(options: BurrowOptions = {}): Burrow {
  return new Burrow(options);
}
