/**
 * Every way the server refuses a request, in one table: wire error code, HTTP status, close code,
 * message, and how long the client should wait (`Retry-After`). Two small functions render an entry:
 * {@link httpRefusal} for an HTTP answer, {@link wsRefusal} for a WebSocket accepted only to be closed.
 * A refusal's numbers live here and nowhere else, so the HTTP and WebSocket answers cannot drift apart.
 */
import { CloseCode, type ProtocolError } from '@burrow/shared';

/**
 * Wire error codes only the server sends (documented in docs/PROTOCOL.md); not yet in shared's
 * `ErrorCode` union, which clients treat as an open string anyway.
 */
export type ServerErrorCode = ProtocolError['code'] | 'store_unavailable' | 'state_lost' | 'service_restart';

/** A refusal: a protocol error plus what the table says about retrying and WebSocket closes. */
export interface Refusal extends ProtocolError {
  /** Seconds the client should wait before retrying (HTTP `Retry-After`). */
  readonly retryAfter?: number;
  /** Close reason when a WebSocket is refused; default `"<code>: <message>"`. */
  readonly wsReason?: string;
  /** The option whose bound this refusal enforces (the `limit` event and `burrow_limits_total`). */
  readonly limit?: string;
}

interface Entry {
  readonly code: ServerErrorCode;
  readonly status: number;
  readonly close: number;
  readonly message: string;
  readonly retryAfter?: number;
  readonly wsReason?: string;
  readonly limit?: string;
}

const P = CloseCode.ProtocolError;

/** The refusal table. Messages with a `{}` take a detail (see {@link refusal}). */
export const REFUSALS = {
  notFound: { code: 'not_found', status: 404, close: P, message: 'no such endpoint' },
  bundleMissing: { code: 'not_found', status: 404, close: P, message: 'client bundle not built' },
  sessionUnknown: {
    code: 'session_unknown',
    status: 404,
    close: CloseCode.SessionUnknown,
    message: 'unknown or expired session, or wrong token',
    wsReason: 'session_unknown',
  },
  /** Found closed or expired mid-batch (the token was proven). */
  sessionExpired: { code: 'session_unknown', status: 404, close: CloseCode.SessionUnknown, message: 'unknown or expired session' },
  badMethod: { code: 'bad_method', status: 405, close: P, message: 'method not allowed' },
  badRequest: { code: 'bad_request', status: 400, close: P, message: '{}' },
  badAck: { code: 'bad_request', status: 400, close: P, message: 'ack must be an integer >= 0', wsReason: 'bad_seq: ack must be an integer >= 0' },
  badContentType: { code: 'bad_content_type', status: 400, close: P, message: 'POST bodies must be text/plain or application/json' },
  noProtocol: { code: 'no_acceptable_protocol', status: 400, close: P, message: 'none of the offered subprotocols is acceptable' },
  originForbidden: { code: 'origin_forbidden', status: 403, close: CloseCode.Policy, message: 'origin not allowed' },
  pollReplaced: { code: 'poll_replaced', status: 409, close: CloseCode.TransportReplaced, message: 'replaced by a newer transport' },
  timeout: { code: 'timeout', status: 408, close: P, message: 'request body too slow' },
  bodyTooLarge: { code: 'body_too_large', status: 413, close: CloseCode.TooBig, message: 'body exceeds {} bytes', limit: 'maxBatchBytes' },
  /** A handshake body over `maxUnprovenBodyBytes` (no session proves it yet). */
  unprovenBodyTooLarge: { code: 'body_too_large', status: 413, close: CloseCode.TooBig, message: 'body exceeds {} bytes', limit: 'maxUnprovenBodyBytes' },
  tokenInQuery: {
    code: 'body_too_large',
    status: 413,
    close: CloseCode.TooBig,
    message: 'a body over {} bytes must carry its session token in the query',
    limit: 'maxUnprovenBodyBytes',
  },
  stateLost: { code: 'state_lost', status: 410, close: CloseCode.StateLost, message: 'session state lost by the store', wsReason: 'state_lost: session state lost' },
  internal: { code: 'internal', status: 500, close: CloseCode.Internal, message: 'internal server error', wsReason: 'internal error' },
  /** `maxSessions` reached. */
  overloaded: {
    code: 'overloaded',
    status: 503,
    close: CloseCode.TryAgainLater,
    message: 'too many sessions on this node, retry later',
    retryAfter: 5,
    wsReason: 'too many sessions',
    limit: 'maxSessions',
  },
  /** `maxHandshakesPerSecond` spent: the client adds its jittered backoff on top. */
  handshakeRate: {
    code: 'overloaded',
    status: 503,
    close: CloseCode.TryAgainLater,
    message: 'too many sessions on this node, retry later',
    retryAfter: 1,
    wsReason: 'overloaded: too many handshakes, retry later',
    limit: 'maxHandshakesPerSecond',
  },
  /** `authenticateTimeout`: the hook did not answer in time (an auth service down or slow). */
  authTimeout: {
    code: 'overloaded',
    status: 503,
    close: CloseCode.TryAgainLater,
    message: 'authenticate did not answer in time, retry later',
    retryAfter: 1,
    wsReason: 'overloaded: authentication timed out',
    limit: 'authenticateTimeout',
  },
  /** `onBufferFull: 'pause'`: a send POST carrying data while the session's outbound buffer is full. */
  paused: { code: 'overloaded', status: 503, close: CloseCode.TryAgainLater, message: 'outbound buffer full: retry later', retryAfter: 1, limit: 'maxBuffered' },
  /** `maxSendsInFlight`: the session's POSTs this node serves at once; the client resumes and resends from its ack. */
  sendsInFlight: { code: 'overloaded', status: 503, close: CloseCode.TryAgainLater, message: 'too many send POSTs of this session at once: retry later', retryAfter: 1, limit: 'maxSendsInFlight' },
  /** `close()` was called: no new work. */
  goingAway: { code: 'overloaded', status: 503, close: CloseCode.GoingAway, message: 'server shutting down' },
  storeUnavailable: {
    code: 'store_unavailable',
    status: 503,
    close: CloseCode.TryAgainLater,
    message: 'session store unavailable, retry later',
    // The least a Retry-After can say: a store restart is over in about a second, and a longer wait
    // is what made recovery after one take 2 s; the client's jittered backoff spreads the retries.
    retryAfter: 1,
    wsReason: 'store_unavailable: retry later',
  },
  /**
   * `drain()`: RFC 6455 / IANA 1012 "Service Restart": resume now, on whatever node, not a session end.
   * The client resumes at once a few times before it honours Retry-After.
   */
  serviceRestart: {
    code: 'service_restart',
    status: 503,
    close: CloseCode.ServiceRestart,
    message: 'this node is draining: reconnect, another node serves the session',
    retryAfter: 1,
    wsReason: 'service restart: reconnect',
  },
} as const satisfies Record<string, Entry>;

