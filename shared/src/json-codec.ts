/**
 * JSON encoding of frames, used by the HTTP transports (SSE events, poll batches, POST batches) and for
 * the rare control frames on WebSocket. Decoding validates shape and ranges and never throws: bad input
 * becomes a `ProtocolError` that the transport maps to a status or close code.
 *
 * Wire shapes:
 *   {"t":"open","v":1,"sid":"…","token":"…","ack":0,"resumed":false,"protocol":"",…limits}
 *   {"t":"d","seq":1,"text":"hi"}            {"t":"d","seq":2,"bin":"AAEC"}   (binary as base64)
 *   {"t":"close","seq":3,"code":1000,"reason":"bye"}   (code and reason optional)
 *   {"t":"ack","ack":2}   {"t":"ping"}   {"t":"pong"}
 */
import { decodeBase64, encodeBase64 } from './base64.js';
import { isWireCloseCode, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
import { type Frame, isAck, isSeq, type OpenFrame, utf8Length, wellFormed } from './frames.js';
import { malformed, ok, overLimit, type Result } from './result.js';
import { BROWSER_BUNDLE } from './target.js';

/** Who sent the frame being decoded; some frames only flow one way. */
export type Sender = 'client' | 'server';

export interface DecodeOptions {
  /** Which side sent the frame; `open` is only valid from the server. */
  readonly from: Sender;
  /** Largest payload accepted, in bytes. Default: no limit beyond the body size. */
  readonly maxPayload?: number | undefined;
}

type Json = Record<string, unknown>;

/** The JSON-ready object for a frame (for JSON.stringify: a field may be undefined, which it leaves out). */
export function frameToJson(frame: Frame): Json {
  switch (frame.t) {
    case 'd':
      return typeof frame.data === 'string'
        ? { t: 'd', seq: frame.seq, text: frame.data }
        : { t: 'd', seq: frame.seq, bin: encodeBase64(frame.data) };
    case 'close':
      // JSON leaves out the undefined: no code, and no reason when it is ''.
      return { t: 'close', seq: frame.seq, code: frame.code, reason: frame.reason || undefined };
    default:
      return frame as unknown as Json;
  }
}

/** One frame as JSON text. */
export function encodeJsonFrame(frame: Frame): string {
  // Text data is nearly every frame an SSE stream or a poll carries: spelled out, it costs one string
  // escape and no object (the same bytes as the generic path, key order included). A server's
  // throughput needs it; the browser client's few upstream frames do not.
  if (!BROWSER_BUNDLE && frame.t === 'd' && typeof frame.data === 'string') return `{"t":"d","seq":${frame.seq},"text":${JSON.stringify(frame.data)}}`;
  return JSON.stringify(frameToJson(frame));
}

/** Parses JSON text without letting an exception escape. */
export function parseJson(text: string): Result<unknown> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    return malformed('bad_json', 'body is not valid JSON');
  }
}

/** One frame from JSON text. */
export function decodeJsonFrame(text: string, opts: DecodeOptions): Result<Frame> {
  const parsed = parseJson(text);
  return parsed.ok ? frameFromJson(parsed.value, opts) : parsed;
}

function badFrame(message: string): Result<never> {
  return malformed('bad_frame', message);
}

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Pings and pongs carry nothing: one shared result each, so a batch of thousands allocates none.
 * Marked pure so that a bundle without the full decoder (the client's) drops them.
 */
const PING: Result<Frame> = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ ok(/* @__PURE__ */ Object.freeze({ t: 'ping' as const })));
const PONG: Result<Frame> = /* @__PURE__ */ Object.freeze(/* @__PURE__ */ ok(/* @__PURE__ */ Object.freeze({ t: 'pong' as const })));

/** A frame from an already-parsed JSON value, validated. */
export function frameFromJson(v: unknown, opts: DecodeOptions): Result<Frame> {
  if (!isObject(v)) return badFrame('frame is not an object');
  // Own-property reads only: a frame is data, never a prototype chain to walk.
  const t = Object.hasOwn(v, 't') ? v.t : undefined;
  switch (t) {
    case 'd':
      return dataFromJson(v, opts);
    case 'close':
      return closeFromJson(v);
    case 'ack':
      return isAck(v.ack) ? ok({ t: 'ack', ack: v.ack }) : malformed('bad_seq', 'ack must be an integer >= 0');
    case 'ping':
      return PING;
    case 'pong':
      return PONG;
    case 'open':
      return opts.from === 'server' ? openFromJson(v) : badFrame('open is only sent by the server');
    default:
      return malformed('unknown_frame_type', 'unknown frame type');
  }
}

