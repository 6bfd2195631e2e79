/**
 * WebSocket encoding. Data frames skip JSON entirely so the hot path costs one string concat or one
 * byte copy, and binary stays binary:
 *
 *   text message   "<seq>:<payload>"                  e.g. "12:hello"   (seq in decimal, no sign)
 *   binary message 8-byte big-endian float64 seq, then the payload bytes
 *   text message   starting with "{"                  a JSON control frame (json-codec.ts)
 *
 * A message whose first character is neither a digit nor "{" is a protocol error.
 */
import { type Frame, isSeq, type Payload } from './frames.js';
import { type DecodeOptions, decodeJsonFrame, encodeJsonFrame } from './json-codec.js';
import { malformed, ok, overLimit, type Result } from './result.js';

/** Bytes before the payload in a binary data message. */
export const WS_BINARY_HEADER = 8;

/** Longest decimal seq: MAX_SAFE_INTEGER has 16 digits. */
const MAX_SEQ_DIGITS = 16;

/** A message ready for `WebSocket.send`. */
export type WsMessage = string | Uint8Array;

/** Encodes one data frame for WebSocket. */
export function encodeWsData(seq: number, data: Payload): WsMessage {
  if (typeof data === 'string') return `${seq}:${data}`;
  const out = new Uint8Array(WS_BINARY_HEADER + data.byteLength);
  new DataView(out.buffer).setFloat64(0, seq);
  out.set(data, WS_BINARY_HEADER);
  return out;
}

/** Encodes any frame for WebSocket: data compactly, the rest as JSON text. */
export function encodeWsFrame(frame: Frame): WsMessage {
  return frame.t === 'd' ? encodeWsData(frame.seq, frame.data) : encodeJsonFrame(frame);
}

/** Decodes one WebSocket message. Binary input must be a Uint8Array view of the message bytes. */
export function decodeWsMessage(msg: WsMessage, opts: DecodeOptions): Result<Frame> {
  return typeof msg === 'string' ? decodeText(msg, opts) : decodeBinary(msg, opts);
}

function decodeText(msg: string, opts: DecodeOptions): Result<Frame> {
  if (msg.charCodeAt(0) === 0x7b /* { */) return decodeJsonFrame(msg, opts);
  const colon = msg.indexOf(':');
  if (colon < 1 || colon > MAX_SEQ_DIGITS) return badMessage();
  let seq = 0;
  for (let i = 0; i < colon; i++) {
    const c = msg.charCodeAt(i) - 48;
    if (c < 0 || c > 9 || (i === 0 && c === 0)) return badMessage();
    seq = seq * 10 + c;
  }
  if (!isSeq(seq)) return malformed('bad_seq', 'seq out of range');
  // Payload size is bounded by the transport's own maxPayload before we ever see the message.
  return ok({ t: 'd', seq, data: msg.slice(colon + 1) });
}

function decodeBinary(msg: Uint8Array, opts: DecodeOptions): Result<Frame> {
  if (msg.byteLength < WS_BINARY_HEADER) return badMessage();
  const seq = new DataView(msg.buffer, msg.byteOffset, WS_BINARY_HEADER).getFloat64(0, false);
  if (!isSeq(seq)) return malformed('bad_seq', 'seq out of range');
  const data = msg.subarray(WS_BINARY_HEADER);
  if (opts.maxPayload !== undefined && data.byteLength > opts.maxPayload) {
    return overLimit('payload_too_large', `payload exceeds ${opts.maxPayload} bytes`);
  }
  return ok({ t: 'd', seq, data });
}

function badMessage(): Result<never> {
  return malformed('bad_frame', 'not a Burrow v1 WebSocket message');
}
