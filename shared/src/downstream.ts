/**
 * The client's decoder of what a server sends: frames (JSON, or WebSocket messages), poll bodies,
 * send answers and error bodies. It accepts exactly what json-codec.ts, ws-codec.ts and
 * http-bodies.ts accept from a server (the codec tests run both on the same tables), but a client
 * only asks whether a frame is good, never why not, so where they return a `ProtocolError` this
 * returns undefined: no result objects, error codes or messages to carry into the browser bundle
 * (issue #16). The server keeps the full decoders, whose errors become statuses and close codes.
 */
import { decodeBase64 } from './base64.js';
import { isWireCloseCode, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
import { type Frame, isAck, isSeq, type OpenFrame, utf8Length, wellFormed } from './frames.js';
import { isObject, MAX_DELAY, OPEN_DURATIONS, OPEN_NUMBERS, OPEN_OPTIONAL, OPEN_STRINGS } from './json-codec.js';
import { WS_BINARY_HEADER } from './ws-codec.js';

/** JSON text parsed, or undefined when it is not JSON. */
function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A frame from a parsed JSON value, if it is a valid one within `max` payload bytes. A close frame
 * without a code or reason has them undefined rather than absent.
 */
export function readFrame(v: unknown, max = Infinity): Frame | undefined {
  if (!isObject(v)) return undefined;
  // Own-property reads only: a frame is data, never a prototype chain to walk.
  const t = Object.hasOwn(v, 't') ? v.t : undefined;
  if (t === 'ack') return isAck(v.ack) ? { t, ack: v.ack } : undefined;
  if (t === 'ping' || t === 'pong') return { t };
  if (t === 'open') return readOpen(v);
  const seq = v.seq;
  if (!isSeq(seq)) return undefined;
  if (t === 'd') {
    const { text, bin } = v;
    if (typeof text === 'string' && bin === undefined) {
      // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes, at least 1.
      return text.length > max || (text.length * 3 > max && utf8Length(text) > max) ? undefined : { t, seq, data: wellFormed(text) };
    }
    if (typeof bin !== 'string' || text !== undefined || Math.floor(bin.length / 4) * 3 - 2 > max) return undefined;
    const data = decodeBase64(bin);
    return data && data.byteLength <= max ? { t, seq, data } : undefined;
  }
  if (t !== 'close') return undefined;
  const { code, reason } = v;
  if (code !== undefined && !(typeof code === 'number' && isWireCloseCode(code))) return undefined;
  if (reason !== undefined && (typeof reason !== 'string' || utf8Length(reason) > MAX_CLOSE_REASON_BYTES || (code === undefined && reason !== ''))) {
    return undefined;
  }
  // A lone surrogate becomes U+FFFD, as in text data and in a native WebSocket's close reason.
  return { t, seq, code: code as number | undefined, reason: reason ? wellFormed(reason as string) : undefined };
}

/** The known fields of an `open` frame, copied (nothing else that came along), if all are valid. */
function readOpen(v: Record<string, unknown>): OpenFrame | undefined {
  const f: Record<string, unknown> = { t: 'open', ack: v.ack, resumed: v.resumed };
  if (!isAck(v.ack) || typeof v.resumed !== 'boolean') return undefined;
  for (const k of OPEN_STRINGS) if (typeof (f[k] = v[k]) !== 'string') return undefined;
  for (const k of OPEN_NUMBERS) {
    const n = (f[k] = v[k]);
    // A finite number >= 0 (NaN fails both comparisons).
    if (!(typeof n === 'number' && n >= 0 && n < Infinity)) return undefined;
  }
  // Durations a timer can hold (json-codec.ts OPEN_DURATIONS).
  for (const k of OPEN_DURATIONS) {
    const n = (f[k] = v[k]);
    if (!(typeof n === 'number' && n >= 0 && n <= MAX_DELAY)) return undefined;
  }
  // Optional, and then a finite number >= 1.
  for (const k of OPEN_OPTIONAL) {
    const n = v[k];
    if (n !== undefined && !(typeof n === 'number' && (f[k] = n) >= 1 && n < Infinity)) return undefined;
  }
  return f as unknown as OpenFrame;
}

/** One frame from JSON text (an SSE event, a handshake answer). */
export function readJsonFrame(text: string, max?: number): Frame | undefined {
  return readFrame(parse(text), max);
}

const SEQ_PREFIX = /^([1-9]\d{0,15}):/;

/** One WebSocket message (ws-codec.ts): binary must be a Uint8Array view of the message bytes. */
export function readWsMessage(msg: string | Uint8Array, max = Infinity): Frame | undefined {
  if (typeof msg !== 'string') {
    if (msg.byteLength < WS_BINARY_HEADER) return undefined;
    const seq = new DataView(msg.buffer, msg.byteOffset, WS_BINARY_HEADER).getFloat64(0);
    const data = msg.subarray(WS_BINARY_HEADER);
    return isSeq(seq) && data.byteLength <= max ? { t: 'd', seq, data } : undefined;
  }
  if (msg.charCodeAt(0) === 0x7b /* { */) return readJsonFrame(msg, max);
  // "<seq>:<text>": a decimal seq of at most 16 digits, no sign, no leading zero.
  const m = SEQ_PREFIX.exec(msg);
  const seq = m ? Number(m[1]) : 0;
  if (!isSeq(seq)) return undefined;
  // Bounded as JSON text is: neither a browser's WebSocket nor the client's `ws` bounds a message.
  const text = msg.slice(m![0].length);
  return text.length > max || (text.length * 3 > max && utf8Length(text) > max) ? undefined : { t: 'd', seq, data: text };
}

/** Frames from a parsed JSON list, if it is one and every frame is valid. */
function readFrames(list: unknown, max?: number): Frame[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: Frame[] = [];
  for (const item of list) {
    const f = readFrame(item, max);
    if (!f) return undefined;
    out.push(f);
  }
  return out;
}

/** The frames of a poll body `{"frames":[…]}`, if it and every frame are valid. */
export function readPollBody(text: string, max?: number): Frame[] | undefined {
  const v = parse(text);
  return isObject(v) ? readFrames(v.frames, max) : undefined;
}

/**
 * A send answer `{"ack":12}`, or `{"ack":12,"frames":[…]}` when it carries a polling session's
 * downstream frames (docs/PROTOCOL.md, "Frames on a POST's answer"): its ack and frames (none when
 * absent), if it and every frame are valid.
 */
export function readSendAnswer(text: string, max?: number): { ack: number; frames: Frame[] } | undefined {
  const v = parse(text);
  if (!isObject(v) || !isAck(v.ack)) return undefined;
  const frames = v.frames === undefined ? [] : readFrames(v.frames, max);
  return frames && { ack: v.ack, frames };
}

/**
 * The close code of an error body (`{"error":…,"close":4001}`); 1006 when it names none or none a
 * close frame could carry (70000, 1000.5 and 1015 would reach the app's `onclose` as no WebSocket's).
 */
export function readErrorClose(text: string): number {
  const v = parse(text);
  return isObject(v) && typeof v.error === 'string' && typeof v.close === 'number' && isWireCloseCode(v.close) ? v.close : 1006;
}
