/**
 * The HTTP handshakes: `POST {path}/sessions` with `{"v":1,"protocols":[…]}` answers an `open` frame
 * (the first step of polling), and `GET {path}/sessions?v=1&protocols=a,b` opens an SSE stream whose
 * first event is that `open` frame (the SSE transport's handshake and downstream in one request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeHandshakeRequest, encodeJsonFrame, type ProtocolError } from '@burrow/shared';
import { type Refusal, refusal } from '../errors/refusals.js';
import { acceptableContentType, type BodyResult, readBody, sendError, sendJson } from '../http/respond.js';
import type { SessionCore } from '../session/core.js';
import type { SessionRegistry } from '../session/registry.js';
import { authenticateRequest } from '../http/auth.js';
import { takeHandshake } from '../http/rate-limit.js';
import { streamSse } from './sse.js';

type Admitted = { readonly ok: true; readonly core: SessionCore; readonly token: string; readonly raced: boolean };

/**
 * What both handshakes check before a session exists: `authenticate`, room on the node, the request
 * (`body` reads it: after the cheap refusals, so a refused or shed handshake costs no read), the
 * subprotocol pick and the handshake budget. Then the session is created; with `race=1` it is left
 * unclaimed (docs/PROTOCOL.md, "Racing transports").
 */
async function admit(
  reg: SessionRegistry,
  req: IncomingMessage,
  query: URLSearchParams,
  body: () => Promise<{ ok: true; text: string } | { ok: false; error: ProtocolError }>,
): Promise<Admitted | { readonly ok: false; readonly error: ProtocolError | Refusal; readonly close?: boolean }> {
  const auth = await authenticateRequest(reg.options.authenticate, req, reg.options.authenticateTimeout);
  if (!auth.ok) return { ok: false, error: auth.error, close: true };
  if (reg.full) return { ok: false, error: refusal('overloaded'), close: true };
  const text = await body();
  if (!text.ok) return { ok: false, error: text.error, close: true };
  const hs = decodeHandshakeRequest(text.text);
  if (!hs.ok) return { ok: false, error: hs.error };
  let protocol = '';
  if (hs.value.protocols.length > 0) {
    const offered = new Set(hs.value.protocols);
    const pick = reg.options.handleProtocols(offered, req);
    if (pick === false || !offered.has(pick)) return { ok: false, error: refusal('noProtocol') };
    protocol = pick;
  }
  // Again, after the body: other handshakes may have filled the node meanwhile, or it began to close
  // or drain while `authenticate` or the body kept this request (the route checked before either).
  const shut = reg.shutRefusal();
  if (shut) return { ok: false, error: refusal(shut), close: true };
  if (reg.full) return { ok: false, error: refusal('overloaded'), close: true };
  if (!takeHandshake(reg)) return { ok: false, error: refusal('handshakeRate') };
  const raced = query.get('race') === '1';
  const { core, token } = await reg.create(protocol, auth.user, raced);
  // And after the create, which a networked store makes a round trip: close() or drain() may have
  // begun meanwhile, and the session made must not be announced or served here.
  const late = reg.shutRefusal();
  if (late) {
    reg.discard(core);
    return { ok: false, error: refusal(late), close: true };
  }
  return { ok: true, core, token, raced };
}

export async function handleHandshake(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  if (!acceptableContentType(req)) return sendError(res, refusal('badContentType'), { Connection: 'close' });
  const { maxUnprovenBodyBytes: unproven, maxBatchBytes: batch } = reg.options.limits;
  const body = async (): Promise<BodyResult> => {
    const r = await readBody(req, Math.min(unproven, batch), reg.options.bodyTimeout, reg.options.bodyMinRate);
    // Named after the bound that bit (the `limit` event, metrics): the unproven one unless the batch one is lower.
    if (!r.ok && r.error.code === 'body_too_large' && unproven < batch) return { ok: false, error: refusal('unprovenBodyTooLarge', unproven) };
    return r;
  };
  const a = await admit(reg, req, query, body);
  if (!a.ok) return sendError(res, a.error, a.close ? { Connection: 'close' } : undefined);
  // The client left while the session was being made: it never learns of it (as on SSE, below).
  if (res.destroyed) return reg.discard(a.core);
  sendJson(res, 200, encodeJsonFrame(reg.openFrame(a.core, a.token, false, 0)));
  // `race=1`: the client runs this handshake beside another attempt and may abandon it, so the
  // session is announced only when the client claims it (its first session request).
  if (!a.raced) reg.announce(a.core);
}

/**
 * `GET {path}/sessions`: the handshake as an event stream. The query says what the POST body would
 * (`v`, and `protocols` comma-separated as in `Sec-WebSocket-Protocol`), so an EventSource can open
 * it: a new session costs one round trip on SSE, as on WebSocket.
 */
export async function handleSseHandshake(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  // An EventSource's request is in `cors` mode, so it carries `Origin` when cross-site and meets
  // `allowedOrigins`. A browser's no-cors or navigation GET (an <img>, a link) carries no Origin: it
  // could make sessions (and run `authenticate` with the user's cookies) from any site. The POST
  // handshake never had that hole, since browsers send Origin on every cross-site POST.
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'cors' && mode !== 'same-origin') return sendError(res, refusal('originForbidden'));
  const protocols = query.get('protocols');
  // The body a POST would carry, checked by the same decoder (version, at most 64 valid tokens).
  // `v` is required, as in the body: a bare GET of the route (a crawler, a typo) opens nothing.
  const v = query.get('v');
  const asBody = JSON.stringify({ v: v === null ? null : Number(v), protocols: protocols ? protocols.split(',') : [] });
  const a = await admit(reg, req, query, () => Promise.resolve({ ok: true, text: asBody }));
  if (!a.ok) return sendError(res, a.error, a.close ? { Connection: 'close' } : undefined);
  const { core, token, raced } = a;
  if (res.destroyed) {
    // The client left while the session was being made: it never learns of it.
    reg.discard(core);
    return;
  }
  // The `open` event is written within this call, before `connection` handlers can send.
  const attached = streamSse(reg, res, core, reg.openFrame(core, token, false, 0), 0, 0, query, raced);
  if (!raced) reg.announce(core);
  await attached;
}
