/**
 * Session ids and tokens. The id is public (it appears in URLs); the token is a secret the store only
 * ever sees hashed, and it is compared in constant time so response timing leaks nothing.
 */
import { hash, randomFillSync, timingSafeEqual } from 'node:crypto';
import type { SessionRecord } from '../store/store.js';

/**
 * Random bytes for ids and tokens, drawn from one buffer refilled from the CSPRNG when used up (as
 * `crypto.randomUUID` does), rather than a `randomBytes` buffer each: a new session took two, and
 * that garbage per handshake is what makes V8 grow its young generation while thousands of sessions
 * open. Every byte is handed out once and wiped.
 */
const entropy = Buffer.alloc(4096);
let used = entropy.length;

function randomText(bytes: number): string {
  if (used + bytes > entropy.length) {
    randomFillSync(entropy);
    used = 0;
  }
  const text = entropy.toString('base64url', used, used + bytes);
  entropy.fill(0, used, used + bytes);
  used += bytes;
  return text;
}

/** 16 random bytes, base64url: matches `SESSION_ID_RE`. */
export function newSessionId(): string {
  return randomText(16);
}

/** 32 random bytes, base64url. */
export function newToken(): string {
  return randomText(32);
}

/** The only form of a token the store keeps. One-shot: no Hash object per call. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/** Could `token` be a session token at all (a non-empty string of at most 256 characters)? */
export function tokenShaped(token: string | undefined | null): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= 256;
}

/** Does `token` hash to `tokenHash`? Constant time in the token's content. */
export function tokenMatches(token: string | undefined | null, tokenHash: string): boolean {
  if (!tokenShaped(token)) return false;
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(tokenHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The sessions each keep-alive socket proved a token for (a browser's connection carries one
 * session; a proxy's upstream keep-alive or a Node client's pool carries many). A later request on
 * that socket presenting the same session and the same token skips the hash. The comparison is
 * still constant time: a proxy's shared upstream socket carries other clients' requests, and a
 * short-circuiting `===` against a token one of them proved would time how much of a guess is right.
 */
const provenOn = new WeakMap<object, Map<string, Buffer>>();
/** Sessions remembered per socket; past it the one proven longest ago is forgotten. */
const PROVEN_PER_SOCKET = 128;

/** {@link tokenMatches}, once per keep-alive socket and session rather than once per request. */
export function tokenProven(socket: object | undefined, sid: string, token: string | undefined | null, tokenHash: string): boolean {
  const proven = socket ? provenOn.get(socket) : undefined;
  const known = proven?.get(sid);
  if (known !== undefined && tokenShaped(token)) {
    const given = Buffer.from(token);
    if (given.length === known.length && timingSafeEqual(given, known)) return true;
  }
  if (!tokenMatches(token, tokenHash)) return false;
  if (socket) {
    const bytes = Buffer.from(token!);
    if (proven === undefined) provenOn.set(socket, new Map([[sid, bytes]]));
    else {
      if (proven.size >= PROVEN_PER_SOCKET) proven.delete(proven.keys().next().value!);
      proven.set(sid, bytes);
    }
  }
  return true;
}

/** A new session's record and its token (which only the client keeps). */
export function newRecord(protocol: string, user: unknown, raced: boolean): { record: SessionRecord; token: string } {
  const token = newToken();
  const record: SessionRecord = {
    id: newSessionId(),
    tokenHash: hashToken(token),
    protocol,
    data: undefined,
    inAck: 0,
    outSeq: 0,
    outAck: 0,
    activity: 0,
    ...(user !== undefined ? { user } : {}),
    ...(raced ? { raced: true as const } : {}),
  };
  return { record, token };
}
