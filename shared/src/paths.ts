/** Endpoint paths of protocol v1, relative to the mount path (default `/burrow`). */
export const DEFAULT_PATH = '/burrow';

export const Endpoint = {
  /** WebSocket upgrade; `?sid=&token=&ack=` resumes. */
  ws: '/ws',
  /** POST: HTTP handshake. */
  sessions: '/sessions',
  /** Browser bundle (ESM); `client.global.js` is the classic-script build. */
  client: '/client.js',
} as const;

/** HTTP transport endpoints of one session. */
export function sessionPath(base: string, sid: string, what: 'sse' | 'poll' | 'send'): string {
  return `${base}/sessions/${encodeURIComponent(sid)}/${what}`;
}

/** Session ids are URL-safe base64 of random bytes; anything else is refused before any lookup. */
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;
