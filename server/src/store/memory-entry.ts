/**
 * One session as MemoryStore keeps it: the entry's shape, the fields made on first need, and the
 * store's own copy of a record. Apart from memory-store.ts because what a session costs the store
 * (issue #12, idle memory per session) is decided here, field by field.
 */
import type { DeadlineLinks } from '../deadlines.js';
import type { OutboundFrame, SessionRecord, WakeEvent, WakeListener } from './store.js';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface Entry extends DeadlineLinks {
  record: Mutable<SessionRecord>;
  /** Unacknowledged frames; `log[head]` has seq `record.outAck + 1`. MemoryStore's shared empty log while empty. */
  log: OutboundFrame[];
  head: number;
  bytes: number;
  /** The TTL last set: the expiry list the entry is on. */
  ttl: number;
  /** Subscribers (see wake-listeners.ts). */
  listeners: WakeListener | WakeListener[] | undefined;
  /** Made on first need (see EntryExtras). */
  more: EntryExtras | undefined;
}

/**
 * What an entry needs only once another node's core listens to it or it joins a room: apart, so an
 * idle session on one node keeps no field for it (8 bytes a field, every session).
 */
interface EntryExtras {
  /** Events waiting for delivery; delivered on the next turn of the event loop, in order. */
  pending: WakeEvent[] | undefined;
  /**
   * With `pending`: the one listener that published every event in it (it acted on them itself, so
   * waking it is wasted), or null once the events came from several places.
   */
  pendingOrigin: WakeListener | null | undefined;
  /** Rooms this session is in (created on first join). */
  rooms: Set<string> | undefined;
}

export function extras(e: Entry): EntryExtras {
  return (e.more ??= { pending: undefined, pendingOrigin: undefined, rooms: undefined });
}

/**
 * The store's own copy of a new record. Field by field for the usual one (no `user`, not raced, not
 * closed): V8 gives a spread copy two slots of slack, 16 bytes more for every session the store holds.
 */
export function ownCopy(r: SessionRecord): Mutable<SessionRecord> {
  if (r.user !== undefined || r.raced || r.closed) return { ...r };
  const own: Mutable<Required<Omit<SessionRecord, OptionalField>>> = {
    id: r.id,
    tokenHash: r.tokenHash,
    protocol: r.protocol,
    data: r.data,
    inAck: r.inAck,
    outSeq: r.outSeq,
    outAck: r.outAck,
    activity: r.activity,
  };
  return own;
}
/** The fields `ownCopy`'s field-by-field copy leaves out, as they are unset there. */
type OptionalField = 'user' | 'raced' | 'closed';
/** Fails to compile when SessionRecord gains an optional field `ownCopy` does not check for. */
const ownCopyChecksEveryOptionalField: Exclude<OptionalKeys<SessionRecord>, OptionalField> extends never ? true : never = true;
void ownCopyChecksEveryOptionalField;
type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
