/**
 * The contract between the session engine and a transport. A transport moves frames and knows nothing
 * of sessions beyond the one it resumes; the engine decides what its reports mean.
 */
import type { Frame, OpenFrame } from '@burrow/shared';
import type { TransportName } from '../types.js';
import type { HttpClient } from '../platform/http-client.js';

/**
 * The kinds of {@link DownReason}: numbers rather than words, since each comparison ships in the
 * browser bundle (issue #16).
 */
export const DOWN_FAILED = 0;
export const DOWN_TIMEOUT = 1;
export const DOWN_OVERLOADED = 2;
export const DOWN_RESTART = 3;
export const DOWN_FATAL = 4;

/**
 * Why a transport stopped (or never started). Only `kind` and its own fields steer the engine; there
 * is no free-text detail, since nothing reads one and every string would ship in the browser bundle.
 */
export type DownReason =
  /** It failed or was lost: try the next transport, or resume. */
  | { readonly kind: typeof DOWN_FAILED }
  /** It did not come up in time; `silent`: a WebSocket that opened but sent no `open` frame. */
  | { readonly kind: typeof DOWN_TIMEOUT; readonly silent?: true }
  /** The server is overloaded (1013 / 503): retry no sooner than `retryAfter` ms. */
  | { readonly kind: typeof DOWN_OVERLOADED; readonly retryAfter: number }
  /** The server asked the client to move (1012, or 503 `service_restart` while draining): resume at once elsewhere. */
  | { readonly kind: typeof DOWN_RESTART; readonly retryAfter: number }
  /** The server refused for good: end the socket with `code`. */
  | { readonly kind: typeof DOWN_FATAL; readonly code: number };

/** The commonest reasons, shared: a reason is never mutated. */
export const FAILED: DownReason = { kind: DOWN_FAILED };
export const TIMEOUT: DownReason = { kind: DOWN_TIMEOUT };

/** What a transport reports. Never called synchronously from the transport's constructor. */
export interface TransportHandlers {
  /**
   * Frames can flow both ways. `ack` is the highest client seq the server holds (resend after it);
   * `open` is the open frame when the transport received one (WebSocket).
   */
  onOpen(ack: number, open?: OpenFrame): void;
  /**
   * A frame arrived on the downstream, or (`carried`) on a POST's answer, which proves nothing about
   * the downstream's liveness (the frames of a dead poll would be stranded behind working POSTs).
   */
  onFrame(frame: Frame, carried?: boolean): void;
  /** Something arrived that carried no frame (an empty poll): the downstream is alive. */
  onAlive(): void;
  /**
   * The server confirmed client frames up to `ack` outside the downstream (an HTTP POST answer).
   * Kept apart from `onFrame` because it proves nothing about the downstream's liveness.
   */
  onAcked(ack: number): void;
  /** Upstream frames up to `seq` have left: handed to the socket (WebSocket) or answered (HTTP POST). */
  onWritten(seq: number): void;
  /** The transport is finished; it makes no further calls. */
  onDown(why: DownReason): void;
}

/** One live or starting transport. Knows frames, not sessions. */
export interface Transport {
  readonly name: TransportName;
  /**
   * How long an ack with nothing to ride on may wait on this transport (ms): it costs a frame on
   * WebSocket, a POST on SSE, and nothing on polling (every poll carries the ack: Infinity).
   */
  readonly ackDelay: number;
  /** Sends frames upstream, in order. Ack frames may be folded into the next request on HTTP. */
  send(frames: readonly Frame[]): void;
  /**
   * Stops it for good without reporting `onDown`. `code` (WebSocket only, default 1000) tells the
   * server why, e.g. 4010 for a raced attempt the client abandons.
   */
  close(code?: number): void;
}

/**
 * Payload bytes one upstream POST may carry, learnt from the link, as TCP learns its window. A batch
 * POST cut for taking too long (the server's 408 for a body under its `bodyMinRate`, or no answer
 * within the request timeout) sets it to half that batch; an answered batch that the cap limited (at
 * least half of it) grows it by a quarter. Without it a link too slow for the largest batch in time
 * resent that same batch for ever, every resume cut again, and the session never moved (a batch is at
 * least one frame, so it always moves once one frame fits).
 *
 * One frame cannot be made smaller: a frame cut {@link SINGLE_FRAME_CUTS} times in a row (nothing
 * answered between) ends the socket with 1009, as a WebSocket ends for a message its peer will not
 * take. Before, it was resent on every resume for as long as the session lived, and nothing after it
 * ever moved, with no sign to the app but `reconnecting` events.
 */
export interface UploadCap {
  cap: number;
  /** Cuts of a batch of one data frame since a data batch was last answered. */
  cuts: number;
}

/** Cuts of one frame in a row after which the link is deemed too slow for it (see {@link UploadCap}). */
export const SINGLE_FRAME_CUTS = 3;

/** The session a transport resumes. */
export interface SessionRef {
  readonly sid: string;
  readonly token: string;
}

/** Everything a transport needs from the engine. */
export interface TransportContext {
  /** `ws:`/`wss:` base URL of the mount path (no trailing slash), with the app's own query kept. */
  readonly wsBase: URL;
  /** `http:`/`https:` base URL of the mount path. */
  readonly httpBase: URL;
  readonly protocols: readonly string[];
  readonly session: SessionRef | null;
  /** Current cumulative ack of server frames delivered to the app. */
  ack(): number;
  /**
   * A request (URL or body) carries `ack` to the server: it needs no separate ack. Reported when an
   * HTTP request leaves (if it fails, the transport is down and the next one carries the ack again),
   * and for a WebSocket when its `open` arrives (a failed upgrade probe must not count, since the
   * live transport carries on without it).
   */
  ackCarried(ack: number): void;
  /** Largest payload the server takes (from `open`), for decoding limits and batch sizes. */
  readonly maxPayload: number | undefined;
  /** Timeout for the transport to come up (ms). */
  readonly openTimeout: number;
  /** Timeout for one HTTP request that is not a held poll (ms). */
  readonly requestTimeout: number;
  /** How HTTP requests are made: node:http in Node, fetch in browsers or when the app passes one. */
  readonly http: HttpClient;
  /** The connection's bound on an upstream batch, kept across its transports: see {@link UploadCap}. */
  readonly upload: UploadCap;
  /**
   * Optional query parameters telling the server why this transport starts (metrics / lifecycle
   * events): `fallback` + `from`, `upgrade`, `resume`. Sent on the first downstream request only.
   */
  readonly hints?: Readonly<Record<string, string>> | undefined;
}

/**
 * How long a standalone ack may wait on SSE and WebSocket (ms). Acks only bound what the server holds
 * for us, and the engine acks at once after ACK_EVERY frames or ACK_SIZE of payload, so the delay
 * only decides how many ack frames a trickle costs: at 50 ms a broadcast to 1,000 WebSocket sessions
 * drew an ack frame per message per session, ~11 % of the server's time (bench/README, broadcast).
 */
export const LAZY_ACK_DELAY = 1000;

/**
 * The same on SSE, where an ack alone costs a POST (on WebSocket a frame, on polling nothing: the
 * next poll carries it). ACK_EVERY and ACK_SIZE bound what the server holds whatever the delay, and
 * a quiet client's heartbeat ping carries one anyway; at 1 s a trickle of broadcasts drew a POST per
 * message from every SSE client.
 */
export const SSE_ACK_DELAY = 5000;
