/**
 * The default store: everything in this process. Single node only (or several Burrow instances in one
 * process, which is how the tests simulate a cluster). Plain `Map`s, never object keys, so a session
 * id like `__proto__` is just a string. Frames are kept as the session core handed them, with their
 * cached encodings, so the WebSocket fast path costs one array push per message.
 */
import type {
  AppendLimits,
  AppendResult,
  CloseResult,
  InboundResult,
  NewFrame,
  OutboundFrame,
  SessionRecord,
  Store,
  StoreStatus,
  SyncStore,
  WakeEvent,
  WakeListener,
} from './store.js';
import { payloadSize } from '@burrow/shared';
import { Deadlines } from '../deadlines.js';
import { addListener, listenerCount, listenersOf, removeListener, wake } from './wake-listeners.js';
import { type Entry, extras, ownCopy } from './memory-entry.js';

const UNKNOWN: AppendResult = { ok: false, reason: 'unknown' };

/**
 * The log of every entry with nothing unacknowledged (most of them, most of the time): shared, so an
 * idle session holds no array. Never pushed to: an append gives the entry an array of its own.
 */
const NO_FRAMES: OutboundFrame[] = [];

/** Compact the log array once this many trimmed slots pile up at its head. */
const COMPACT_AT = 1024;

/**
 * In-process {@link Store}. Expiries run on one unref()'d timer per TTL length (deadlines.ts), so
 * they never hold the process open and cost no timer per session.
 */
export class MemoryStore implements Store, SyncStore {
  /** Every per-message call has a synchronous twin here (see {@link Store.sync}). */
  readonly sync: SyncStore = this;
  readonly #sessions = new Map<string, Entry>();
  readonly #expiredListeners: ((record: SessionRecord) => void)[] = [];
  /** room -> session ids; a room with no members is removed. */
  readonly #rooms = new Map<string, Set<string>>();
  /** Unacknowledged payload bytes of every log together (for `maxTotalBufferedBytes`). */
  #totalBytes = 0;
  /** Each entry's expiry, `ttl` after its last touch. */
  readonly #expiries = new Deadlines<Entry>((e) => this.#expire(e));

  /** Unacknowledged outbound payload bytes held for all sessions (for tests and metrics). */
  get bufferedBytes(): number {
    return this.#totalBytes;
  }

  async create(record: SessionRecord, ttlMs: number): Promise<void> {
    this.createSync(record, ttlMs);
  }

  createSync(record: SessionRecord, ttlMs: number): void {
    if (this.#sessions.has(record.id)) throw new Error('session id collision');
    const entry: Entry = {
      record: ownCopy(record),
      log: NO_FRAMES,
      head: 0,
      bytes: 0,
      ttl: ttlMs,
      listeners: undefined,
      more: undefined,
      // Its expiry's place (deadlines.ts): four fields, where an entry of a shared Map cost ~91 bytes.
      dlList: undefined,
      dlPrev: undefined,
      dlNext: undefined,
      dlAt: 0,
    };
    this.#sessions.set(record.id, entry);
    this.#expiries.arm(entry, entry.ttl);
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    const e = this.#sessions.get(sid);
    return e ? { ...e.record } : undefined;
  }

  peekSync(sid: string): SessionRecord | undefined {
    return this.#sessions.get(sid)?.record;
  }

  async touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    return this.touchSync(sid, ttlMs, activity);
  }

  touchSync(sid: string, ttlMs: number, activity: boolean): SessionRecord | undefined {
    const e = this.#sessions.get(sid);
    if (!e) return undefined;
    if (activity) e.record.activity++;
    if (ttlMs !== e.ttl) {
      this.#expiries.disarm(e, e.ttl);
      e.ttl = ttlMs;
    }
    this.#expiries.arm(e, ttlMs);
    return { ...e.record };
  }

  async delete(sid: string): Promise<void> {
    const e = this.#sessions.get(sid);
    if (!e) return;
    this.#expiries.disarm(e, e.ttl);
    this.#sessions.delete(sid);
    this.#totalBytes -= e.bytes;
    this.#dropMemberships(sid, e);
  }

  async setData(sid: string, data: unknown): Promise<boolean> {
    const e = this.#sessions.get(sid);
    if (!e) return false;
    e.record.data = data;
    return true;
  }

  async append(sid: string, frames: readonly NewFrame[], limits: AppendLimits): Promise<AppendResult> {
    return this.appendSync(sid, frames, limits);
  }

  appendSync(sid: string, frames: readonly NewFrame[], limits: AppendLimits, origin?: WakeListener): AppendResult {
    const e = this.#sessions.get(sid);
    if (!e) return UNKNOWN;
    return this.#append(e, frames, limits, origin);
  }

