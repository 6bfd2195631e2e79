/**
 * The `authenticate` hook: runs once per new session (WebSocket upgrade without `sid`, and
 * `POST` or `GET {path}/sessions`), never on a resume — a resume is proven by the session token. It may
 * reject the handshake or attach a user, which is persisted in the session record so every node sees
 * it as `session.user`.
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode, type ProtocolError } from '@burrow/shared';
import { protocolError, refusal } from '../errors/refusals.js';

/**
 * What `authenticate` returns (or resolves with):
 * - `true`, `undefined`: accepted, no user;
 * - `{ user }`: accepted; `session.user` is `user` (it must survive JSON with a networked store);
 * - `false`: refused, 401 `unauthorized`;
 * - `{ reject: 'unauthorized' | 'forbidden', message? }`: refused with 401 or 403.
 * Every refusal is close code 1008. A hook that throws answers 500 `internal` (WebSocket: close 1011).
 */
export type AuthenticateResult =
  | boolean
  | undefined
  | void
  | { readonly user: unknown }
  | { readonly reject: 'unauthorized' | 'forbidden'; readonly message?: string };

/** Decides whether a new session may be created, from the handshake request (headers, cookies, URL). */
export type Authenticate = (req: IncomingMessage) => AuthenticateResult | Promise<AuthenticateResult>;

export type AuthOutcome = { readonly ok: true; readonly user: unknown } | { readonly ok: false; readonly error: ProtocolError };

/** Longest refusal message passed on (it ends up in a WebSocket close reason, ≤ 123 bytes). */
const MAX_MESSAGE = 80;

export const AuthErrors = {
  unauthorized: (message = 'authentication required') =>
    protocolError('unauthorized', message.slice(0, MAX_MESSAGE), 401, CloseCode.Policy),
  forbidden: (message = 'not allowed') =>
    // 'forbidden' is a server-only wire code (clients treat error codes as open strings).
    protocolError('forbidden' as 'unauthorized', message.slice(0, MAX_MESSAGE), 403, CloseCode.Policy),
} as const;

/** What a hook that has not answered within its timeout is taken to have said. */
const TIMED_OUT = Symbol('timed out');

/**
 * Runs the hook (if any), for at most `timeoutMs` (then 503 `overloaded`). Throws what the hook
 * throws; the caller answers 500 / 1011.
 */
export async function authenticateRequest(hook: Authenticate | undefined, req: IncomingMessage, timeoutMs: number): Promise<AuthOutcome> {
  if (!hook) return { ok: true, user: undefined };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, timeoutMs, TIMED_OUT)));
  let r: AuthenticateResult | typeof TIMED_OUT;
  try {
    // The race keeps a handler on the hook's promise: a rejection after the timeout is no unhandled one.
    r = await Promise.race([hook(req), late]);
  } finally {
    clearTimeout(timer);
  }
  if (r === TIMED_OUT) return { ok: false, error: refusal('authTimeout') };
  if (r === undefined || r === true) return { ok: true, user: undefined };
  if (r === false || r === null) return { ok: false, error: AuthErrors.unauthorized() };
  if (typeof r === 'object') {
    if ('reject' in r) {
      const msg = typeof r.message === 'string' ? r.message : undefined;
      return { ok: false, error: r.reject === 'forbidden' ? AuthErrors.forbidden(msg) : AuthErrors.unauthorized(msg) };
    }
    if ('user' in r) return { ok: true, user: r.user };
  }
  // Anything else is a programming error in the hook: refuse rather than let it in.
  return { ok: false, error: refusal('internal') };
}
