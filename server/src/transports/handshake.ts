/**
 * The HTTP handshake: `POST {path}/sessions` with `{"v":1,"protocols":[…]}` answers an `open` frame,
 * the first step of the SSE and polling transports.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeHandshakeRequest, encodeJsonFrame } from '@burrow/shared';
import { refusal } from '../errors/refusals.js';
import { acceptableContentType, readBody, sendError, sendJson } from '../http/respond.js';
import type { SessionRegistry } from '../session/registry.js';
import { authenticateRequest } from '../http/auth.js';
import { takeHandshake } from '../http/rate-limit.js';

export async function handleHandshake(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!acceptableContentType(req)) return sendError(res, refusal('badContentType'), { Connection: 'close' });
  // `authenticate` and the cheap refusals come before the body is read: a refused or shed handshake
  // costs no read, and the body read before the protocol pick is bounded by maxUnprovenBodyBytes.
  const auth = await authenticateRequest(reg.options.authenticate, req);
  if (!auth.ok) return sendError(res, auth.error, { Connection: 'close' });
  if (reg.full) return sendError(res, refusal('overloaded'), { Connection: 'close' });
  const limits = reg.options.limits;
  const body = await readBody(req, Math.min(limits.maxUnprovenBodyBytes, limits.maxBatchBytes), reg.options.bodyTimeout);
  if (!body.ok) return sendError(res, body.error, { Connection: 'close' });
  const hs = decodeHandshakeRequest(body.text);
  if (!hs.ok) return sendError(res, hs.error);
  let protocol = '';
  if (hs.value.protocols.length > 0) {
    const offered = new Set(hs.value.protocols);
    const pick = reg.options.handleProtocols(offered, req);
    if (pick === false || !offered.has(pick)) return sendError(res, refusal('noProtocol'));
    protocol = pick;
  }
  if (!takeHandshake(reg)) return sendError(res, refusal('handshakeRate'));
  // `race=1`: the client runs this handshake beside a WebSocket attempt and may abandon it, so the
  // session is announced only when the client claims it (its first session request).
  const raced = new URL(req.url ?? '/', 'http://x').searchParams.get('race') === '1';
  const { core, token } = await reg.create(protocol, auth.user, raced);
  sendJson(res, 200, encodeJsonFrame(reg.openFrame(core, token, false, 0)));
  if (!raced) reg.announce(core);
}
