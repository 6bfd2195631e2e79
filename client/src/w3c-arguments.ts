/**
 * The argument steps of the WebSocket constructor and `close()` as the WHATWG spec writes them, with
 * Chromium's exception messages, so a BurrowSocket refuses exactly what a browser's WebSocket does.
 */
import { isProtocolToken } from '@burrow/shared';
import { baseUrl } from './platform/globals.js';

export function syntaxError(message: string): DOMException {
  return new DOMException(message, 'SyntaxError');
}

/** The WebSocket constructor's URL steps (WHATWG): parse, http(s) → ws(s), only ws(s), no fragment. */
export function parseSocketUrl(url: string | URL): URL {
  const text = String(url);
  let u: URL;
  try {
    u = new URL(text, baseUrl());
  } catch {
    throw syntaxError(`Failed to construct 'WebSocket': The URL '${text}' is invalid.`);
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw syntaxError(
      `Failed to construct 'WebSocket': The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${u.protocol.slice(0, -1)}' is not allowed.`,
    );
  }
  // `hash` is '' for an empty fragment too ("ws://h/#"); a '#' can only survive in href as the fragment.
  if (u.href.includes('#')) {
    throw syntaxError(
      `Failed to construct 'WebSocket': The URL contains a fragment identifier ('${u.hash.slice(1)}'). Fragment identifiers are not allowed in WebSocket URLs.`,
    );
  }
  return u;
}

export function parseProtocols(protocols: string | string[] | undefined): string[] {
  if (protocols === undefined) return [];
  const list =
    typeof protocols !== 'string' && typeof (protocols as Iterable<unknown>)?.[Symbol.iterator] === 'function'
      ? Array.from(protocols as Iterable<unknown>, String)
      : [String(protocols)];
  const seen = new Set<string>();
  for (const p of list) {
    if (!isProtocolToken(p)) throw syntaxError(`Failed to construct 'WebSocket': The subprotocol '${p}' is invalid.`);
    if (seen.has(p)) throw syntaxError(`Failed to construct 'WebSocket': The subprotocol '${p}' is duplicated.`);
    seen.add(p);
  }
  return list;
}

/** WebIDL `[Clamp] unsigned short`. */
export function clampUnsignedShort(v: unknown): number {
  const n = Number(v);
  if (Number.isNaN(n)) return 0;
  const c = Math.min(65535, Math.max(0, n));
  const f = Math.floor(c);
  const diff = c - f;
  // Round half to even, as WebIDL's [Clamp] does.
  return diff > 0.5 || (diff === 0.5 && f % 2 === 1) ? f + 1 : f;
}
