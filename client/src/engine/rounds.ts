/**
 * When the next round of attempts starts: after a backoff with full jitter when a whole round failed
 * or the live transport was lost, at once (with a little jitter) when a draining server asked us to
 * move, and never once the first connection has spent its retry budget. attempts.ts runs the rounds.
 */
import { MAX_DELAY } from '@burrow/shared';
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

/** See {@link createRounds}. */
export type Rounds = ReturnType<typeof createRounds>;

/** A closure rather than a class, for the bundle size: see docs/ARCHITECTURE.md, "Closures, not classes". */
export function createRounds(timing: Timing, link: Link, host: RoundsHost) {
  const startedAt = Date.now();
  let backoffN = 0;
  /** "Move" answers (1012) in a row since the last open. */
  let restarts = 0;
  /** Rounds started since the live transport was lost (reported with `retrying`). */
  let round = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  /** A transport opened: the next loss starts from the first round and the shortest backoff. */
  const settled = (): void => {
    round = 0;
    backoffN = 0;
    restarts = 0;
  };

  /** A round starts now without waiting (an upgrade probe that was resuming already): reported as such. */
  const atOnce = (): void => {
    host.retrying(++round, 0);
  };

  /** Next round after the backoff (full jitter), and no sooner than `minDelay`. */
  const later = (minDelay: number): void => {
    if (link.state === CONNECTING && Date.now() - startedAt > INITIAL_RETRY_BUDGET) return host.giveUp();
    const { backoffMs, backoffCap } = timing;
    const cap = Math.min(backoffCap, backoffMs * 2 ** backoffN);
    backoffN = Math.min(backoffN + 1, 30);
    next(Math.max(minDelay, Math.random() * cap));
  };

  /**
   * The server asked us to move (1012 / 503 `service_restart`: a draining node). Not a failure: the
   * next round starts at once (a little jitter spreads a node's clients), with no backoff growth — a
   * few times in a row, then the normal backoff and `Retry-After` (e.g. a single node that drains).
   */
  const restartSoon = (retryAfter: number): void => {
    if (++restarts > QUICK_RESTARTS) return later(retryAfter);
    next(Math.random() * Math.min(timing.backoffMs, 100));
  };

  /** No further round. */
  const stop = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };

  const next = (delay: number): void => {
    // A Retry-After past what a timer holds (~24.8 days) would fire at once, round after round.
    delay = Math.min(delay, MAX_DELAY);
    if (link.state === RECONNECTING) host.retrying(++round, delay);
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      host.start();
    }, delay);
  };
  return { settled, atOnce, later, restartSoon, stop };
}
