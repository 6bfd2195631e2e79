/**
 * Close codes. RFC 6455 codes where one fits; Burrow's own live in 4000-4099. An app sees these in
 * `CloseEvent.code` on the client and in the server's `close` event.
 */
export const CloseCode = {
  /** Normal closure by either side. */
  Normal: 1000,
  /** The server is shutting down or the page is leaving. */
  GoingAway: 1001,
  /** The peer broke the protocol (malformed frame, bad seq). */
  ProtocolError: 1002,
  /** A data type the endpoint cannot accept. */
  Unsupported: 1003,
  /** Reported locally when the close frame carried no code. Never sent. */
  NoStatus: 1005,
  /** Reported locally when the session was lost without a close frame. Never sent. */
  Abnormal: 1006,
  /** Text that is not valid UTF-8. */
  InvalidPayload: 1007,
  /** Refused by policy: origin or authentication. */
  Policy: 1008,
  /** A message over `maxPayload`. */
  TooBig: 1009,
  /** The server hit an unexpected condition. */
  Internal: 1011,
  /** Service restart: the node is draining. Resume at once on another node; not a session end. */
  ServiceRestart: 1012,
  /** The server is overloaded (sessions per node); try again later. */
  TryAgainLater: 1013,
  /** The session id is unknown, expired, or the token does not match (deliberately indistinguishable). */
  SessionUnknown: 4001,
  /** The session's resume window elapsed with no transport attached. */
  SessionExpired: 4002,
  /** The session's outbound buffer reached its limit (the peer stopped reading). */
  BufferOverflow: 4003,
  /** Transport-level only: this transport was replaced by a newer one of the same session. */
  TransportReplaced: 4004,
  /** The client speaks a protocol version the server does not. */
  UnsupportedVersion: 4005,
  /** The store lost the session's state (e.g. Redis restarted empty): it cannot resume without a gap. */
  StateLost: 4006,
  /**
   * Client → server only, on a raced attempt's session that the client never claimed: it lost the
   * race (see docs/PROTOCOL.md "Racing transports"). The server discards it with no events.
   */
  Abandoned: 4010,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** Codes an application may pass to `close()`, as in the W3C WebSocket API. */
export function isAppCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

/** Codes that may appear in a close frame on the wire (1005, 1006 and 1015 never do). */
export function isWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** Longest close reason, in UTF-8 bytes, as in RFC 6455 (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;
