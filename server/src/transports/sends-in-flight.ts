/**
 * `limits.maxSendsInFlight`: the send POSTs of one session this node serves at once, counted from
 * their proof (before the body is read) to their answer. Each may hold up to `maxBatchBytes` while
 * it is read and queued behind the session's earlier batches; a client keeps one batch in flight
 * (two or three across a transport switch, a retry or a probe). A session is in the map only while
 * it has a POST in flight (weakly: a core is never kept alive by it), so idle sessions cost nothing.
 */
import type { SessionCore } from '../session/core.js';

const inFlight = new WeakMap<SessionCore, number>();

/** Counts a send POST of `core` in, unless `max` are being served already. */
export function beginSend(core: SessionCore, max: number): boolean {
  const n = inFlight.get(core) ?? 0;
  if (n >= max) return false;
  inFlight.set(core, n + 1);
  return true;
}

/** The POST that {@link beginSend} counted in was answered (or failed). */
export function endSend(core: SessionCore): void {
  const n = (inFlight.get(core) ?? 1) - 1;
  if (n > 0) inFlight.set(core, n);
  else inFlight.delete(core);
}

/** Counts `served` (a POST's handling, from its proof) out once it settles: at once when it answered within the call. */
export function counted(core: SessionCore, served: () => Promise<void> | void): Promise<void> | void {
  let p: Promise<void> | void;
  try {
    p = served();
  } catch (err) {
    endSend(core);
    throw err;
  }
  if (p === undefined) return endSend(core);
  return p.finally(() => endSend(core));
}