  #append(e: Entry, frames: readonly NewFrame[], limits: AppendLimits, origin?: WakeListener): AppendResult {
    if (e.record.closed) return { ok: false, reason: 'closed' };
    let bytes = 0;
    for (const f of frames) bytes += f.size ?? payloadSize(f.data);
    const count = e.log.length - e.head;
    if (count + frames.length > limits.maxBufferedMessages || e.bytes + bytes > limits.maxBufferedBytes) {
      return { ok: false, reason: 'overflow' };
    }
    if (limits.maxTotalBufferedBytes !== undefined && this.#totalBytes + bytes > limits.maxTotalBufferedBytes) {
      return { ok: false, reason: 'overflow' };
    }
    const out: OutboundFrame[] = [];
    if (e.log === NO_FRAMES) e.log = [];
    for (const f of frames) {
      const seq = ++e.record.outSeq;
      const stored: OutboundFrame = { frame: { t: 'd', seq, data: f.data }, size: f.size ?? payloadSize(f.data) };
      e.log.push(stored);
      out.push(stored);
    }
    e.bytes += bytes;
    this.#totalBytes += bytes;
    // The caller's own listener alone, nothing pending: #publish would wake no one (no event made).
    if (e.more?.pending || origin === undefined || e.listeners !== origin) this.#publish(e, { type: 'append', lastSeq: e.record.outSeq }, origin);
    return { ok: true, frames: out };
  }

  async appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    const e = this.#sessions.get(sid);
    if (!e) return { ok: false, reason: 'unknown' };
    if (e.record.closed) return { ok: true, first: false, record: { ...e.record } };
    e.record.closed = { by, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) };
    const seq = ++e.record.outSeq;
    const frame: OutboundFrame = {
      frame: { t: 'close', seq, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) },
      size: 0,
    };
    if (e.log === NO_FRAMES) e.log = [];
    e.log.push(frame);
    this.#publish(e, { type: 'append', lastSeq: seq });
    return { ok: true, first: true, frame, record: { ...e.record } };
  }

  async read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    return this.readSync(sid, afterSeq, maxFrames, maxBytes);
  }

  readSync(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): readonly OutboundFrame[] {
    const e = this.#sessions.get(sid);
    if (!e) return [];
    // log[head] has seq outAck+1, so the index of seq s is head + (s - outAck - 1).
    let i = e.head + Math.max(0, afterSeq - e.record.outAck);
    const out: OutboundFrame[] = [];
    let bytes = 0;
    for (; i < e.log.length && out.length < maxFrames; i++) {
      const f = e.log[i]!;
      if (out.length > 0 && bytes + f.size > maxBytes) break;
      bytes += f.size;
      out.push(f);
    }
    return out;
  }

  async ack(sid: string, ack: number): Promise<boolean> {
    return this.ackSync(sid, ack);
  }

  ackSync(sid: string, ack: number): boolean {
    const e = this.#sessions.get(sid);
    if (!e) return false;
    // Never past what was assigned: an ack for unsent frames must not trim frames appended later.
    const upTo = Math.min(ack, e.record.outSeq);
    while (e.record.outAck < upTo) {
      const f = e.log[e.head];
      if (f) {
        e.bytes -= f.size;
        this.#totalBytes -= f.size;
        e.log[e.head] = undefined as unknown as OutboundFrame;
      }
      e.head++;
      e.record.outAck++;
    }
    if (e.head > 0 && e.head === e.log.length) {
      e.log = NO_FRAMES;
      e.head = 0;
    } else if (e.head >= COMPACT_AT) {
      e.log = e.log.slice(e.head);
      e.head = 0;
    }
    return true;
  }

  /**
   * No inbound journal: this store lives and dies with the node that emits the messages, so a commit
   * can never outlive its `message` event; the frame is ignored, `replay` never returned, and
   * `confirmInbound` / `replayInbound` are left out (the WebSocket fast path does nothing extra).
   */
  async acceptInbound(sid: string, seq: number): Promise<InboundResult> {
    return this.acceptInboundSync(sid, seq);
  }

  acceptInboundSync(sid: string, seq: number): InboundResult {
    const e = this.#sessions.get(sid);
    if (!e) return { status: 'unknown', ack: 0 };
    const r = e.record;
    if (seq === r.inAck + 1) {
      r.inAck = seq;
      return { status: 'new', ack: seq };
    }
    return { status: seq <= r.inAck ? 'dup' : 'gap', ack: r.inAck };
  }

  async publish(sid: string, event: WakeEvent): Promise<void> {
    this.publishSync(sid, event);
  }

  publishSync(sid: string, event: WakeEvent, origin?: WakeListener): void {
    const e = this.#sessions.get(sid);
    if (e) this.#publish(e, event, origin);
  }

  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void {
    const e = this.#sessions.get(sid);
    if (!e) return () => {};
    addListener(e, listener);
    return () => removeListener(e, listener);
  }

  subscribeSync(sid: string, listener: WakeListener): void {
    const e = this.#sessions.get(sid);
    if (e) addListener(e, listener);
  }

  unsubscribeSync(sid: string, listener: WakeListener): void {
    const e = this.#sessions.get(sid);
    if (e) removeListener(e, listener);
  }

  onExpired(listener: (record: SessionRecord) => void): () => void {
    this.#expiredListeners.push(listener);
    return () => {
      const i = this.#expiredListeners.indexOf(listener);
      if (i >= 0) this.#expiredListeners.splice(i, 1);
    };
  }

  // ---- rooms ----

  async join(sid: string, room: string): Promise<boolean> {
    const e = this.#sessions.get(sid);
    if (!e) return false;
    const more = extras(e);
    (more.rooms ??= new Set()).add(room);
    let set = this.#rooms.get(room);
    if (!set) this.#rooms.set(room, (set = new Set()));
    set.add(sid);
    return true;
  }

  async leave(sid: string, room: string): Promise<void> {
    this.#sessions.get(sid)?.more?.rooms?.delete(room);
    const set = this.#rooms.get(room);
    if (!set) return;
    set.delete(sid);
    if (set.size === 0) this.#rooms.delete(room);
  }

  async rooms(sid: string): Promise<readonly string[]> {
    const r = this.#sessions.get(sid)?.more?.rooms;
    return r ? [...r] : [];
  }

  async members(room: string | undefined): Promise<readonly string[]> {
    const out: string[] = [];
    if (room === undefined) {
      for (const [sid, e] of this.#sessions) if (!e.record.closed) out.push(sid);
      return out;
    }
    const set = this.#rooms.get(room);
    if (!set) return out;
    for (const sid of set) if (this.#sessions.get(sid)?.record.closed === undefined) out.push(sid);
    return out;
  }

  async appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    const out = new Map<string, AppendResult>();
    const one = [frame];
    for (const sid of sids) {
      if (out.has(sid)) continue;
      const e = this.#sessions.get(sid);
      out.set(sid, e ? this.#append(e, one, limits) : { ok: false, reason: 'unknown' });
    }
    return out;
  }

  // ---- health: an in-process store is always up ----

  status(): StoreStatus {
    return 'up';
  }

  onStatus(_listener: (status: StoreStatus) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.#expiries.clear();
    this.#sessions.clear();
    this.#totalBytes = 0;
    this.#rooms.clear();
  }

  #dropMemberships(sid: string, e: Entry): void {
    const rooms = e.more?.rooms;
    if (!rooms) return;
    for (const room of rooms) {
      const set = this.#rooms.get(room);
      if (!set) continue;
      set.delete(sid);
      if (set.size === 0) this.#rooms.delete(room);
    }
    e.more!.rooms = undefined;
  }

  /** Number of records held (for tests and metrics). */
  get size(): number {
    return this.#sessions.size;
  }

  #expire(e: Entry): void {
    const sid = e.record.id;
    if (this.#sessions.get(sid) !== e) return;
    this.#sessions.delete(sid);
    this.#totalBytes -= e.bytes;
    this.#dropMemberships(sid, e);
    // Exactly one listener hears of each expiry, as a networked store's claim would ensure.
    const listener = this.#expiredListeners[0];
    listener?.({ ...e.record });
  }

  /**
   * Wake-ups are delivered on the next turn, coalesced. An append's `origin` (the core that appended
   * and writes the frames itself) is not woken for it: with no other listener, as on a single node,
   * an append schedules nothing at all.
   */
  #publish(e: Entry, event: WakeEvent, origin?: WakeListener): void {
    const n = listenerCount(e);
    if (n === 0) return;
    const pending = e.more?.pending;
    if (pending) {
      const last = pending[pending.length - 1];
      if (event.type === 'append' && last?.type === 'append') pending[pending.length - 1] = event;
      else pending.push(event);
      if (e.more!.pendingOrigin !== origin) e.more!.pendingOrigin = null;
      return;
    }
    if (origin && e.listeners === origin) return;
    const more = extras(e);
    more.pending = [event];
    more.pendingOrigin = origin;
    setImmediate(() => {
      const events = more.pending ?? [];
      const skip = more.pendingOrigin;
      more.pending = more.pendingOrigin = undefined;
      for (const ev of events) {
        for (const l of listenersOf(e)) if (l !== skip) wake(l, ev);
      }
    });
  }
}
