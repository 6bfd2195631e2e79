/**
 * The node's handshake budget: a token bucket of `limits.maxHandshakesPerSecond` tokens, refilled
 * continuously, shared by new WebSocket sessions and the HTTP handshakes (`{path}/sessions`). Over it a handshake is
 * shed: 503 `overloaded` with `Retry-After`, or a WebSocket close 1013. Resumes never spend a token.
 */
import type { SessionRegistry } from '../session/registry.js';

export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, burst = perSecond, now = Date.now()) {
    this.#rate = perSecond;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#at = now;
  }

  /** Takes one token if there is one. */
  take(now = Date.now()): boolean {
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#rate) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

const buckets = new WeakMap<SessionRegistry, TokenBucket>();

/** One token from this node's handshake bucket; false when the node must shed the handshake. */
export function takeHandshake(reg: SessionRegistry): boolean {
  let b = buckets.get(reg);
  if (!b) buckets.set(reg, (b = new TokenBucket(reg.options.limits.maxHandshakesPerSecond)));
  return b.take();
}
