/**
 * Errors the server raises to application code. Each carries a stable string `code` and the close
 * code it maps to, so a caller can branch on it without parsing messages.
 */
import { CloseCode, type ProtocolError } from '@burrow/shared';

/** Codes of errors raised by the server API (a superset of the wire error codes it uses). */
export type BurrowErrorCode =
  | 'payload_too_large'
  | 'buffer_overflow'
  | 'session_closed'
  | 'session_unknown'
  | 'store_unavailable'
  | 'internal';

/** An error from the Burrow server API, e.g. a rejected `session.send()`. */
export class BurrowError extends Error {
  /** Stable machine-readable reason. */
  readonly code: BurrowErrorCode;
  /** The close code this error maps to. */
  readonly close: number;

  constructor(code: BurrowErrorCode, message: string, close: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BurrowError';
    this.code = code;
    this.close = close;
  }
}

/**
 * Wire error codes only the server sends (documented in docs/PROTOCOL.md); not yet in shared's
 * `ErrorCode` union, which clients treat as an open string anyway.
 */
export type ServerErrorCode = ProtocolError['code'] | 'store_unavailable' | 'state_lost';

/** A protocol error value (as shared's decoders return) for the server's own HTTP answers. */
export function protocolError(code: ServerErrorCode, message: string, status: number, close: number): ProtocolError {
  return { code: code as ProtocolError['code'], message, status, close };
}

/** Seconds a client should wait before retrying while the store is unreachable. */
export const STORE_RETRY_AFTER = '2';

/** The store is unreachable: what `session.send()` and friends reject with. */
export function storeUnavailable(cause?: unknown): BurrowError {
  return new BurrowError('store_unavailable', 'session store unavailable, retry later', CloseCode.TryAgainLater, cause === undefined ? undefined : { cause });
}

/** Did a store call fail (as opposed to a bug)? */
export function isStoreFailure(err: unknown): boolean {
  return err instanceof BurrowError && err.code === 'store_unavailable';
}

export const Errors = {
  notFound: () => protocolError('not_found', 'no such endpoint', 404, CloseCode.ProtocolError),
  sessionUnknown: () => protocolError('session_unknown', 'unknown or expired session, or wrong token', 404, CloseCode.SessionUnknown),
  badMethod: () => protocolError('bad_method', 'method not allowed', 405, CloseCode.ProtocolError),
  badRequest: (message: string) => protocolError('bad_request', message, 400, CloseCode.ProtocolError),
  badContentType: () =>
    protocolError('bad_content_type', 'POST bodies must be text/plain or application/json', 400, CloseCode.ProtocolError),
  originForbidden: () => protocolError('origin_forbidden', 'origin not allowed', 403, CloseCode.Policy),
  overloaded: () => protocolError('overloaded', 'too many sessions on this node, retry later', 503, CloseCode.TryAgainLater),
  goingAway: () => protocolError('overloaded', 'server shutting down', 503, CloseCode.GoingAway),
  pollReplaced: () => protocolError('poll_replaced', 'replaced by a newer transport', 409, CloseCode.TransportReplaced),
  bodyTooLarge: (max: number) => protocolError('body_too_large', `body exceeds ${max} bytes`, 413, CloseCode.TooBig),
  tokenInQuery: (max: number) =>
    protocolError('body_too_large', `a body over ${max} bytes must carry its session token in the query`, 413, CloseCode.TooBig),
  timeout: () => protocolError('timeout', 'request body too slow', 408, CloseCode.ProtocolError),
  internal: () => protocolError('internal', 'internal server error', 500, CloseCode.Internal),
  storeUnavailable: () => protocolError('store_unavailable', 'session store unavailable, retry later', 503, CloseCode.TryAgainLater),
  stateLost: () => protocolError('state_lost', 'session state lost by the store', 410, CloseCode.StateLost),
  noProtocol: () => protocolError('no_acceptable_protocol', 'none of the offered subprotocols is acceptable', 400, CloseCode.ProtocolError),
} as const;
