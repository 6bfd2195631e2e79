/**
 * The HTTP handshake: `POST {path}/sessions` with `{"v":1,"protocols":[…]}` answers an `open` frame,
 * the first step of the SSE and polling transports.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeHandshakeRequest, encodeJsonFrame } from '@burrow/shared';
import { Errors } from './errors.js';
import { acceptableContentType, readBody, sendError, sendJson } from './http.js';
import type { SessionRegistry } from './sessions.js';
import { authenticateRequest } from './auth.js';
import { HANDSHAKE_RETRY_AFTER, takeHandshake } from './rate-limit.js';

/** A handshake body is tiny; anything bigger is not one. */
const MAX_HANDSHAKE_BYTES = 16 * 1024;

/** Seconds a client should wait before retrying an overloaded node. */
const RETRY_AFTER = '5';

export async function handleHandshake(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!acceptableContentType(req)) return sendError(res, Errors.badContentType(), { Connection: 'close' });
  const body = await readBody(req, Math.min(MAX_HANDSHAKE_BYTES, reg.options.limits.maxBatchBytes), reg.options.bodyTimeout);
  if (!body.ok) return sendError(res, body.error, { Connection: 'close' });
  const hs = decodeHandshakeRequest(body.text);
  if (!hs.ok) return sendError(res, hs.error);
  const auth = await authenticateRequest(reg.options.authenticate, req);
  if (!auth.ok) return sendError(res, auth.error);
  let protocol = '';
  if (hs.value.protocols.length > 0) {
    const offered = new Set(hs.value.protocols);
    const pick = reg.options.handleProtocols(offered, req);
    if (pick === false || !offered.has(pick)) return sendError(res, Errors.noProtocol());
    protocol = pick;
  }
  if (reg.full) return sendError(res, Errors.overloaded(), { 'Retry-After': RETRY_AFTER });
  if (!takeHandshake(reg)) return sendError(res, Errors.overloaded(), { 'Retry-After': HANDSHAKE_RETRY_AFTER });
  const { core, token } = await reg.create(protocol, auth.user);
  sendJson(res, 200, encodeJsonFrame(reg.openFrame(core, token, false, 0)));
  reg.announce(core);
}
