/**
 * Errors the server raises to application code. Each carries a stable string `code` and the close
 * code it maps to, so a caller can branch on it without parsing messages.
 */
import { CloseCode } from '@burrow/shared';

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

/** The store is unreachable: what `session.send()` and friends reject with. */
export function storeUnavailable(cause?: unknown): BurrowError {
  return new BurrowError('store_unavailable', 'session store unavailable, retry later', CloseCode.TryAgainLater, cause === undefined ? undefined : { cause });
}

/** Did a store call fail (as opposed to a bug)? */
export function isStoreFailure(err: unknown): boolean {
  return err instanceof BurrowError && err.code === 'store_unavailable';
}

