/**
 * A session's record, outbound log and rooms: every call is one script, or one batch where a session
 * set (`{prefix}:sessions`, a room) changes with it. A script sees only its session's keys (one Cluster
 * slot), so the sets outside them are written next to it, in an order that never leaves a member
 * without a record behind.
 */
import type { AppendLimits, AppendResult, CloseResult, NewFrame, OutboundFrame, SessionRecord } from '../store.js';
import { AppendGroups, appendResult, type AppendWatch } from './append-groups.js';
import { batch, batchOrThrow, type Command, type Shared } from './commands.js';
import { EntryPack, count, decodePacked, decodeRecord, encodeClose, encodeRecord, ms, payloadBytes, seqArg } from './codec.js';

export class SessionRecords {
  readonly #s: Shared;
  /** The expiry grace as an integer string. */
  readonly #grace: string;

  readonly #groups: AppendGroups;

  constructor(shared: Shared, graceMs: number, watch: AppendWatch, wakeFramesMaxBytes: string) {
    this.#s = shared;
    this.#groups = new AppendGroups(shared, watch, wakeFramesMaxBytes);
    this.#grace = seqArg(graceMs);
  }

  // ---- the record ---------------------------------------------------------------------------------

  async create(record: SessionRecord, ttlMs: number): Promise<void> {
    const { r, keys } = this.#s;
    // Script first, then the membership: a sweep between the two never sees a member without a record.
    const [created] = await batchOrThrow(r, [
      (c) => c.burrowCreate(...keys.session(record.id), ms(ttlMs), this.#grace, ...encodeRecord(record)),
      (c) => c.sadd(keys.sessions, record.id),
    ]);
    if (created !== 1) throw new Error('session id collision');
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    return decodeRecord(sid, await this.#s.r.burrowGet(...this.#s.keys.session(sid)));
  }

  async touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    const flat = await this.#s.r.burrowTouch(...this.#s.keys.session(sid), ms(ttlMs), this.#grace, activity ? '1' : '0');
    return decodeRecord(sid, flat);
  }

  async touchProven(sid: string, tokenHash: string, ttlMs: number, claim: boolean): Promise<SessionRecord | undefined> {
    const flat = await this.#s.r.burrowTouchProven(...this.#s.keys.session(sid), ms(ttlMs), this.#grace, tokenHash, claim ? '1' : '0');
    return decodeRecord(sid, flat);
  }

  async delete(sid: string): Promise<void> {
    const { r, keys } = this.#s;
    const [rooms] = await batchOrThrow(r, [(c) => c.burrowDelete(...keys.session(sid)), (c) => c.srem(keys.sessions, sid)]);
    if (!Array.isArray(rooms) || rooms.length === 0) return;
    await batchOrThrow(r, rooms.map((room): Command => (c) => c.srem(keys.room(String(room)), sid)));
  }

  async setData(sid: string, data: unknown): Promise<boolean> {
    const json = data === undefined ? undefined : JSON.stringify(data);
    return (await this.#s.r.burrowSetData(...this.#s.keys.session(sid), json === undefined ? '0' : '1', json ?? '')) === 1;
  }

  // ---- the outbound log ---------------------------------------------------------------------------

  /** Sent with the session's other appends of this turn, as one script (append-groups.ts). */
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token?: string, after?: string): Promise<AppendResult> {
    return this.#groups.append(sid, frames, limits, token, after);
  }

  async appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    const unique = [...new Set(sids)];
    const size = payloadBytes(frame.data, frame.size);
    const pack = new EntryPack();
    pack.add(frame.data, size);
    const blob = pack.blob();
    const { keys } = this.#s;
    const max = count(limits.maxBufferedMessages);
    const bytes = seqArg(limits.maxBufferedBytes);
    // A fan-out's wakes carry no frames ('0'): one message to N sessions would be N copies of it on
    // the subscribers' connections at once, where a read is pulled when each node gets to it.
    const res = await batch(
      this.#s.r,
      unique.map((sid): Command => (c) => c.burrowAppend(...keys.session(sid), keys.wake(sid), max, bytes, '\t\t1\n', pack.lengths, blob, '', '0')),
    );
    const out = new Map<string, AppendResult>();
    unique.forEach((sid, i) => {
      const r = res[i];
      if (!r || !r.ok) throw r?.error ?? new Error('redis pipeline aborted');
      const codes = Array.isArray(r.value) ? (r.value as unknown[]) : [];
      out.set(sid, appendResult(codes.length === 0 ? -1 : codes[0], [frame], [size]));
    });
    return out;
  }

