/**
 * Options of `createBurrow` and their defaults. Every limit is a named option so a deployment can
 * tune it; the defaults are what the protocol documentation promises.
 */
import type { IncomingMessage } from 'node:http';
import { ACK_DELAY, DEFAULT_PATH, MAX_DELAY } from '@burrow/shared';
import type { Authenticate } from './http/auth.js';
import type { BufferFullPolicy } from './session/backpressure.js';
import type { StoreOutageBuffer } from './session/outage-hold.js';
import { MemoryStore } from './store/memory-store.js';
import type { Store } from './store/store.js';

/** Bounds that keep one session, one request and one node from using unbounded memory. */
export interface BurrowLimits {
  /** Largest message payload in bytes, either direction. Default 1 MiB. */
  readonly maxPayload: number;
  /** Largest upstream POST body in bytes. Default 8 MiB. */
  readonly maxBatchBytes: number;
  /** Most frames in one upstream POST (413), and in one poll response. Default 4096. */
  readonly maxBatchFrames: number;
  /** Most payload bytes in one poll response (at least one frame is always sent). Default 1 MiB. */
  readonly maxPollBytes: number;
  /** Most unacknowledged outbound frames per session. Default 20000. */
  readonly maxBufferedMessages: number;
  /** Most unacknowledged outbound payload bytes per session. Default 16 MiB. */
  readonly maxBufferedBytes: number;
  /** Most live sessions on this node; new ones beyond it get 503 / close 1013. Default 10000. */
  readonly maxSessions: number;
  /** New sessions per second on this node (token bucket, burst = rate); over it 503 + Retry-After / close 1013. Default 1000. */
  readonly maxHandshakesPerSecond: number;
  /**
   * Node-wide cap on unacknowledged outbound bytes held in this process (all sessions of an
   * in-process store together). An append that would cross it is that session's overflow (4003, or a
   * pause with `onBufferFull: 'pause'`). Stores that keep logs elsewhere (Redis) ignore it. Default 256 MiB.
   */
  readonly maxTotalBufferedBytes: number;
  /**
   * Largest request body read before the request has proven itself: a send POST whose token is in the
   * body rather than the query (the token can only be checked after reading), and the handshake body
   * (read after `authenticate`). Bodies past it get 413. Default 16 KiB.
   */
  readonly maxUnprovenBodyBytes: number;
  /**
   * Most bytes of client frames a WebSocket reads ahead of a networked store: frames read but not yet
   * applied (a store round trip takes a run of them at a time). Past it the socket is not read until
   * they are down to half, so TCP holds the client's sends back (its `bufferedAmount` grows) instead
   * of the node's heap. Each frame counts its payload (text in UTF-16 units, as it is held) plus 64.
   * At least one frame is always read; an in-process store applies every frame as it is read and
   * never gets here. Default 64 KiB.
   */
  readonly maxInboundPendingBytes: number;
  /**
   * Send POSTs of one session this node serves at once, from their proof to their answer (each may
   * hold up to `maxBatchBytes`); more get 503 + Retry-After and the client resumes and resends from
   * its ack. A client keeps one batch in flight, two or three across a transport switch. Default 8.
   */
  readonly maxSendsInFlight: number;
}

/**
 * Picks a subprotocol from those the client offered, like `ws`'s `handleProtocols`. Return the pick,
 * or `false` when none is acceptable (the open then fails as a browser WebSocket's would).
 */
export type HandleProtocols = (protocols: Set<string>, req: IncomingMessage) => string | false;

