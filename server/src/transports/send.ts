/**
 * The upstream of the HTTP transports: `POST {path}/sessions/:sid/send` with a batch of client frames.
 * The batch is applied in order after any earlier batch of the session; a retried batch is harmless
 * (the store's seq check drops what was already applied) and the answer is the inbound ack.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeSendRequest, encodeSendResponse, type Frame } from '@burrow/shared';
import { refusal } from '../errors/refusals.js';
import { acceptableContentType, readBody, sendError, sendJson } from '../http/respond.js';
import type { SessionRegistry } from '../session/registry.js';
import { carriesData } from '../session/backpressure.js';

export async function handleSend(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, query: URLSearchParams): Promise<void> {
  if (!acceptableContentType(req)) return sendError(res, refusal('badContentType'), { Connection: 'close' });
  const o = reg.options;
  // The session and its token are proven before the body is read, so a made-up id or a wrong token
  // costs a lookup, not the read and parse of up to maxBatchBytes (BAD-INPUTS 32). A token carried in
  // the body instead of the query can only be checked after reading, so such a body is held to
  // maxUnprovenBodyBytes.
  const queryToken = query.get('token');
  // `abandon=1`: the client lost a race with this session before claiming it (docs/PROTOCOL.md,
  // "Racing transports"): it is discarded with no events. A claimed session ignores it.
  const abandon = query.get('abandon') === '1';
  let found = queryToken === null ? undefined : await reg.resume(sid, queryToken, !abandon, req.socket);
  if (queryToken !== null && !found) return sendError(res, refusal('sessionUnknown'), { Connection: 'close' });
  if (abandon && found) {
    if (found.core.unclaimed) reg.discard(found.core);
    return sendJson(res, 200, encodeSendResponse({ ack: found.core.inAck }), { Connection: 'close' });
  }
  const max = found ? o.limits.maxBatchBytes : Math.min(o.limits.maxBatchBytes, o.limits.maxUnprovenBodyBytes);
  const body = await readBody(req, max, o.bodyTimeout);
  if (!body.ok) {
    const err = !found && body.error.code === 'body_too_large' ? refusal('tokenInQuery', max) : body.error;
    return sendError(res, err, { Connection: 'close' });
  }
  const decoded = decodeSendRequest(body.text, { from: 'client', maxPayload: o.limits.maxPayload, maxFrames: o.limits.maxBatchFrames });
  if (!decoded.ok) return sendError(res, decoded.error);
  const batch = decoded.value;
  found ??= await reg.resume(sid, batch.token);
  if (!found) return sendError(res, refusal('sessionUnknown'));
  // onBufferFull 'pause': while the session's outbound buffer is full, only the ack is applied.
  if (found.core.paused && carriesData(batch.frames)) {
    if (batch.ack !== undefined) await found.core.inbound([{ t: 'ack', ack: batch.ack }], true);
    if (found.core.paused) {
      return sendError(res, refusal('paused'));
    }
  }
  const frames: Frame[] = batch.ack !== undefined ? [{ t: 'ack', ack: batch.ack }, ...batch.frames] : [...batch.frames];
  // A gap stops the batch; the ack in the answer tells the client where to resend from.
  const out = found.core.inboundNow(frames, true) ?? (await found.core.inbound(frames, true));
  if (out.error) return sendError(res, out.error);
  sendJson(res, 200, encodeSendResponse({ ack: out.ack }));
}
