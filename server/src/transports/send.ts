/**
 * The upstream of the HTTP transports: `POST {path}/sessions/:sid/send` with a batch of client frames.
 * The batch is applied in order after any earlier batch of the session; a retried batch is harmless
 * (the store's seq check drops what was already applied) and the answer is the inbound ack.
 *
 * On the in-process store a POST is proven within the call, and a body that came with its headers is
 * taken whole on the next setImmediate (once the parser has read the packet), with no listeners,
 * timer or stream reads (a POST is a request per round of messages, so each cost is paid per round).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeSendRequest, encodeSendResponse, type Frame } from '@burrow/shared';
import { refusal } from '../errors/refusals.js';
import { acceptableContentType, readBody, readBodyNow, sendError, sendJson, type BodyResult } from '../http/respond.js';
import type { SessionRegistry } from '../session/registry.js';
import type { SessionCore } from '../session/core.js';
import { carriesData } from '../session/backpressure.js';
import { beginSend, counted } from './sends-in-flight.js';

type Found = { core: SessionCore } | undefined;

/**
 * `?carry=<id>`: the POST comes from a polling transport whose polls carry the same id. Its answer
 * takes the frames collected for that transport's held poll and not yet answered (see
 * `PollDownstream.take`), so a message answered by its handler's `send()` is one request, not a
 * POST plus a poll answer plus the next poll. Absent: the answer carries the ack only.
 */
type Carrier = string | null;

export function handleSend(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, query: URLSearchParams): Promise<void> | void {
  if (!acceptableContentType(req)) return sendError(res, refusal('badContentType'), { Connection: 'close' });
  // The session and its token are proven before the body is read, so a made-up id or a wrong token
  // costs a lookup, not the read and parse of up to maxBatchBytes (BAD-INPUTS 32). A token carried in
  // the body instead of the query can only be checked after reading, so such a body is held to
  // maxUnprovenBodyBytes.
  const queryToken = query.get('token');
  // `abandon=1`: the client lost a race with this session before claiming it (docs/PROTOCOL.md,
  // "Racing transports"): it is discarded with no events. A claimed session ignores it.
  const abandon = query.get('abandon') === '1';
  const down = query.get('carry');
  if (queryToken === null) return withBody(reg, req, res, sid, undefined, down);
  if (!reg.store.sync) {
    return reg.resume(sid, queryToken, !abandon, req.socket).then((found) => proven(reg, req, res, sid, found, abandon, down));
  }
  return proven(reg, req, res, sid, reg.resumeNow(sid, queryToken, !abandon, req.socket), abandon, down);
}

/** The query's token was checked: `found` is the session it proved, or undefined. */
function proven(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, found: Found, abandon: boolean, down: Carrier): Promise<void> | void {
  if (!found) return sendError(res, refusal('sessionUnknown'), { Connection: 'close' });
  if (abandon) {
    if (found.core.unclaimed) reg.discard(found.core);
    return sendJson(res, 200, encodeSendResponse({ ack: found.core.inAck }), { Connection: 'close' });
  }
  if (!beginSend(found.core, reg.options.limits.maxSendsInFlight)) return sendError(res, refusal('sendsInFlight'), { Connection: 'close' });
  return counted(found.core, () => withBody(reg, req, res, sid, found, down));
}

/** Reads the body (within the call when it is all in) and applies it. */
function withBody(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, found: Found, down: Carrier): Promise<void> | void {
  const o = reg.options;
  const max = found ? o.limits.maxBatchBytes : Math.min(o.limits.maxBatchBytes, o.limits.maxUnprovenBodyBytes);
  const now = readBodyNow(req, max);
  if (now !== undefined) return applyBody(reg, res, sid, found, max, now, down);
  // node:http emits 'request' from the parser's headers callback and drains the microtasks before it
  // parses the body, even one that came in the packet of the headers: `req.complete` is false here
  // and stays false for any promise hop. By the next setImmediate the parser has read that packet,
  // and a small body is taken whole with no listeners, body timer or flowing stream (one immediate
  // per POST, i.e. per round of messages). A body still on its way is read as a stream.
  return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    const later = readBodyNow(req, max);
    if (later !== undefined) return applyBody(reg, res, sid, found, max, later, down);
    return readBody(req, max, o.bodyTimeout, o.bodyMinRate).then((body) => applyBody(reg, res, sid, found, max, body, down));
  });
}

function applyBody(reg: SessionRegistry, res: ServerResponse, sid: string, found: Found, max: number, body: BodyResult, down: Carrier): Promise<void> | void {
  if (!body.ok) {
    const err = !found && body.error.code === 'body_too_large' ? refusal('tokenInQuery', max) : body.error;
    return sendError(res, err, { Connection: 'close' });
  }
  const o = reg.options;
  const decoded = decodeSendRequest(body.text, { from: 'client', maxPayload: o.limits.maxPayload, maxFrames: o.limits.maxBatchFrames });
  if (!decoded.ok) return sendError(res, decoded.error);
  const batch = decoded.value;
  // Counted in since its proof (see proven).
  if (found) return applyBatch(res, found.core, batch.ack, batch.frames, down);
  // The token came in the body: proven only now.
  if (reg.store.sync) return afterBodyToken(reg, res, reg.resumeNow(sid, batch.token), batch.ack, batch.frames, down);
  return reg.resume(sid, batch.token).then((f) => afterBodyToken(reg, res, f, batch.ack, batch.frames, down));
}

function afterBodyToken(reg: SessionRegistry, res: ServerResponse, found: Found, ack: number | undefined, frames: readonly Frame[], down: Carrier): Promise<void> | void {
  if (!found) return sendError(res, refusal('sessionUnknown'));
  // Proven only now (its body was held to maxUnprovenBodyBytes): counted from here.
  const core = found.core;
  if (!beginSend(core, reg.options.limits.maxSendsInFlight)) return sendError(res, refusal('sendsInFlight'), { Connection: 'close' });
  return counted(core, () => applyBatch(res, core, ack, frames, down));
}

function applyBatch(res: ServerResponse, core: SessionCore, ack: number | undefined, data: readonly Frame[], down: Carrier): Promise<void> | void {
  const frames: Frame[] = ack !== undefined ? [{ t: 'ack', ack }, ...data] : [...data];
  // onBufferFull 'pause': while the session's outbound buffer is full, only the ack is applied.
  if (core.paused && carriesData(data)) return applyPaused(res, core, ack, frames, down);
  // A gap stops the batch; the ack in the answer tells the client where to resend from.
  const out = core.inboundNow(frames, true);
  if (out === undefined) return core.inbound(frames, true).then((o) => answer(res, core, o, down));
  answer(res, core, out, down);
}

async function applyPaused(res: ServerResponse, core: SessionCore, ack: number | undefined, frames: Frame[], down: Carrier): Promise<void> {
  if (ack !== undefined) await core.inbound([{ t: 'ack', ack }], true);
  if (core.paused) return sendError(res, refusal('paused'));
  answer(res, core, core.inboundNow(frames, true) ?? (await core.inbound(frames, true)), down);
}

function answer(res: ServerResponse, core: SessionCore, out: Awaited<ReturnType<SessionCore['inbound']>>, down: Carrier): void {
  if (out.error) return sendError(res, out.error);
  // What the handlers just sent (and anything else the held poll collected this turn) rides here.
  const carried = down === null ? undefined : core.downstream?.take?.(down);
  sendJson(res, 200, encodeSendResponse({ ack: out.ack }, carried));
}
