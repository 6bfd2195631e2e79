/**
 * Room sends and broadcasts: one message appended to every member's own seq'd log, on whatever node
 * serves each, and the 4003 close of a member whose buffer it found full.
 */
import { CloseCode } from '@burrow/shared';
import { storeUnavailable } from '../errors/burrow-error.js';
import { preparePayload, type SendData } from './payload.js';
import type { ResolvedOptions } from '../options.js';
import type { AppendResult, SessionRecord, Store } from '../store/store.js';
import type { SessionCore } from './core.js';

/** What a fan-out needs of the node's registry. */
export interface FanoutHost {
  readonly options: ResolvedOptions;
  readonly store: Store;
  readonly storeDown: boolean;
  /** The live core of `sid` on this node, if any. */
  live(sid: string): SessionCore | undefined;
  /** A core for a session not live here, to record its close from this node (the caller disposes of it). */
  transientCore(record: SessionRecord): SessionCore;
  emitError(err: unknown): void;
}

/**
 * One message to every member of `room` (every open session when undefined). A member whose buffer
 * is full is closed with 4003 (or paused, with onBufferFull 'pause'); the others still get it.
 */
export async function fanout(reg: FanoutHost, room: string | undefined, input: SendData): Promise<{ delivered: number }> {
  const { data, size } = preparePayload(input, reg.options.limits.maxPayload);
  if (reg.storeDown) throw storeUnavailable();
  const sids = await reg.store.members(room);
  if (sids.length === 0) return { delivered: 0 };
  const frame = { t: 'd' as const, data, size };
  let delivered = 0;
  let stale: string[] | undefined;
  const settle = (sid: string, r: AppendResult): void => {
    if (r.ok) {
      delivered++;
      // Held here: written at once; elsewhere the store's wake-up reaches the holder.
      reg.live(sid)?.deliverAppended(r.frames);
    } else if (r.reason === 'overflow') {
      // onBufferFull 'pause': the member held here stops being read until it drains (see backpressure.ts).
      const live = reg.options.onBufferFull === 'pause' ? reg.live(sid) : undefined;
      if (live) live.gate.pause();
      else overflowed(reg, sid).catch((err: unknown) => reg.emitError(err));
    } else if (room !== undefined) (stale ??= []).push(sid);
  };
  const sync = reg.store.sync;
  if (sync) {
    // In-process store: each member's core appends as its own sender (the origin), so the store
    // schedules no wake-up for a core that writes the frame itself. Through appendEach every live
    // member cost a wake-up event, an extras object and a setImmediate per broadcast, and the
    // wake-up a pump that found nothing to write: half the GC of a 1,000-session fan-out.
    const one = [frame];
    const { limits } = reg.options;
    // Once per session however often `members` names it, as appendEach does.
    const seen = new Set<string>();
    for (const sid of sids) {
      if (seen.size === seen.add(sid).size) continue;
      const core = reg.live(sid);
      const r = sync.appendSync(sid, one, limits, core);
      if (r.ok) {
        delivered++;
        core?.deliverAppended(r.frames);
      } else settle(sid, r);
    }
  } else {
    const results = await reg.store.appendEach(sids, frame, reg.options.limits);
    for (const [sid, r] of results) settle(sid, r);
  }
  // A member with no session, or a closed one: a membership whose removal failed (a networked store's
  // SREM after a refused join, or an expiry's cleanup, during an outage), or a join whose SADD landed
  // after the close's SREM (on Redis Cluster the room's set and the session are on different slots, so
  // no script sees both). Left, it would cost every fan-out to the room an append until the record
  // expires, and `members` would name it; the session set itself is the expiry sweep's to clean.
  if (stale && room !== undefined) {
    const from = room;
    await Promise.all(stale.map((sid) => reg.store.leave(sid, from).catch((err: unknown) => reg.emitError(err))));
  }
  return { delivered };
}

/** A fan-out found `sid`'s buffer full: the session ends with 4003, from whichever node this is. */
async function overflowed(reg: FanoutHost, sid: string): Promise<void> {
  let core = reg.live(sid);
  let transient = false;
  if (!core) {
    const record = await reg.store.get(sid);
    if (!record || record.closed) return;
    core = reg.transientCore(record);
    transient = true;
  }
  try {
    await core.closeBy('server', CloseCode.BufferOverflow, 'outbound buffer full');
  } finally {
    // A core made only to record the close: the node holding the transport delivers the frame.
    if (transient) core.dispose();
  }
}