  /** After the appends made before it (append-groups.ts, afterTurn): the close comes last in the log. */
  appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    return this.#groups.afterTurn(() => this.#appendClose(sid, by, code, reason));
  }

  async #appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    const { r, keys } = this.#s;
    const entry = encodeClose(code, reason);
    const res = await r.burrowAppendClose(...keys.session(sid), keys.wake(sid), by, code === undefined ? '' : String(code), reason ?? '', entry);
    if (!Array.isArray(res)) return { ok: false, reason: 'unknown' };
    const record = decodeRecord(sid, res[1]);
    if (!record) return { ok: false, reason: 'unknown' };
    await this.#leaveAll(sid, res[2]);
    if (res[0] !== 1) return { ok: true, first: false, record };
    const frame: OutboundFrame = {
      frame: { t: 'close', seq: record.outSeq, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) },
      size: 0,
    };
    return { ok: true, first: true, frame, record };
  }

  /**
   * A closed session is no member of its rooms (their sets are in other slots than the script's). Not
   * the close's failure when Redis refuses: the close is recorded, and the echo's close or the expiry
   * claim removes the memberships again.
   */
  async #leaveAll(sid: string, rooms: unknown): Promise<void> {
    if (!Array.isArray(rooms) || rooms.length === 0) return;
    const { r, keys, onError } = this.#s;
    await batchOrThrow(r, rooms.map((room): Command => (c) => c.srem(keys.room(String(room)), sid))).catch((err: unknown) => onError(err));
  }

  async read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    if (!(maxFrames >= 1)) return [];
    const r = await this.#s.r.burrowReadBuffer(...this.#s.keys.session(sid), seqArg(afterSeq), count(maxFrames), seqArg(maxBytes));
    if (!Array.isArray(r) || r.length < 3) return [];
    const [first, lengths, blob] = r as unknown[];
    if (typeof first !== 'number' || !Buffer.isBuffer(lengths) || !Buffer.isBuffer(blob)) return [];
    return decodePacked(first, lengths, blob);
  }

  /** Sent with the session's appends of this turn (append-groups.ts): one round trip for both. */
  ack(sid: string, ack: number): Promise<boolean> {
    return this.#groups.ack(sid, ack);
  }

  /** A wake event, sent in this turn's round trip (a poll's `attach` beside its ack). */
  publish(sid: string, message: string): Promise<void> {
    return this.#groups.publish(this.#s.keys.wake(sid), message);
  }

  // ---- rooms --------------------------------------------------------------------------------------

  async join(sid: string, room: string): Promise<boolean> {
    const { r, keys } = this.#s;
    // The room set first: if the session goes away between the two, its delete/claim (or the
    // cleanup below) removes the membership; the reverse order could leave a stale member.
    const [, joined] = await batchOrThrow(r, [(c) => c.sadd(keys.room(room), sid), (c) => c.burrowJoin(...keys.session(sid), room)]);
    if (joined === 1) return true;
    await r.srem(keys.room(room), sid);
    // 2: closed (a close from another node got there first): in its rooms, as on MemoryStore, but no member.
    return joined === 2;
  }

  async leave(sid: string, room: string): Promise<void> {
    const { r, keys } = this.#s;
    await batchOrThrow(r, [(c) => c.srem(keys.roomsOf(sid), room), (c) => c.srem(keys.room(room), sid)]);
  }

  async rooms(sid: string): Promise<readonly string[]> {
    return this.#s.r.smembers(this.#s.keys.roomsOf(sid));
  }

  members(room: string | undefined): Promise<readonly string[]> {
    const { r, keys } = this.#s;
    // A closed session left its rooms' sets at the close (#leaveAll). The sessions set keeps it until
    // its expiry is claimed (the sweep walks it); telling the open ones apart would cost a command
    // per session and per broadcast (+25 % at 20,000), for appends that answer 'closed' anyway.
    return r.smembers(room === undefined ? keys.sessions : keys.room(room));
  }
}
