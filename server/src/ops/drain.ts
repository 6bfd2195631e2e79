/**
 * Graceful drain of one node (a rolling deploy): new sessions and new downstreams are refused with
 * 503 `service_restart` (close 1012, RFC 6455 "Service Restart") and `Retry-After`, so a balancer or
 * the client picks another node; every live transport is told to move (WebSocket closed with 1012, a
 * held poll answered empty, an SSE stream ended) and the client resumes elsewhere with nothing lost:
 * the session is in the shared store. Upstream POSTs are still served while draining.
 */
import { refusal, wsRefusal } from '../errors/refusals.js';
import type { SessionCore } from '../session/core.js';

/** How a moved transport is closed: the table's `serviceRestart` (1012), as a refused upgrade is. */
const MOVE = wsRefusal(refusal('serviceRestart'));

/** Routes a draining node refuses: the handshake and every downstream (WebSocket is checked apart). */
export function refusedWhileDraining(rest: string): boolean {
  return rest === '/sessions' || rest.endsWith('/sse') || rest.endsWith('/poll');
}

export interface DrainOptions {
  /**
   * How long to wait for the transports to leave, in ms from now (or a Date). Default 30000. Every
   * live transport is told to move at once even when it is 0 or past.
   */
  deadline?: number | Date;
}

export interface DrainResult {
  /** Live transports told to move (a polling session between two polls is not counted). */
  readonly moved: number;
  /** Live transports still here when the drain resolved (0 unless the deadline passed). */
  readonly remaining: number;
}

/** What the drain needs from the session registry. */
export interface DrainHost {
  cores(): Iterable<SessionCore>;
}

const TICK = 25;
/** Quiet ticks in a row before the drain trusts that no late request is still about to attach. */
const SETTLE_TICKS = 3;

/**
 * Ends every live transport with 1012 and keeps doing so for any that attaches late (a request that
 * was already past the draining check), until none is left or the deadline passes. The first pass
 * runs whatever the deadline: a deadline of 0 or in the past still tells every transport to move.
 */
export async function drainTransports(host: DrainHost, options: DrainOptions): Promise<DrainResult> {
  const d = options.deadline;
  const until = d instanceof Date ? d.getTime() : Date.now() + (d ?? 30_000);
  let moved = 0;
  let quiet = 0;
  for (;;) {
    const cores = [...host.cores()];
    const live = cores.filter((c) => c.attached);
    moved += live.length;
    // Cached cores go too (a polling session between two polls has no downstream attached).
    for (const core of cores) core.dispose(MOVE.code, MOVE.reason);
    quiet = live.length === 0 ? quiet + 1 : 0;
    if (quiet >= SETTLE_TICKS) return { moved, remaining: 0 };
    if (Date.now() >= until) return { moved, remaining: [...host.cores()].filter((c) => c.attached).length };
    await new Promise((r) => setTimeout(r, TICK));
  }
}
