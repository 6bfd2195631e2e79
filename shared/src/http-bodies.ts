/**
 * Bodies of the HTTP transports. Every body is one JSON object, so a field can be added later without
 * breaking older peers.
 *
 *   POST {path}/sessions            request  {"v":1,"protocols":["chat"]}      response: an open frame
 *   POST {path}/sessions/:sid/send  request  {"token":"…","ack":7,"frames":[…]}  response {"ack":12,"frames"?:[…]}
 *   GET  {path}/sessions/:sid/poll  response {"frames":[…]}
 *   errors                          response {"error":"session_unknown","message":"…","close":4001}
 */
import { CloseCode, isWireCloseCode } from './close-codes.js';
import { PROTOCOL_VERSION, type Frame, isAck } from './frames.js';
import { type DecodeOptions, encodeJsonFrame, frameFromJson, frameToJson, isObject, parseJson } from './json-codec.js';
import { fail, malformed, ok, overLimit, type ProtocolError, type Result } from './result.js';
import { BROWSER_BUNDLE } from './target.js';

export interface HandshakeRequest {
  readonly v: number;
  readonly protocols: readonly string[];
}

export interface SendRequest {
  /** Session token; also accepted as the `token` query parameter. */
  readonly token?: string;
  /** Cumulative ack of server frames the client delivered; piggybacks on every upstream batch. */
  readonly ack?: number;
  readonly frames: readonly Frame[];
}

export interface SendResponse {
  /** Highest client seq the server holds. */
  readonly ack: number;
  /**
   * Downstream frames of a polling session that the answer carries instead of its held poll (only
   * when the POST asked with `?carry=`, docs/PROTOCOL.md "Frames on a POST's answer"); absent: none.
   */
  readonly frames?: readonly Frame[];
}

export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly close: number;
}

export interface BatchLimits extends DecodeOptions {
  /** Most frames in one batch. */
  readonly maxFrames?: number;
}

/** RFC 6455 token characters; a subprotocol must be one. */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Is `p` a valid subprotocol name (an RFC 7230 token)? Of any length, as Chromium's WebSocket takes
 * one: what bounds it is the request it travels in (the handshake body's 16 KiB, Node's header size).
 */
export function isProtocolToken(p: unknown): p is string {
  return typeof p === 'string' && TOKEN_RE.test(p);
}

export function encodeHandshakeRequest(protocols: readonly string[]): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, protocols });
}

export function decodeHandshakeRequest(text: string): Result<HandshakeRequest> {
  if (text === '') return ok({ v: PROTOCOL_VERSION, protocols: [] });
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!isObject(v)) return malformed('bad_request', 'handshake body must be an object');
  const version = v.v === undefined ? PROTOCOL_VERSION : v.v;
  if (version !== PROTOCOL_VERSION) {
    return fail('unsupported_version', `protocol version ${PROTOCOL_VERSION} only`, CloseCode.UnsupportedVersion, 400);
  }
  const protocols = v.protocols === undefined ? [] : v.protocols;
  if (!Array.isArray(protocols) || protocols.length > 64 || !protocols.every(isProtocolToken)) {
    return malformed('bad_request', 'protocols must be an array of at most 64 tokens');
  }
  return ok({ v: version, protocols: protocols as string[] });
}

/** `{"frames":[…],"token"?,"ack"?}`, each frame as {@link encodeJsonFrame} writes it. */
export function encodeSendRequest(req: SendRequest): string {
  // The browser bundle builds the objects and lets JSON.stringify write them (the same bytes, as the
  // codec test checks): a browser sends few frames per POST, and the bundle's size counts more there
  // (issue #16). The string building below is for Node clients and benchmarks, which post many.
  if (BROWSER_BUNDLE) return JSON.stringify({ frames: req.frames.map(frameToJson), token: req.token, ack: req.ack });
  let out = '{"frames":[';
  const frames = req.frames;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (i > 0) out += ',';
    out += encodeJsonFrame(f);
  }
  out += ']';
  if (req.token !== undefined) out += `,"token":${JSON.stringify(req.token)}`;
  if (req.ack !== undefined) out += `,"ack":${req.ack}`;
  return `${out}}`;
}

export function decodeSendRequest(text: string, limits: BatchLimits): Result<SendRequest> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!isObject(v)) return malformed('bad_request', 'send body must be an object');
  if (v.token !== undefined && typeof v.token !== 'string') {
    return malformed('bad_request', 'token must be a string');
  }
  if (v.ack !== undefined && !isAck(v.ack)) return malformed('bad_seq', 'ack must be an integer >= 0');
  const frames = decodeFrameArray(v.frames, limits);
  if (!frames.ok) return frames;
  return ok({
    ...(v.token !== undefined ? { token: v.token as string } : {}),
    ...(v.ack !== undefined ? { ack: v.ack as number } : {}),
    frames: frames.value,
  });
}

/**
 * `{"ack":N}`, or `{"ack":N,"frames":[…]}` with frames already encoded as JSON text (a poll's
 * collected answer handed to the POST), joined without re-encoding.
 */
export function encodeSendResponse(res: { readonly ack: number }, encodedFrames?: readonly string[]): string {
  return encodedFrames ? `{"ack":${res.ack},"frames":[${encodedFrames.join(',')}]}` : `{"ack":${res.ack}}`;
}

export function decodeSendResponse(text: string, limits: BatchLimits = { from: 'server' }): Result<SendResponse> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!isObject(v) || !isAck(v.ack)) return malformed('bad_request', 'send response needs ack');
  if (v.frames === undefined) return ok({ ack: v.ack });
  const frames = decodeFrameArray(v.frames, limits);
  return frames.ok ? ok({ ack: v.ack, frames: frames.value }) : frames;
}

/** A poll response body from frames already encoded as JSON text, joined without re-encoding. */
export function encodePollResponse(encodedFrames: readonly string[]): string {
  return `{"frames":[${encodedFrames.join(',')}]}`;
}

export function decodePollResponse(text: string, limits: BatchLimits): Result<readonly Frame[]> {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  if (!isObject(v)) return malformed('bad_request', 'poll body must be an object');
  return decodeFrameArray(v.frames, limits);
}

function decodeFrameArray(list: unknown, limits: BatchLimits): Result<Frame[]> {
  if (!Array.isArray(list)) return malformed('bad_request', 'frames must be an array');
  const max = limits.maxFrames ?? Infinity;
  if (list.length > max) return overLimit('body_too_large', `at most ${max} frames per batch`);
  const out: Frame[] = [];
  for (const item of list) {
    const f = frameFromJson(item, limits);
    if (!f.ok) return f;
    out.push(f.value);
  }
  return ok(out);
}

export function encodeError(e: ProtocolError): string {
  const body: ErrorBody = { error: e.code, message: e.message, close: e.close };
  return JSON.stringify(body);
}

/** A literal, not a CloseCode read: see result.ts. */
const ABNORMAL: typeof CloseCode.Abnormal = 1006;

/** Reads an error body; anything unreadable becomes a generic error with the given status. */
export function decodeError(text: string, status: number): ErrorBody {
  const parsed = parseJson(text);
  if (parsed.ok && isObject(parsed.value) && typeof parsed.value.error === 'string') {
    const v = parsed.value;
    return {
      error: v.error as string,
      message: typeof v.message === 'string' ? v.message : '',
      close: typeof v.close === 'number' && isWireCloseCode(v.close) ? v.close : ABNORMAL,
    };
  }
  return { error: 'bad_request', message: `HTTP ${status}`, close: ABNORMAL };
}