/** Options of {@link createBurrow}. Everything is optional. */
export interface BurrowOptions {
  /** Mount path of every endpoint. Default `/burrow`. */
  path?: string;
  /** Where session state lives. Default: a new {@link MemoryStore} (single node). */
  store?: Store;
  /**
   * Origins allowed to talk to this server (`https://example.com`, exact scheme, host and port; or a
   * RegExp tested against the `Origin` header). Unset: every origin. A request without `Origin` (a
   * non-browser client, or a same-origin GET) is always allowed.
   */
  allowedOrigins?: readonly (string | RegExp)[];
  /** Subprotocol selection. Default: the first one offered. */
  handleProtocols?: HandleProtocols;
  /**
   * Runs once per new session (WebSocket upgrade without `sid`, `POST` or `GET {path}/sessions`); may be async.
   * Reject (401 / 403, WebSocket close 1008) or attach a user (`session.user`, persisted in the store).
   * Resumes are proven by the session token and not re-authenticated. Default: everyone, no user.
   */
  authenticate?: Authenticate;
  /**
   * How long `authenticate` may take (ms). Past it the handshake is refused with 503 `overloaded`
   * (`Retry-After: 1`; WebSocket: close 1013) and its socket let go: a hook waiting on an auth service
   * that never answers held every handshake's socket for good. Default 10000.
   */
  authenticateTimeout?: number;
  /** What a full outbound buffer does: `'close'` the session with 4003 (default), or `'pause'` reading from it. */
  onBufferFull?: BufferFullPolicy;
  /** Size and count limits; each one defaults separately. */
  limits?: Partial<BurrowLimits>;
  /**
   * How `session.send()` rides out a store outage (a networked store restarting): sends are held on
   * this node, per session and in order, and written once the store answers again. A send rejects
   * with `store_unavailable` (and an `error` event) only when the session's held payload would pass
   * `bytes`, or once the oldest held send waited `ms`. Held sends are in this process only: a node
   * that dies meanwhile loses them (docs/PROTOCOL.md). `bytes: 0` turns the hold off. Default
   * `{ bytes: 1 MiB, ms: 10000 }`.
   */
  storeOutageBuffer?: Partial<StoreOutageBuffer>;
  /** The client pings after this much silence, and an idle SSE stream gets a comment (ms). Must stay under 25 s. Default 20000. */
  heartbeat?: number;
  /** Grace past a missed heartbeat before a transport is declared dead (ms). Default 10000. */
  heartbeatTimeout?: number;
  /** How long a poll is held while there is nothing to send (ms). Must stay under 25 s. Default 20000. */
  pollTimeout?: number;
  /** How long a session survives without a transport (ms). Default 60000. */
  resumeWindow?: number;
  /**
   * Longest a delivered client frame waits for its ack on WebSocket (ms). Default 2000. Acks are lazy:
   * one owed for a quarter of this rides on the session's next outbound write, and one goes at once
   * after 128 frames or 64 Ki of payload. They only bound what the client holds for a resend.
   */
  ackDelay?: number;
  /** How long a closed session's record is kept so the peer can fetch the close echo (ms). Default 5000. */
  closeLinger?: number;
  /**
   * Time to receive a POST body (ms), extended by a second for every `bodyMinRate` bytes received;
   * a slower trickle, or a body that sends nothing for this long, gets 408. Default 10000.
   */
  bodyTimeout?: number;
  /**
   * Bytes per second a POST body must keep up once `bodyTimeout` has passed (as Apache's
   * mod_reqtimeout `MinRate`): a large batch on a slow link is read to its end, a trickle is still
   * cut. What a body sent ahead carries it through a slower stretch, but not one under a quarter of
   * this rate for a whole `bodyTimeout`. Default 4096.
   */
  bodyMinRate?: number;
  /** Directory holding `burrow.esm.js` and `burrow.global.js`. Default: `@burrow/client`'s `dist`. */
  clientBundleDir?: string;
  /**
   * Debug log: one line per lifecycle event (connection, transport, fallback, upgrade, resume, limit,
   * close, drain) and per refused request. `true` writes to stderr, a function gets each line. Default:
   * on when the environment has `BURROW_DEBUG=1`.
   */
  debug?: boolean | ((line: string) => void);
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly path: string;
  readonly store: Store;
  /** True when the store was created here, so `close()` may close it. */
  readonly ownsStore: boolean;
  readonly allowedOrigins: readonly (string | RegExp)[] | undefined;
  readonly handleProtocols: HandleProtocols;
  readonly authenticate: Authenticate | undefined;
  readonly authenticateTimeout: number;
  readonly onBufferFull: BufferFullPolicy;
  readonly limits: BurrowLimits;
  readonly storeOutageBuffer: StoreOutageBuffer;
  readonly heartbeat: number;
  readonly heartbeatTimeout: number;
  readonly pollTimeout: number;
  readonly resumeWindow: number;
  readonly ackDelay: number;
  readonly closeLinger: number;
  readonly bodyTimeout: number;
  readonly bodyMinRate: number;
  readonly clientBundleDir: string | undefined;
}

