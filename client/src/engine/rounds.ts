/**
 * When the next round of attempts starts: after a backoff with full jitter when a whole round failed
 * or the live transport was lost, at once (with a little jitter) when a draining server asked us to
 * move, and never once the first connection has spent its retry budget. attempts.ts runs the rounds.
 */
import { CONNECTING, RECONNECTING, type Link } from './link.js';
import type { Timing } from './setup.js';

/** Before the first open, overload answers (1013 / 503) are retried for this long (ms). */
const INITIAL_RETRY_BUDGET = 30_000;
/** A draining server's "move" (1012) is followed at once this many times in a row, then with backoff. */
const QUICK_RESTARTS = 3;

/** What the rounds report to, and start. */
export interface RoundsHost {
  /** Starts the next round. */
  start(): void;
  /** The first connection is out of retries: it fails, as in a browser. */
  giveUp(): void;
  /** While the session is reconnecting: round `round` (1, 2, ...) starts in `delay` ms. */
  retrying(round: number, delay: number): void;
}

export class Rounds {
  readonly #timing: Timing;
  readonly #link: Link;
  readonly #host: RoundsHost;
  readonly #startedAt = Date.now();
  #backoffN = 0;
  /** "Move" answers (1012) in a row since the last open. */
  #restarts = 0;
  /** Rounds started since the live transport was lost (reported with `retrying`). */
  #rounds = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timing: Timing, link: Link, host: RoundsHost) {
    this.#timing = timing;
    this.#link = link;
    this.#host = host;
  }

  /** A transport opened: the next loss starts from the first round and the shortest backoff. */
  settled(): void {
    this.#rounds = 0;
    this.#backoffN = 0;
    this.#restarts = 0;
  }

  /** A round starts now without waiting (an upgrade probe that was resuming already): reported as such. */
  atOnce(): void {
    this.#host.retrying(++this.#rounds, 0);
  }

  /** Next round after the backoff (full jitter), and no sooner than `minDelay`. */
  later(minDelay: number): void {
    if (this.#link.state === CONNECTING && Date.now() - this.#startedAt > INITIAL_RETRY_BUDGET) return this.#host.giveUp();
    const { reconnectDelay, reconnectDelayMax } = this.#timing;
    const cap = Math.min(reconnectDelayMax, reconnectDelay * 2 ** this.#backoffN);
    this.#backoffN = Math.min(this.#backoffN + 1, 30);
    this.#next(Math.max(minDelay, Math.random() * cap));
  }

  /**
   * The server asked us to move (1012 / 503 `service_restart`: a draining node). Not a failure: the
   * next round starts at once (a little jitter spreads a node's clients), with no backoff growth — a
   * few times in a row, then the normal backoff and `Retry-After` (e.g. a single node that drains).
   */
  restartSoon(retryAfter: number): void {
    if (++this.#restarts > QUICK_RESTARTS) return this.later(retryAfter);
    this.#next(Math.random() * Math.min(this.#timing.reconnectDelay, 100));
  }

  /** No further round. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #next(delay: number): void {
    if (this.#link.state === RECONNECTING) this.#host.retrying(++this.#rounds, delay);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#host.start();
    }, delay);
  }
}
