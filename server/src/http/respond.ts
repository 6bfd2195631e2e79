/**
 * Small HTTP helpers shared by the handlers: JSON answers, errors in the documented shape, bounded
 * body reading, query parsing. Nothing here knows about sessions.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeError, isAck, type ProtocolError } from '@burrow/shared';
import { httpRefusal, refusal, type Refusal } from '../errors/refusals.js';

/** Answers with a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  // An answer given before the request body arrived (a refusal): keeping the connection would make
  // Node read and discard the rest of it, which a trickling client stretches to Node's requestTimeout
  // (300 s). Closing it frees the socket as soon as the answer is written.
  const req = res.req as IncomingMessage | undefined;
  const unread = req !== undefined && unreadBody(req);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...(unread ? { Connection: 'close' } : {}),
    ...headers,
  });
  res.end(body);
}

/** The error a response or a refused upgrade's socket was answered with (read by the lifecycle log and metrics). */
export const refusalOf = new WeakMap<object, ProtocolError | Refusal>();

/** Answers with `{"error","message","close"}` and the error's status. */
export function sendError(res: ServerResponse, err: ProtocolError | Refusal, headers: Record<string, string> = {}): void {
  refusalOf.set(res, err);
  const answer = httpRefusal(err);
  sendJson(res, answer.status, encodeError(err), { ...answer.headers, ...headers });
}

/**
 * The error listener of an upgrade socket until `ws` takes it over (then `ws`'s own listener does the
 * same): one shared function reading `this`, not a closure per socket.
 */
export function destroySocketOnError(this: Duplex): void {
  this.destroy();
}

/** Answers a raw socket (an upgrade we refuse) and destroys it. */
export function rejectSocket(socket: Duplex, err: ProtocolError): void {
  refusalOf.set(socket, err);
  if (socket.writable) {
    const body = encodeError(err);
    socket.write(
      `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
        'Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Has the request a declared body that has not all arrived (an answer now should close the connection)? */
export function unreadBody(req: IncomingMessage): boolean {
  return !req.complete && hasBody(req);
}

/** Does the request carry a body (a GET must not)? */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** POST bodies are JSON sent as text/plain (no CORS preflight) or application/json. */
export function acceptableContentType(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return !hasBody(req);
  const mime = type.split(';', 1)[0]!.trim().toLowerCase();
  return mime === 'text/plain' || mime === 'application/json';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a whole body as UTF-8, refusing more than `maxBytes` (413) and a body slower than
 * `timeoutMs` plus a second per `minRate` bytes received (408): a trickle cannot hold a request
 * open forever, and a large body on a slow link is not cut while it keeps up `minRate` bytes/s (a
 * cut one would be resent whole, and cut again).
 */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number, minRate = Infinity): Promise<BodyResult> {
  const now = readBodyNow(req, maxBytes);
  if (now !== undefined) return Promise.resolve(now);
  // Read to its end before us: a body parser (express.text(), express.raw()) ran first. Said so,
  // rather than waited on an 'end' that is gone and answered as an aborted request.
  if (req.readableEnded) return Promise.resolve({ ok: false, error: refusal('badRequest', 'the body was already read (a body parser mounted before Burrow? mount Burrow first)') });
  // Aborted before we started listening (e.g. during the POST's setImmediate): its 'close' is gone,
  // and waiting for it would keep the body timer, and the request, until timeoutMs.
  if (req.destroyed) return Promise.resolve({ ok: false, error: refusal('badRequest', 'request aborted') });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (r: BodyResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      // Stop reading what we refused; the answer closes the connection.
      if (!r.ok) req.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) finish({ ok: false, error: refusal('bodyTooLarge', maxBytes) });
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      try {
        finish({ ok: true, text: utf8.decode(Buffer.concat(chunks, size)) });
      } catch {
        finish({ ok: false, error: refusal('badRequest', 'body is not valid UTF-8') });
      }
    };
    const onError = (): void => finish({ ok: false, error: refusal('badRequest', 'request aborted') });
    const onClose = (): void => finish({ ok: false, error: refusal('badRequest', 'request aborted') });
    const started = performance.now();
    /** The body's size, and the time, when the timer was last armed. */
    let seen = 0;
    let armedAt = started;
    // One timer for the whole body: when it fires, the time earned by what arrived meanwhile (one
    // second per minRate bytes) re-arms it for the rest, so no chunk touches a timer. It is re-armed
    // for at most timeoutMs at a time, and a body that sent less than a quarter of minRate since it
    // was last armed is cut whatever it earned before: a burst's credit carries a slow stretch, not a
    // stall or a trickle (a byte per timeoutMs after an 8 MiB burst held its buffers for half an hour).
    const expired = (): void => {
      const now = performance.now();
      const left = timeoutMs + (size * 1000) / minRate - (now - started);
      if (left < 1 || (size - seen) * 4000 < minRate * (now - armedAt)) return finish({ ok: false, error: refusal('timeout') });
      seen = size;
      armedAt = now;
      timer = setTimeout(expired, Math.min(left, timeoutMs));
    };
    let timer = setTimeout(expired, timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** A body read whole, or why it was refused. */
export type BodyResult = { ok: true; text: string } | { ok: false; error: ProtocolError };

/**
 * {@link readBody} within this call when the answer is known already: a declared length over
 * `maxBytes`, or the whole request in (a small POST arrives in the packet of its headers), taken as
 * it is with no listeners, timer or promise. Undefined while the body is still on its way.
 */
export function readBodyNow(req: IncomingMessage, maxBytes: number): BodyResult | undefined {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return { ok: false, error: refusal('bodyTooLarge', maxBytes) };
  if (req.complete && req.readableFlowing === null && !req.readableEnded) return bufferedBody(req, maxBytes);
  return undefined;
}

/** The body of a request that arrived whole: everything buffered, in one read that ends the stream. */
function bufferedBody(req: IncomingMessage, maxBytes: number): BodyResult {
  const buf = req.read() as Buffer | null;
  if (buf !== null && buf.length > maxBytes) return { ok: false, error: refusal('bodyTooLarge', maxBytes) };
  try {
    return { ok: true, text: buf === null ? '' : utf8.decode(buf) };
  } catch {
    return { ok: false, error: refusal('badRequest', 'body is not valid UTF-8') };
  }
}

/** A cumulative ack from a query parameter: absent is 0, anything but a plain integer is invalid. */
export function parseAck(v: string | null): number | undefined {
  if (v === null || v === '') return 0;
  if (!/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return isAck(n) ? n : undefined;
}
