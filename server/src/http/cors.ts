/**
 * Origin policy and CORS for the HTTP transports. `allowedOrigins` (exact origins or RegExps) is
 * checked on every request and upgrade (403 `origin_forbidden`, which is what closes cross-site
 * WebSocket hijacking). When it is set, an allowed cross-origin request gets
 * `Access-Control-Allow-Origin: <origin>` (never `*`, never credentials) with
 * `Access-Control-Expose-Headers: Retry-After`, and every answer `Vary: Origin`; a preflight (OPTIONS)
 * is answered 204 for allowed origins and 403 for others.
 * Unset, no CORS header is ever sent: browsers then keep the HTTP transports same-origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { refusal } from '../errors/refusals.js';
import { sendError, unreadBody } from './respond.js';

export type AllowedOrigins = readonly (string | RegExp)[] | undefined;

/** Methods and request headers a preflight may ask for. `Last-Event-ID` is EventSource's. */
const ALLOW_METHODS = 'GET, POST';
const ALLOW_HEADERS = 'Content-Type, Last-Event-ID';
/** Seconds a browser may cache a preflight. */
const MAX_AGE = '600';
/** Response headers a cross-origin page may read: the client honours `Retry-After` on a 503. */
const EXPOSE_HEADERS = 'Retry-After';

function normalizeOrigin(o: string): string | undefined {
  try {
    const u = new URL(o).origin;
    return u === 'null' ? undefined : u;
  } catch {
    return undefined;
  }
}

/**
 * Is `origin` (the raw `Origin` header) allowed? No list allows everything; a request without
 * `Origin` (not a browser, or a same-origin GET) is always allowed. Strings compare as normalised
 * origins (scheme, host, port), so `https://evil-example.com` never matches `https://example.com`;
 * a RegExp is tested against the raw header (anchor it!).
 */
export function isOriginAllowed(allowed: AllowedOrigins, origin: string | undefined): boolean {
  if (!allowed || origin === undefined) return true;
  const normalized = normalizeOrigin(origin);
  for (const a of allowed) {
    if (typeof a === 'string') {
      if (normalized !== undefined && normalized === normalizeOrigin(a)) return true;
    } else {
      a.lastIndex = 0;
      if (a.test(origin)) return true;
    }
  }
  return false;
}

/**
 * Sets `Vary: Origin` and, for an allowed browser origin, `Access-Control-Allow-Origin` and
 * `Access-Control-Expose-Headers`. A handler that sets `Vary` itself must keep `Origin` in it
 * (see {@link addVary}).
 */
export function applyCors(allowed: AllowedOrigins, req: IncomingMessage, res: ServerResponse): void {
  if (!allowed) return;
  res.setHeader('Vary', 'Origin');
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null' && isOriginAllowed(allowed, origin)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  }
}

/** Adds `field` to the response's `Vary` header, keeping what is there (`Origin`, set by {@link applyCors}). */
export function addVary(res: ServerResponse, field: string): void {
  const prev = res.getHeader('Vary');
  const list = prev === undefined ? [] : String(prev).split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (!list.some((f) => f.toLowerCase() === field.toLowerCase())) list.push(field);
  res.setHeader('Vary', list.join(', '));
}

/** Answers a preflight (`OPTIONS`): 204 with the allowed methods and headers, or 403. */
export function answerPreflight(allowed: AllowedOrigins, req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!allowed || origin === undefined || origin === 'null' || !isOriginAllowed(allowed, origin)) {
    if (allowed) res.setHeader('Vary', 'Origin');
    return sendError(res, refusal('originForbidden'));
  }
  res.writeHead(204, {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': ALLOW_METHODS,
    'Access-Control-Allow-Headers': ALLOW_HEADERS,
    'Access-Control-Max-Age': MAX_AGE,
    Vary: 'Origin',
    'Content-Length': '0',
    // Answered before a declared body arrived: as sendJson does, close rather than drain it.
    ...(unreadBody(req) ? { Connection: 'close' } : {}),
  });
  res.end();
}
