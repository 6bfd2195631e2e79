/**
 * Liveness of a session's downstream on this node: while one is attached (polls excepted), a tick
 * refreshes the session's TTL in the store and ends a downstream whose client has shown no life, here
 * or on another node, for `heartbeat + heartbeatTimeout`. The ticks of all the node's sessions run on
 * one list (the registry's `heartbeats`, see deadlines.ts), not on a setInterval per session.
 */
import { CloseCode } from '@burrow/shared';
import { monotonicNow } from '../deadlines.js';
import type { ResolvedOptions } from '../options.js';
import type { SessionRecord } from '../store/store.js';
import type { Downstream, SessionHost } from './types.js';

/** What the heartbeat needs of its core; the core keeps the two numbers, so a session has no heartbeat object. */
export interface HeartbeatHost {
  readonly id: string;
  readonly host: SessionHost;
  readonly downstream: Downstream | undefined;
  /** When the client last showed life on this node (deadlines.ts `monotonicNow`). */
  lastSeen: number;
  /** The record's activity counter as last seen: a change means the client showed life elsewhere. */
  activity: number;
  transportFailed(d: Downstream | undefined, err: unknown): void;
}

/** Time between two ticks of one session (ms). */
export function heartbeatInterval(o: ResolvedOptions): number {
  return Math.max(10, Math.min(o.heartbeatTimeout / 2, o.resumeWindow / 3));
}

/**
 * One tick of `core`'s heartbeat. Never throws. On the in-process store it completes in the call: the
 * ticks due together run in one loop (deadlines.ts), and an async tick each would hold every one of
 * them, promise and record copy, until the loop ends.
 */
export function heartbeat(core: HeartbeatHost): void {
  const d = core.downstream;
  if (!d) return;
  const store = core.host.store;
  const ttl = core.host.options.resumeWindow;
  // Refreshes the TTL while a transport is attached, and tells us whether the client showed life
  // on another node (an SSE client's POSTs may land anywhere).
  const sync = store.sync;
  if (sync) {
    let rec: SessionRecord | undefined;
    try {
      rec = sync.touchSync(core.id, ttl, false);
    } catch (err) {
      return core.transportFailed(d, err);
    }
    return touched(core, d, rec);
  }
  store.touch(core.id, ttl, false).then(
    (rec) => touched(core, d, rec),
    (err: unknown) => core.transportFailed(d, err),
  );
}

/** The rest of a tick, with the record the touch returned. */
function touched(core: HeartbeatHost, d: Downstream, rec: SessionRecord | undefined): void {
  const o = core.host.options;
  try {
    if (!rec) {
      d.end(CloseCode.SessionUnknown, 'session expired');
      return;
    }
    if (rec.activity !== core.activity) {
      core.activity = rec.activity;
      core.lastSeen = monotonicNow();
    }
    if (core.downstream === d && monotonicNow() - core.lastSeen > o.heartbeat + o.heartbeatTimeout) {
      d.end(CloseCode.Abnormal, 'heartbeat timeout');
    }
  } catch (err) {
    core.transportFailed(d, err);
  }
}