export const DEFAULT_LIMITS: BurrowLimits = {
  maxPayload: 1024 * 1024,
  maxBatchBytes: 8 * 1024 * 1024,
  maxBatchFrames: 4096,
  maxPollBytes: 1024 * 1024,
  maxBufferedMessages: 20000,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxSessions: 10000,
  maxHandshakesPerSecond: 1000,
  maxTotalBufferedBytes: 256 * 1024 * 1024,
  maxUnprovenBodyBytes: 16 * 1024,
  maxInboundPendingBytes: 64 * 1024,
  maxSendsInFlight: 8,
};

/**
 * A Redis restart that keeps its data takes a second or two; ten seconds covers a failover too, and a
 * MiB per session holds thousands of chat-sized messages without letting one session hog the node.
 */
export const DEFAULT_STORE_OUTAGE_BUFFER: StoreOutageBuffer = { bytes: 1024 * 1024, ms: 10_000 };

/**
 * Common idle cutters fire at 30 s and up (nginx 60 s, Heroku 55 s, many corporate proxies 30 s): a
 * held poll must answer, and an idle stream must carry a heartbeat, before this.
 */
export const MAX_IDLE_INTERVAL = 25000;

const firstProtocol: HandleProtocols = (protocols) => {
  for (const p of protocols) return p;
  return false;
};

/**
 * A positive duration in ms that a timer can hold (shared's MAX_DELAY): past it Node's setTimeout
 * fires after 1 ms, and a browser's at once, so a timeout would become a busy loop on the server and
 * on the clients that read it from the `open` frame.
 */
function duration(name: string, value: number | undefined, fallback: number): number {
  const ms = positive(name, value, fallback);
  if (ms > MAX_DELAY) throw new TypeError(`burrow: option ${name} must be at most ${MAX_DELAY} ms`);
  return ms;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`burrow: option ${name} must be a positive number`);
  }
  return value;
}

