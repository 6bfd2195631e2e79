/**
 * Base64 for binary payloads on the HTTP transports, without Node's Buffer so it runs in browsers.
 * Uses the native Uint8Array methods where the platform has them, except in the browser bundle: most
 * browsers it targets lack them, so it carries the btoa/atob code anyway, and the fast path would
 * only add bytes to it (issue #16).
 */
import { BROWSER_BUNDLE } from './target.js';

interface NativeBase64 {
  toBase64?: () => string;
}
interface NativeBase64Ctor {
  fromBase64?: (s: string) => Uint8Array;
}

const CHUNK = 0x8000;

export function encodeBase64(bytes: Uint8Array): string {
  const native = (bytes as NativeBase64).toBase64;
  if (!BROWSER_BUNDLE && typeof native === 'function') return native.call(bytes);
  let bin = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(bin);
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes standard base64; returns undefined for anything else instead of throwing. */
export function decodeBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !BASE64_RE.test(s)) return undefined;
  const native = BROWSER_BUNDLE ? undefined : (Uint8Array as NativeBase64Ctor).fromBase64;
  try {
    if (typeof native === 'function') return native(s);
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}
