/**
 * The argument steps of the WebSocket constructor, `send()` and `close()` as Chromium runs them (the
 * WHATWG spec's, but where Chromium departs from it), so a BurrowSocket refuses and converts exactly
 * what Chromium's WebSocket does, with the same exception names. The
 * messages name the refused value in a few words rather than Chromium's sentences (browsers word
 * them differently anyway, and they were 1.5% of the gzipped bundle: issue #16).
 */
import { isProtocolToken, type Payload, wellFormed } from '@burrow/shared';
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
    throw syntaxError(`Invalid URL '${text}'`);
  }
  // http: → ws:, https: → wss: (setting a scheme to itself changes nothing).
  u.protocol = u.protocol.replace(/^http(s?):$/, 'ws$1:');
  if (!/^wss?:$/.test(u.protocol)) {
    throw syntaxError(`Invalid URL scheme '${u.protocol}'`);
  }
  // `hash` is '' for an empty fragment too ("ws://h/#"); a '#' can only survive in href as the fragment.
  if (u.href.includes('#')) {
    throw syntaxError(`Invalid URL fragment '${u.hash}'`);
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
    if (!isProtocolToken(p)) throw syntaxError(`Invalid subprotocol '${p}'`);
    if (seen.has(p)) throw syntaxError(`Duplicate subprotocol '${p}'`);
    seen.add(p);
  }
  return list;
}

/**
 * `[Clamp] unsigned short` as Chromium converts it: clamped to 0..65535 (NaN to 0), then truncated
 * toward zero. WebIDL rounds half to even there, but Chromium's WebSocket does not (`close(3999.6)`
 * sends 3999, `close(999.5)` throws), and a drop-in matches Chromium's (e2e `conversions` scenario).
 */
export function clampUnsignedShort(v: unknown): number {
  return Math.trunc(Math.min(65535, Math.max(0, Number(v) || 0)));
}

/** What send() sends, copied now: bytes of a buffer or view, else the text (WebIDL's USVString: lone surrogates become U+FFFD). */
export function toPayload(data: string | ArrayBufferLike | ArrayBufferView, tag: string): Payload {
  try {
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    // `[object ArrayBuffer]` or `[object SharedArrayBuffer]`, from this realm or another.
    if (tag.endsWith('ArrayBuffer]')) return new Uint8Array(data as ArrayBufferLike).slice();
  } catch {
    // A detached buffer, or a view of one, cannot be read (it threw a TypeError): Chromium sends an
    // empty binary message for it.
    return new Uint8Array(0);
  }
  // A template, not String(): a Symbol throws a TypeError here, as WebIDL's conversion does.
  return wellFormed(`${data as string}`);
}