export type RefusalName = keyof typeof REFUSALS;

/** The refusal `name`; `detail` fills the `{}` of its message. */
export function refusal(name: RefusalName, detail?: string | number): Refusal {
  const e: Entry = REFUSALS[name];
  const message = detail === undefined ? e.message : e.message.replace('{}', String(detail));
  return { ...e, code: e.code as ProtocolError['code'], message };
}

/** A protocol error value (as shared's decoders return) for errors outside the table (per-frame checks). */
export function protocolError(code: ServerErrorCode, message: string, status: number, close: number): ProtocolError {
  return { code: code as ProtocolError['code'], message, status, close };
}

/** Renders a refusal (or any protocol error) as an HTTP answer: status, headers, body fields. */
export function httpRefusal(err: ProtocolError | Refusal): { status: number; headers: Record<string, string> } {
  const retry = 'retryAfter' in err ? err.retryAfter : undefined;
  return { status: err.status, headers: retry === undefined ? {} : { 'Retry-After': String(retry) } };
}

/** Renders a refusal as the close of a WebSocket that was accepted only to be closed. */
export function wsRefusal(err: ProtocolError | Refusal): { code: number; reason: string } {
  const reason = 'wsReason' in err && err.wsReason !== undefined ? err.wsReason : `${err.code}: ${err.message}`;
  return { code: err.close, reason };
}

/** The error code of a WebSocket that is accepted only to be closed (`"state_lost: …"` → `state_lost`). */
export function wsRefusalError(code: number, reason: string): string {
  const colon = reason.indexOf(':');
  if (colon > 0) return reason.slice(0, colon);
  if (code === CloseCode.ServiceRestart) return 'service_restart';
  return reason;
}
