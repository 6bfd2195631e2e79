/**
 * Burrow wire protocol v1: the frames both sides exchange, independent of how they are encoded.
 *
 * Sequenced frames (`data` and `close`) carry a per-direction sequence number starting at 1. They are
 * kept by the sender until the peer acknowledges them, and a receiver drops any seq it already
 * delivered; that is what makes a transport switch a plain resume. `close` is sequenced too so that it
 * always arrives after every message sent before it.
 */
import { BROWSER_BUNDLE } from './target.js';

/** Protocol version spoken by this codec. */
export const PROTOCOL_VERSION = 1;

/** The largest sequence number; seqs are JavaScript-safe integers so they survive JSON. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * Ack cadence (docs/PROTOCOL.md), the same on both sides. A receiver acks at once when this many
 * delivered frames are unacknowledged, so a steady stream does not fill the sender's buffer...
 */
export const ACK_EVERY = 128;

/**
 * ...or when this much payload was delivered since the last ack (UTF-16 units of text, bytes of
 * binary: a cheap measure, within 3x of the UTF-8 bytes a buffer counts)...
 */
export const ACK_SIZE = 64 * 1024;

/**
 * ...and otherwise lazily, at most this long after delivering something (ms): an ack only has to
 * bound what the sender holds, which ACK_EVERY and ACK_SIZE do whatever the delay. On WebSocket the
 * server's ack rides on its own writes once owed for a quarter of this (see `InboundQueue.rideAck`);
 * at 50 ms a session that echoed a message every 100 ms paid an ack frame and a write of its own per
 * message. The server's `ackDelay` option defaults to it; the Burrow client's own delay is
 * `LAZY_ACK_DELAY` (about 1 s, at most 2 s), and `SSE_ACK_DELAY` on SSE (about 5 s, at most 10 s: an ack
 * alone is a POST there).
 */
export const ACK_DELAY = 2000;

/** A message payload: text, or bytes. Binary stays binary on WebSocket and is base64 elsewhere. */
export type Payload = string | Uint8Array;

/** First frame of every session and of every resume: who the session is and the terms it runs on. */
export interface OpenFrame {
  readonly t: 'open';
  /** Protocol version the server speaks. */
  readonly v: number;
  /** Session id; public, appears in URLs. */
  readonly sid: string;
  /** Session token; a secret that proves every later request. */
  readonly token: string;
  /** Highest client seq the server holds: the client resends everything above it. */
  readonly ack: number;
  /** True when this `open` continues an existing session rather than starting one. */
  readonly resumed: boolean;
  /** The subprotocol the server picked, or '' for none. */
  readonly protocol: string;
  /** How often the client must show life (ms); the server answers each ping with a pong. */
  readonly heartbeat: number;
  /** How long either side waits past a missed heartbeat before it declares the transport dead (ms). */
  readonly heartbeatTimeout: number;
  /** Largest payload the server accepts in one message (bytes). */
  readonly maxPayload: number;
  /** How long the server keeps a session without any transport before it expires (ms). */
  readonly resumeWindow: number;
  /**
   * Optional: ack at least every this many delivered frames (absent: {@link ACK_EVERY}). Sent by a
   * server whose outbound buffer limit is smaller than the default cadence keeps: acking at 128 frames
   * would let a client that keeps up overflow it (4003).
   */
  readonly ackEvery?: number;
  /** Optional: ack at least every this much delivered payload, as {@link ACK_SIZE} counts it (absent: ACK_SIZE). */
  readonly ackBytes?: number;
}

/** One application message. */
export interface DataFrame {
  readonly t: 'd';
  readonly seq: number;
  readonly data: Payload;
}

/** Ends the session. Sequenced so it arrives after every message sent before it. */
export interface CloseFrame {
  readonly t: 'close';
  readonly seq: number;
  /** Absent (or undefined) when the closer gave no code; the peer then reports 1005. */
  readonly code?: number | undefined;
  /** Absent, undefined or '' for none: it is left off the wire then. */
  readonly reason?: string | undefined;
}

/** Cumulative acknowledgement: every seq up to and including `ack` was received. */
export interface AckFrame {
  readonly t: 'ack';
  readonly ack: number;
}

/** Heartbeat request; the receiver answers with a pong on its downstream. */
export interface PingFrame {
  readonly t: 'ping';
}

/** Heartbeat answer. */
export interface PongFrame {
  readonly t: 'pong';
}

/** Frames that take a sequence number and are kept until acknowledged. */
export type SequencedFrame = DataFrame | CloseFrame;

/** Every frame of protocol v1. */
export type Frame = OpenFrame | DataFrame | CloseFrame | AckFrame | PingFrame | PongFrame;

/** Frame type tags, for exhaustive switches. */
export type FrameType = Frame['t'];

/** Is `n` usable as a sequence number (1..MAX_SEQ)? */
export function isSeq(n: unknown): n is number {
  return isAck(n) && n > 0;
}

/** Is `n` usable as a cumulative ack (0..MAX_SEQ)? */
export function isAck(n: unknown): n is number {
  // A safe integer is at most MAX_SEQ (Number.MAX_SAFE_INTEGER) in magnitude.
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** Size of a payload in bytes as the limits count it (UTF-8 for text). */
export function payloadSize(data: Payload): number {
  return typeof data === 'string' ? utf8Length(data) : data.byteLength;
}

/** One encoder for every call: constructing one costs more than encoding a short string. */
const utf8 = new TextEncoder();

/**
 * UTF-8 byte length of a string. Lone surrogates count as U+FFFD (3 bytes). Node counts without
 * encoding; the browser bundle lets the platform's encoder count (it writes lone surrogates as U+FFFD
 * too): fewer bytes to ship, ~0.3 µs more on a short string, less on a long one.
 */
export function utf8Length(s: string): number {
  if (BROWSER_BUNDLE) return utf8.encode(s).length;
  // One byte per UTF-16 unit, plus what the unit needs beyond it.
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
      continue;
    }
    n += 2;
    // A surrogate pair is 4 bytes for its 2 units: its low half adds nothing more.
    if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return n;
}

/**
 * `s` with every lone surrogate replaced by U+FFFD, as a WebSocket's UTF-8 encoding does. JSON can
 * carry a lone surrogate (`"\ud800"`) where UTF-8 cannot, so text decoded from JSON goes through this
 * to arrive the same on every transport. Where the platform lacks `isWellFormed` (Chrome < 111,
 * Safari < 16.4), a UTF-8 round trip does the same replacement (the WHATWG encoder's), as the
 * codec tests check against the cases above. The browser bundle takes that way everywhere: it
 * carries it for the older browsers anyway, and the regular expression is a linear scan as
 * `isWellFormed` is (issue #16).
 */
export function wellFormed(s: string): string {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  if (!BROWSER_BUNDLE && native) return native.call(s) ? s : (s as unknown as { toWellFormed(): string }).toWellFormed();
  // Only text with a surrogate in it pays for the round trip (an emoji does; plain text does not).
  return /[\uD800-\uDFFF]/.test(s) ? new TextDecoder().decode(utf8.encode(s)) : s;
}
