/**
 * What the attempts decide from an answer, kept apart from the attempts' own state: whether an
 * `open` frame can carry the session, what a fallback tells the server, and the abandon of a raced
 * session that lost.
 */
import { encodeSendRequest, type OpenFrame, PROTOCOL_VERSION } from '@burrow/shared';
import { ABNORMAL, SESSION_UNKNOWN } from '../close-codes.js';
import { sessionUrl } from '../transports/http.js';
import { DOWN_FATAL, DOWN_TIMEOUT, type DownReason, type SessionRef, type TransportContext } from '../transports/transport.js';
import type { TransportName } from '../types.js';

/**
 * Why `open` (of an attempt or a handshake) cannot carry the session, if it cannot: `session` is the
 * one being resumed (null for a first connection), `protocols` those the app offered.
 */
export function refusalOf(open: OpenFrame, session: SessionRef | null, protocols: readonly string[]): DownReason | undefined {
  if (open.v !== PROTOCOL_VERSION) return { kind: DOWN_FATAL, code: ABNORMAL };
  if (session) {
    // Asked to resume and got something else: the server no longer knows the session.
    if (open.sid !== session.sid || !open.resumed) return { kind: DOWN_FATAL, code: SESSION_UNKNOWN };
  } else if (open.protocol !== '' && !protocols.includes(open.protocol)) {
    return { kind: DOWN_FATAL, code: ABNORMAL };
  }
  return undefined;
}

/** The reason a fallback reports to the server (`fallback=` on the next transport's first request). */
export function fallbackReason(from: TransportName, why: DownReason): string {
  if (why.kind !== DOWN_TIMEOUT) return 'refused';
  if (from === 'sse') return 'buffered';
  return why.silent ? 'silent' : 'timeout';
}

/** Tells the server to discard the unclaimed session of a raced attempt that lost (best effort). */
export function abandon(ctx: TransportContext, open: OpenFrame): void {
  const url = sessionUrl(ctx, open, 'send', { abandon: 1 });
  // If it never arrives, the server drops the session silently when its claim window ends.
  ctx.http.request('POST', url, encodeSendRequest({ frames: [] }), ctx.requestTimeout, () => {});
}