/** Applies defaults and rejects values that would break the protocol. */
export function resolveOptions(o: BurrowOptions = {}): ResolvedOptions {
  const path = (o.path ?? DEFAULT_PATH).replace(/\/+$/, '');
  // The root would make every request of the app Burrow's (the handler answers its whole path space).
  if (o.path !== undefined && path === '') throw new TypeError('burrow: option path cannot be "/": mount Burrow under a path of its own, e.g. "/burrow"');
  if (!path.startsWith('/')) throw new TypeError('burrow: option path must start with "/"');
  const l = o.limits ?? {};
  const limits: BurrowLimits = {
    maxPayload: positive('limits.maxPayload', l.maxPayload, DEFAULT_LIMITS.maxPayload),
    maxBatchBytes: positive('limits.maxBatchBytes', l.maxBatchBytes, DEFAULT_LIMITS.maxBatchBytes),
    maxBatchFrames: positive('limits.maxBatchFrames', l.maxBatchFrames, DEFAULT_LIMITS.maxBatchFrames),
    maxPollBytes: positive('limits.maxPollBytes', l.maxPollBytes, DEFAULT_LIMITS.maxPollBytes),
    maxBufferedMessages: positive('limits.maxBufferedMessages', l.maxBufferedMessages, DEFAULT_LIMITS.maxBufferedMessages),
    maxBufferedBytes: positive('limits.maxBufferedBytes', l.maxBufferedBytes, DEFAULT_LIMITS.maxBufferedBytes),
    maxSessions: positive('limits.maxSessions', l.maxSessions, DEFAULT_LIMITS.maxSessions),
    maxHandshakesPerSecond: positive('limits.maxHandshakesPerSecond', l.maxHandshakesPerSecond, DEFAULT_LIMITS.maxHandshakesPerSecond),
    maxTotalBufferedBytes: positive('limits.maxTotalBufferedBytes', l.maxTotalBufferedBytes, DEFAULT_LIMITS.maxTotalBufferedBytes),
    maxUnprovenBodyBytes: positive('limits.maxUnprovenBodyBytes', l.maxUnprovenBodyBytes, DEFAULT_LIMITS.maxUnprovenBodyBytes),
    maxInboundPendingBytes: positive('limits.maxInboundPendingBytes', l.maxInboundPendingBytes, DEFAULT_LIMITS.maxInboundPendingBytes),
    maxSendsInFlight: positive('limits.maxSendsInFlight', l.maxSendsInFlight, DEFAULT_LIMITS.maxSendsInFlight),
  };
  const ob = o.storeOutageBuffer ?? {};
  const obBytes = ob.bytes ?? DEFAULT_STORE_OUTAGE_BUFFER.bytes;
  if (typeof obBytes !== 'number' || !Number.isFinite(obBytes) || obBytes < 0) throw new TypeError('burrow: option storeOutageBuffer.bytes must be a number >= 0');
  const storeOutageBuffer: StoreOutageBuffer = { bytes: obBytes, ms: duration('storeOutageBuffer.ms', ob.ms, DEFAULT_STORE_OUTAGE_BUFFER.ms) };
  if (o.authenticate !== undefined && typeof o.authenticate !== 'function') throw new TypeError('burrow: option authenticate must be a function');
  const onBufferFull = o.onBufferFull ?? 'close';
  if (onBufferFull !== 'close' && onBufferFull !== 'pause') throw new TypeError("burrow: option onBufferFull must be 'close' or 'pause'");
  const pollTimeout = duration('pollTimeout', o.pollTimeout, 20000);
  if (pollTimeout >= MAX_IDLE_INTERVAL) throw new TypeError(`burrow: pollTimeout must be under ${MAX_IDLE_INTERVAL} ms`);
  const heartbeat = duration('heartbeat', o.heartbeat, 20000);
  if (heartbeat >= MAX_IDLE_INTERVAL) throw new TypeError(`burrow: heartbeat must be under ${MAX_IDLE_INTERVAL} ms`);
  // Clients time their requests out after heartbeat + heartbeatTimeout: the sum must fit a timer too.
  const heartbeatTimeout = duration('heartbeatTimeout', o.heartbeatTimeout, 10000);
  if (heartbeat + heartbeatTimeout > MAX_DELAY) throw new TypeError(`burrow: heartbeat + heartbeatTimeout must be at most ${MAX_DELAY} ms`);
  return {
    path,
    store: o.store ?? new MemoryStore(),
    ownsStore: o.store === undefined,
    allowedOrigins: o.allowedOrigins,
    handleProtocols: o.handleProtocols ?? firstProtocol,
    authenticate: o.authenticate,
    authenticateTimeout: duration('authenticateTimeout', o.authenticateTimeout, 10000),
    onBufferFull,
    limits,
    storeOutageBuffer,
    heartbeat,
    heartbeatTimeout,
    pollTimeout,
    resumeWindow: duration('resumeWindow', o.resumeWindow, 60000),
    ackDelay: duration('ackDelay', o.ackDelay, ACK_DELAY),
    closeLinger: duration('closeLinger', o.closeLinger, 5000),
    bodyTimeout: duration('bodyTimeout', o.bodyTimeout, 10000),
    bodyMinRate: positive('bodyMinRate', o.bodyMinRate, 4096),
    clientBundleDir: o.clientBundleDir,
  };
}
