import type { CloseCode } from './close-codes.js';

/** A value or a protocol error; decoders return this instead of throwing. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };

/**
 * Why a frame or request was refused. `code` is a stable machine-readable string; `close` is the
 * WebSocket close code it maps to and `status` the HTTP status, so every transport reports it the same.
 */
export interface ProtocolError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly close: number;
  readonly status: number;
}

/** Every error code the protocol defines, as carried in `{"error": …}` bodies. Documented in docs/PROTOCOL.md. */
export const ERROR_CODES = [
  'bad_json',
  'bad_frame',
  'unknown_frame_type',
  'bad_seq',
  'payload_too_large',
  'body_too_large',
  'bad_content_type',
  'bad_request',
  'bad_method',
  'not_found',
  'session_unknown',
  'poll_replaced',
  'buffer_overflow',
  'no_acceptable_protocol',
  'unsupported_version',
  'origin_forbidden',
  'unauthorized',
  'forbidden',
  'overloaded',
  'service_restart',
  'store_unavailable',
  'state_lost',
  'timeout',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(code: ErrorCode, message: string, close: number, status: number): Result<T> {
  return { ok: false, error: { code, message, close, status } };
}

/**
 * The codes the decoders fail with, as literals typed by the CloseCode member they stand for: a
 * minifier inlines a constant, never an object's member, and the client bundle counts bytes.
 */
const PROTOCOL_ERROR: typeof CloseCode.ProtocolError = 1002;
const TOO_BIG: typeof CloseCode.TooBig = 1009;

/** Malformed input: close code 1002, HTTP 400. */
export function malformed<T>(code: ErrorCode, message: string): Result<T> {
  return fail(code, message, PROTOCOL_ERROR, 400);
}

/** Input over a limit: close code 1009, HTTP 413. */
export function overLimit<T>(code: ErrorCode, message: string): Result<T> {
  return fail(code, message, TOO_BIG, 413);
}