function dataFromJson(v: Json, opts: DecodeOptions): Result<Frame> {
  if (!isSeq(v.seq)) return malformed('bad_seq', 'seq must be an integer >= 1');
  const max = opts.maxPayload ?? Infinity;
  if (typeof v.text === 'string' && v.bin === undefined) {
    // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes, at least 1.
    if (v.text.length > max || (v.text.length * 3 > max && utf8Length(v.text) > max)) return tooLarge(max);
    return ok({ t: 'd', seq: v.seq, data: wellFormed(v.text) });
  }
  if (typeof v.bin === 'string' && v.text === undefined) {
    if (Math.floor(v.bin.length / 4) * 3 - 2 > max) return tooLarge(max);
    const bytes = decodeBase64(v.bin);
    if (!bytes) return badFrame('bin is not valid base64');
    if (bytes.byteLength > max) return tooLarge(max);
    return ok({ t: 'd', seq: v.seq, data: bytes });
  }
  return badFrame('data frame needs exactly one of text or bin');
}

function tooLarge(max: number): Result<never> {
  return overLimit('payload_too_large', `payload exceeds ${max} bytes`);
}

function closeFromJson(v: Json): Result<Frame> {
  if (!isSeq(v.seq)) return malformed('bad_seq', 'seq must be an integer >= 1');
  if (v.code !== undefined && !(typeof v.code === 'number' && isWireCloseCode(v.code))) {
    return badFrame('close code is not valid on the wire');
  }
  if (v.reason !== undefined) {
    if (typeof v.reason !== 'string' || utf8Length(v.reason) > MAX_CLOSE_REASON_BYTES) {
      return badFrame(`close reason must be a string of at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`);
    }
    if (v.code === undefined && v.reason !== '') return badFrame('close reason needs a code');
  }
  return ok({
    t: 'close',
    seq: v.seq,
    ...(v.code !== undefined ? { code: v.code as number } : {}),
    ...(v.reason ? { reason: wellFormed(v.reason as string) } : {}),
  });
}

/** The fields of an `open` frame besides `t`, `ack` and `resumed`, by type (downstream.ts reads them too). */
export const OPEN_STRINGS = ['sid', 'token', 'protocol'] as const;
export const OPEN_NUMBERS = ['v', 'maxPayload'] as const;
/**
 * The durations (ms) of an `open` frame: clients arm timers with them, and a timer fires at once (a
 * browser's) or after 1 ms (Node's) for a delay over 2^31 - 1 ms, so a longer one is malformed.
 */
export const OPEN_DURATIONS = ['heartbeat', 'heartbeatTimeout', 'resumeWindow'] as const;
/** The longest delay a timer holds, and so the longest duration an `open` frame may carry. */
export const MAX_DELAY = 2 ** 31 - 1;
/** Fields an `open` frame may leave out; when present, each is a number >= 1. */
export const OPEN_OPTIONAL = ['ackEvery', 'ackBytes'] as const;

function openFromJson(v: Json): Result<Frame> {
  // Only the known fields are copied: a frame is data, never a carrier of whatever else came along.
  const frame: Json = { t: 'open' };
  for (const k of OPEN_STRINGS) {
    if (typeof v[k] !== 'string') return badFrame(`open.${k} must be a string`);
    frame[k] = v[k];
  }
  for (const k of OPEN_NUMBERS) {
    const n = v[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return badFrame(`open.${k} must be a number >= 0`);
    frame[k] = n;
  }
  for (const k of OPEN_DURATIONS) {
    const n = v[k];
    if (typeof n !== 'number' || !(n >= 0 && n <= MAX_DELAY)) return badFrame(`open.${k} must be a number of ms from 0 to ${MAX_DELAY}`);
    frame[k] = n;
  }
  for (const k of OPEN_OPTIONAL) {
    const n = v[k];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 1) return badFrame(`open.${k} must be a number >= 1`);
    frame[k] = n;
  }
  if (!isAck(v.ack)) return malformed('bad_seq', 'open.ack must be an integer >= 0');
  if (typeof v.resumed !== 'boolean') return badFrame('open.resumed must be a boolean');
  frame.ack = v.ack;
  frame.resumed = v.resumed;
  return ok(frame as unknown as OpenFrame);
}
