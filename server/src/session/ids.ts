/**
 * Session ids and tokens. The id is public (it appears in URLs); the token is a secret the store only
 * ever sees hashed, and it is compared in constant time so response timing leaks nothing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 16 random bytes, base64url: matches `SESSION_ID_RE`. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

/** 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The only form of a token the store keeps. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Does `token` hash to `tokenHash`? Constant time in the token's content. */
export function tokenMatches(token: string | undefined | null, tokenHash: string): boolean {
  if (typeof token !== 'string' || token.length === 0 || token.length > 256) return false;
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(tokenHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
