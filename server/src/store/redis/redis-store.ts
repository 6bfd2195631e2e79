/**
 * A {@link Store} on Redis (ioredis 5), so that any number of nodes serve the same sessions.
 *
 * Every operation is one round trip: one Lua script (atomic, first call per connection sent as EVAL,
 * then EVALSHA) or one pipeline. Keys of one session share the hash tag `{sid}` and no script touches
 * two slots, so it also runs on Redis Cluster:
 *
 *   {prefix}:{sid}:rec    HASH   the record (see scripts.ts)
 *   {prefix}:{sid}:log    LIST   outbound frames, head = seq outAck+1, each a 1-byte tag + bytes:
 *                                't' + UTF-8 text, 'b' + raw bytes, 'c' + JSON {code?, reason?}
 *   {prefix}:{sid}:rooms  SET    rooms of the session
 *   {prefix}:{sid}:ttl    STRING the expiry: PEXPIRE'd to the TTL; the three keys above get TTL + grace
 *   {prefix}:{sid}:wake   (pub/sub channel) wake events as JSON
 *   {prefix}:room:{room}  SET    members of a room
 *   {prefix}:sessions     SET    every session (members(undefined), the expiry sweep)
 *   {prefix}:epoch        STRING random id set at first start: a different one means the data set was lost
 *   {prefix}:{sid}:journal HASH  inbound journal: accepted client data frames not yet confirmed emitted
 *   {prefix}:node:{id}    STRING liveness of a node (this store instance): set with a short TTL
 *                                (`nodeTtlMs`), refreshed every third of it, deleted by `close()`
 *
 * Expiry is Redis's clock only. When a `ttl` key expires, Redis publishes `__keyevent@<db>__:expired`;
 * every node runs the claim script and only the first gets the record (and deletes the keys), so each
 * expiry reaches exactly one `onExpired` listener. Keyspace notifications are enabled at every
 * (re)connect with `CONFIG SET notify-keyspace-events` (merging `Ex` into what is set) unless
 * `configureKeyspaceEvents: false`; where CONFIG is disabled (managed Redis), the operator must set
 * `notify-keyspace-events` to include `Ex`. Notifications are fire-and-forget, so a periodic sweep
 * (and one after every reconnect of the subscriber) claims any expiry whose event no node heard; on
 * Redis Cluster, where notifications are node-local, the sweep is what reports expiries. The sweep
 * walks `{prefix}:sessions` with SSCAN and runs the claim script on each; a lock key
 * (`{prefix}:sweep`, SET NX PX) makes it one sweep per period across all nodes.
 *
 * `subscribe` is synchronous (the Store contract) while SUBSCRIBE takes a round trip: an event
 * published before the subscription is effective is missed, so readers re-read the log after
 * subscribing (the session core pumps after attach). After the subscriber reconnects, every listener
 * gets `{ type: 'append', lastSeq: MAX_SAFE_INTEGER }` so it re-reads what it may have missed.
 *
 * Connections are unusable until the first `ready` (no offline queue): await `store.ready()` before
 * serving, or treat `status() === 'down'` at start like any outage.
 *
 * While Redis is unreachable every call fails at once (no offline queue, no resend of a command that
 * may already have run) and the client reconnects by itself with capped backoff; `status()` is `down`.
 * After a reconnect the epoch tells a restart that kept its data (`up`) from one that lost it
 * (`lost`, then `up`).
 */
import { randomBytes } from 'node:crypto';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { payloadSize } from '@burrow/shared';
import type {
  AppendLimits,
  AppendResult,
  CloseResult,
  InboundData,
  InboundReplay,
  InboundResult,
  JournalEntry,
  NewFrame,
  OutboundFrame,
  SessionRecord,
  Store,
  StoreStatus,
  WakeEvent,
} from '../../store.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` instance (yours: not closed by `close()`; configure it with
   * `enableOfflineQueue: false` and `maxRetriesPerRequest: 0` for fail-fast calls), or connection
   * options / a `redis://` URL (the store creates, configures and closes the connection).
   * Default: `redis://127.0.0.1:6379`.
   */
  readonly redis?: Redis | Cluster | RedisOptions | string;
  /** Prefix of every key and channel (a trailing `:` is dropped). Default `'burrow'`. */
  readonly prefix?: string;
  /** How much longer than the TTL the record lingers for the node that claims its expiry (ms). Default 60000. */
  readonly expiryGraceMs?: number;
  /** Merge `Ex` into `notify-keyspace-events` at every (re)connect. Default true. */
  readonly configureKeyspaceEvents?: boolean;
  /** Period of the sweep that claims expiries no node heard of (ms); 0 = only after reconnects. Default 30000. */
  readonly sweepIntervalMs?: number;
  /** Upper bound of the reconnect backoff (ms). Default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** A command with no answer after this long fails (ms). Default 5000. */
  readonly commandTimeoutMs?: number;
  /**
   * Times an in-flight command survives a reconnect; for connections the store creates. Default 0: a
   * script cut off mid-flight may have run, so it is failed rather than run twice.
   */
  readonly maxRetriesPerRequest?: number;
  /** Errors that have no caller to reject (background claims, sweeps, CONFIG). Default: ignored. */
  readonly onError?: (err: unknown) => void;
  /**
   * TTL of this node's liveness key (ms), refreshed every third of it. When it lapses (the process was
   * killed), another node redelivers the messages this one accepted but may not have emitted. Default 5000.
   */
  readonly nodeTtlMs?: number;
}

/** Confirms of emitted inbound frames are flushed this long after the last one when no accept carries them. */
const CONFIRM_DELAY_MS = 50;

type Client = Redis | Cluster;
type Arg = string | Buffer | number;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const TAG_TEXT = 0x74; // 't'
const TAG_BINARY = 0x62; // 'b'
const TAG_CLOSE = 0x63; // 'c'
const TEXT_HEAD = Buffer.from([TAG_TEXT]);
const BINARY_HEAD = Buffer.from([TAG_BINARY]);
/** Larger counts are clamped (LRANGE wants integers). */
const MAX_COUNT = 2 ** 31 - 1;
const SWEEP_BATCH = 500;

/** Encodes a data payload as a log entry. */
function encodeEntry(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.concat([TEXT_HEAD, Buffer.from(data, 'utf8')]);
  return Buffer.concat([BINARY_HEAD, data]);
}

function decodeEntry(seq: number, e: Buffer): OutboundFrame {
  const tag = e[0];
  if (tag === TAG_CLOSE) {
    let info: { code?: unknown; reason?: unknown } = {};
    try {
      info = JSON.parse(e.toString('utf8', 1)) as typeof info;
    } catch {
      // A corrupt entry still closes the session; without a code the peer reports 1005.
    }
    const code = typeof info.code === 'number' ? info.code : undefined;
    const reason = typeof info.reason === 'string' && info.reason ? info.reason : undefined;
    return { frame: { t: 'close', seq, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) }, size: 0 };
  }
  if (tag === TAG_BINARY) {
    const bytes = new Uint8Array(e.byteLength - 1);
    bytes.set(e.subarray(1));
    return { frame: { t: 'd', seq, data: bytes }, size: bytes.byteLength };
  }
  return { frame: { t: 'd', seq, data: e.toString('utf8', 1) }, size: e.byteLength - 1 };
}

/** A journal entry (encoded like a log entry) as the session core delivers it. */
function journalEntry(seq: number, e: Buffer): JournalEntry {
  const f = decodeEntry(seq, e).frame;
  return { seq, data: f.t === 'd' ? f.data : '' };
}

function toStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** A record from HGETALL's flat [field, value, ...] array. */
function decodeRecord(sid: string, flat: unknown): SessionRecord | undefined {
  if (!Array.isArray(flat) || flat.length === 0) return undefined;
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = toStr(flat[i]);
    const v = toStr(flat[i + 1]);
    if (k !== undefined && v !== undefined) h.set(k, v);
  }
  const num = (k: string): number => {
    const n = Number(h.get(k) ?? 0);
    return Number.isFinite(n) ? n : 0;
  };
  let data: unknown;
  const json = h.get('data');
  if (json !== undefined) {
    try {
      data = JSON.parse(json);
    } catch {
      data = undefined;
    }
  }
  const rec: Mutable<SessionRecord> = {
    id: sid,
    tokenHash: h.get('tokenHash') ?? '',
    protocol: h.get('protocol') ?? '',
    data,
    inAck: num('inAck'),
    outSeq: num('outSeq'),
    outAck: num('outAck'),
    activity: num('activity'),
  };
  const userJson = h.get('user');
  if (userJson !== undefined) {
    try {
      rec.user = JSON.parse(userJson);
    } catch {
      // an unreadable user is no user
    }
  }
  const by = h.get('closedBy');
  if (by === 'client' || by === 'server') {
    const code = h.get('closedCode');
    const reason = h.get('closedReason');
    rec.closed = { by, ...(code !== undefined ? { code: Number(code) } : {}), ...(reason ? { reason } : {}) };
  }
  return rec;
}

function parseWake(message: string): WakeEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type === 'append' && typeof o.lastSeq === 'number') return { type: 'append', lastSeq: o.lastSeq };
  if (o.type === 'attach' && typeof o.owner === 'string') return { type: 'attach', owner: o.owner };
  if (o.type === 'pong') return { type: 'pong' };
  return undefined;
}

/** A TTL in ms as an integer string of at least 1: a huge one is capped (its decimal form stays plain). */
function ms(n: number): string {
  return String(Math.max(1, Math.ceil(Number.isFinite(n) ? Math.min(n, Number.MAX_SAFE_INTEGER) : MAX_COUNT)));
}

function count(n: number): string {
  if (Number.isNaN(n)) return '0';
  return String(Math.max(0, Math.min(MAX_COUNT, Math.floor(n))));
}

/** A non-negative integer seq/ack as a decimal string (Lua reads it exactly up to 2^53). */
function seqArg(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? String(Number.MAX_SAFE_INTEGER) : '0';
  return String(Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(n))));
}

function isClient(v: RedisStoreOptions['redis']): v is Client {
  return v instanceof Redis || (typeof v === 'object' && v !== null && typeof (v as Partial<Client>).defineCommand === 'function');
}

/** {@link Store} on Redis: nodes sharing one Redis serve the same sessions. */
export class RedisStore implements Store {
  readonly #r: Client;
  readonly #sub: Client;
  readonly #ownsMain: boolean;
  readonly #cluster: boolean;
  readonly #prefix: string;
  readonly #grace: number;
  readonly #configure: boolean;
  readonly #onError: (err: unknown) => void;
  readonly #expiredChannel: string;
  readonly #keyPrefix: string;
  readonly #channels = new Map<string, Set<(event: WakeEvent) => void>>();
  readonly #expiredListeners: ((record: SessionRecord) => void)[] = [];
  readonly #statusListeners = new Set<(status: StoreStatus) => void>();
  readonly #readyWaiters: (() => void)[] = [];
  #status: StoreStatus = 'down';
  #mainReady = false;
  #subReady = false;
  #subWasReady = false;
  #epoch: string | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping = false;
  readonly #sweepLockMs: number;
  #closed = false;
  readonly #detach: (() => void)[] = [];
  /** This node (store instance): owner of the inbound journal entries it writes. No space in it. */
  readonly #nodeId = randomBytes(12).toString('base64url');
  readonly #nodeTtl: number;
  readonly #nodeTimer: NodeJS.Timeout;
  /** Per session, the highest inbound seq emitted here and not yet confirmed to Redis. */
  readonly #confirms = new Map<string, number>();
  #confirmTimer: NodeJS.Timeout | undefined;
  /** Other nodes seen alive, until when (ms epoch) that is known without asking again. */
  readonly #aliveUntil = new Map<string, number>();

  constructor(options: RedisStoreOptions = {}) {
    // 'burrow:' and 'burrow' name the same layout.
    this.#prefix = (options.prefix ?? 'burrow').replace(/:+$/, '') || 'burrow';
    this.#grace = Math.max(0, options.expiryGraceMs ?? 60_000);
    this.#configure = options.configureKeyspaceEvents ?? true;
    this.#onError = options.onError ?? (() => {});
    const maxDelay = Math.max(1, options.maxReconnectDelayMs ?? 2000);
    const failFast: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: options.maxRetriesPerRequest ?? 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 5000,
      // Reconnects forever, backing off exponentially up to maxDelay.
      retryStrategy: (times) => Math.min(maxDelay, 50 * 2 ** Math.min(times, 16)),
    };
    const given = options.redis;
    if (isClient(given)) {
      this.#r = given;
      this.#ownsMain = false;
    } else {
      this.#r = typeof given === 'string' ? new Redis(given, failFast) : new Redis({ ...(given ?? {}), ...failFast });
      this.#ownsMain = true;
    }
    this.#cluster = this.#r.isCluster;
    // The subscriber is always ours. It resubscribes by itself (see #onSubReady), not through ioredis,
    // so a channel whose UNSUBSCRIBE failed while offline does not come back.
    this.#sub = this.#cluster
      ? (this.#r as Cluster).duplicate(undefined, { redisOptions: { ...failFast, autoResubscribe: false } })
      : (this.#r as Redis).duplicate({ ...failFast, autoResubscribe: false });
    const db = this.#cluster ? 0 : ((this.#r as Redis).options.db ?? 0);
    this.#keyPrefix = this.#cluster ? '' : ((this.#r as Redis).options.keyPrefix ?? '');
    this.#expiredChannel = `__keyevent@${db}__:expired`;

    for (const c of [this.#r, this.#sub]) {
      for (const [name, s] of Object.entries(SCRIPTS)) {
        if (!(name in c)) c.defineCommand(name, { lua: s.lua, numberOfKeys: s.numberOfKeys });
      }
    }
    this.#on(this.#r, 'ready', () => void this.#onMainReady());
    this.#on(this.#r, 'close', () => this.#onMainDown());
    this.#on(this.#r, 'end', () => this.#onMainDown());
    this.#on(this.#r, 'error', () => {}); // reported through status; ioredis would log it otherwise
    this.#on(this.#sub, 'ready', () => void this.#onSubReady());
    this.#on(this.#sub, 'close', () => this.#onSubDown());
    this.#on(this.#sub, 'end', () => this.#onSubDown());
    this.#on(this.#sub, 'error', () => {});
    this.#on(this.#sub, 'message', (channel: string, message: string) => this.#onMessage(channel, message));
    if (this.#r.status === 'ready') void this.#onMainReady();

    this.#nodeTtl = Math.max(30, options.nodeTtlMs ?? 5000);
    this.#nodeTimer = setInterval(() => void this.#beat().catch((err: unknown) => this.#onError(err)), Math.floor(this.#nodeTtl / 3));
    this.#nodeTimer.unref();

    const every = options.sweepIntervalMs ?? 30_000;
    this.#sweepLockMs = Math.max(100, Math.floor((every || 30_000) / 2));
    if (every > 0) {
      this.#sweepTimer = setInterval(() => void this.sweep(), every);
      this.#sweepTimer.unref();
    }
  }

  /** Resolves once the store is first `up`. */
  ready(): Promise<void> {
    if (this.#status === 'up') return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  // ---- keys ---------------------------------------------------------------------------------------

  #keys(sid: string): [string, string, string, string, string] {
    const base = `${this.#prefix}:{${sid}}:`;
    return [`${base}rec`, `${base}log`, `${base}rooms`, `${base}ttl`, `${base}journal`];
  }

  #nodeKey(id: string): string {
    return `${this.#prefix}:node:{${id}}`;
  }

  /** This node's id: the owner of the inbound journal entries it writes. */
  get nodeId(): string {
    return this.#nodeId;
  }

  #channel(sid: string): string {
    return `${this.#prefix}:{${sid}}:wake`;
  }

  #roomKey(room: string): string {
    return `${this.#prefix}:room:{${room}}`;
  }

  get #sessionsKey(): string {
    return `${this.#prefix}:sessions`;
  }

  // ---- command plumbing ---------------------------------------------------------------------------

  #script(c: Client, name: ScriptName | `${ScriptName}Buffer`, ...args: Arg[]): Promise<unknown> {
    const fn = (c as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[name];
    if (!fn) return Promise.reject(new Error(`script ${name} is not defined`));
    return fn.apply(c, args);
  }

  /**
   * Runs commands in one round trip: a pipeline on a single Redis; on a Cluster (where one pipeline
   * cannot span slots of different nodes) the commands are issued together, each to its slot's node.
   * Resolves with each command's result or error, in order.
   */
  async #batch(cmds: readonly (readonly [string, ...Arg[]])[]): Promise<({ ok: true; value: unknown } | { ok: false; error: unknown })[]> {
    if (cmds.length === 0) return [];
    if (this.#cluster) {
      const settled = await Promise.allSettled(
        cmds.map(([name, ...args]) => {
          const fn = (this.#r as unknown as Record<string, (...a: Arg[]) => Promise<unknown>>)[name];
          return fn ? fn.apply(this.#r, args) : Promise.reject(new Error(`no command ${name}`));
        }),
      );
      return settled.map((s) => (s.status === 'fulfilled' ? { ok: true, value: s.value } : { ok: false, error: s.reason }));
    }
    const p = this.#r.pipeline();
    const pr = p as unknown as Record<string, (...a: Arg[]) => unknown>;
    for (const [name, ...args] of cmds) {
      const fn = pr[name];
      if (!fn) throw new Error(`no command ${name}`);
      fn.apply(p, args);
    }
    const res = await p.exec();
    if (!res) throw new Error('redis pipeline aborted');
    return res.map(([error, value]) => (error ? { ok: false, error } : { ok: true, value }));
  }

  async #batchOrThrow(cmds: readonly (readonly [string, ...Arg[]])[]): Promise<unknown[]> {
    const res = await this.#batch(cmds);
    return res.map((r) => {
      if (!r.ok) throw r.error;
      return r.value;
    });
  }

  // ---- Store --------------------------------------------------------------------------------------

  async create(record: SessionRecord, ttlMs: number): Promise<void> {
    const fields: string[] = [
      'tokenHash', record.tokenHash,
      'protocol', record.protocol,
      'inAck', seqArg(record.inAck),
      'outSeq', seqArg(record.outSeq),
      'outAck', seqArg(record.outAck),
      'outBytes', '0',
      'activity', seqArg(record.activity),
    ];
    const json = record.data === undefined ? undefined : JSON.stringify(record.data);
    if (json !== undefined) fields.push('data', json);
    if (record.user !== undefined) fields.push('user', JSON.stringify(record.user));
    if (record.closed) {
      fields.push('closedBy', record.closed.by);
      if (record.closed.code !== undefined) fields.push('closedCode', String(record.closed.code));
      if (record.closed.reason) fields.push('closedReason', record.closed.reason);
    }
    // Script first, then the membership: a sweep between the two never sees a member without a record.
    const [created] = await this.#batchOrThrow([
      ['burrowCreate', ...this.#keys(record.id), ms(ttlMs), seqArg(this.#grace), ...fields],
      ['sadd', this.#sessionsKey, record.id],
    ]);
    if (created !== 1) throw new Error('session id collision');
  }

  async get(sid: string): Promise<SessionRecord | undefined> {
    return decodeRecord(sid, await this.#script(this.#r, 'burrowGet', ...this.#keys(sid)));
  }

  async touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    const flat = await this.#script(this.#r, 'burrowTouch', ...this.#keys(sid), ms(ttlMs), seqArg(this.#grace), activity ? '1' : '0');
    return decodeRecord(sid, flat);
  }

  async delete(sid: string): Promise<void> {
    const [rooms] = await this.#batchOrThrow([
      ['burrowDelete', ...this.#keys(sid)],
      ['srem', this.#sessionsKey, sid],
    ]);
    await this.#leaveRooms(sid, rooms);
  }

  async setData(sid: string, data: unknown): Promise<boolean> {
    const json = data === undefined ? undefined : JSON.stringify(data);
    const r = await this.#script(this.#r, 'burrowSetData', ...this.#keys(sid), json === undefined ? '0' : '1', json ?? '');
    return r === 1;
  }

  #appendArgs(sid: string, entries: readonly Buffer[], limits: AppendLimits): [string, ...Arg[]] {
    return [
      'burrowAppend',
      ...this.#keys(sid),
      this.#channel(sid),
      count(limits.maxBufferedMessages),
      seqArg(limits.maxBufferedBytes),
      ...entries,
    ];
  }

  #appendResult(r: unknown, frames: readonly NewFrame[], entries: readonly Buffer[]): AppendResult {
    if (r === -1) return { ok: false, reason: 'unknown' };
    if (r === -2) return { ok: false, reason: 'closed' };
    if (r === -3) return { ok: false, reason: 'overflow' };
    if (typeof r !== 'number') throw new Error('unexpected reply from redis append');
    const out: OutboundFrame[] = frames.map((f, i) => ({
      frame: { t: 'd', seq: r + i, data: f.data },
      size: (entries[i]?.byteLength ?? 1) - 1,
    }));
    return { ok: true, frames: out };
  }

  async append(sid: string, frames: readonly NewFrame[], limits: AppendLimits): Promise<AppendResult> {
    const entries = frames.map((f) => encodeEntry(f.data));
    const [name, ...args] = this.#appendArgs(sid, entries, limits);
    const r = await this.#script(this.#r, name as ScriptName, ...args);
    return this.#appendResult(r, frames, entries);
  }

  async appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    const unique = [...new Set(sids)];
    const entries = [encodeEntry(frame.data)];
    const res = await this.#batch(unique.map((sid) => this.#appendArgs(sid, entries, limits)));
    const out = new Map<string, AppendResult>();
    unique.forEach((sid, i) => {
      const r = res[i];
      if (!r || !r.ok) throw r?.error ?? new Error('redis pipeline aborted');
      out.set(sid, this.#appendResult(r.value, [frame], entries));
    });
    return out;
  }

  async appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    const info = JSON.stringify({ ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) });
    const entry = Buffer.concat([Buffer.from([TAG_CLOSE]), Buffer.from(info, 'utf8')]);
    const r = await this.#script(
      this.#r,
      'burrowAppendClose',
      ...this.#keys(sid),
      this.#channel(sid),
      by,
      code === undefined ? '' : String(code),
      reason ?? '',
      entry,
    );
    if (!Array.isArray(r)) return { ok: false, reason: 'unknown' };
    const record = decodeRecord(sid, r[1]);
    if (!record) return { ok: false, reason: 'unknown' };
    if (r[0] !== 1) return { ok: true, first: false, record };
    const frame: OutboundFrame = {
      frame: { t: 'close', seq: record.outSeq, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) },
      size: 0,
    };
    return { ok: true, first: true, frame, record };
  }

  async read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    if (!(maxFrames >= 1)) return [];
    const r = await this.#script(this.#r, 'burrowReadBuffer', ...this.#keys(sid), seqArg(afterSeq), count(maxFrames), seqArg(maxBytes));
    if (!Array.isArray(r) || r.length < 2) return [];
    const first = r[0];
    if (typeof first !== 'number') return [];
    const out: OutboundFrame[] = [];
    for (let i = 1; i < r.length; i++) {
      const e: unknown = r[i];
      if (Buffer.isBuffer(e)) out.push(decodeEntry(first + i - 1, e));
    }
    return out;
  }

  async ack(sid: string, ack: number): Promise<boolean> {
    return (await this.#script(this.#r, 'burrowAck', ...this.#keys(sid), seqArg(ack))) === 1;
  }

  async acceptInbound(sid: string, seq: number, frame?: InboundData, force = false): Promise<InboundResult> {
    // One script: the piggybacked confirm, the seq check, the journal entry, and what to redeliver.
    const confirm = this.#takeConfirm(sid);
    let r: unknown;
    try {
      r = await this.#script(
        this.#r,
        'burrowAcceptBuffer',
        ...this.#keys(sid),
        seqArg(seq),
        this.#nodeId,
        confirm === undefined ? '' : seqArg(confirm),
        frame ? encodeEntry(frame.data) : '',
        force ? '1' : '',
      );
    } catch (err) {
      if (confirm !== undefined) this.#keepConfirm(sid, confirm);
      throw err;
    }
    const flat = Array.isArray(r) ? (r as unknown[]) : [];
    const [code, ack] = flat;
    const n = typeof ack === 'number' ? ack : 0;
    const status = code === 1 ? 'new' : code === 2 ? 'dup' : code === 3 ? 'gap' : code === 4 ? 'wait' : 'unknown';
    if (status === 'unknown') return { status, ack: 0 };
    if (flat.length <= 2) return { status, ack: n };
    return { status, ack: n, ...(await this.#replayFrom(sid, flat.slice(2))) };
  }

  confirmInbound(sid: string, seq: number): void {
    if (this.#closed) return;
    this.#keepConfirm(sid, seq);
    if (!this.#confirmTimer) {
      this.#confirmTimer = setTimeout(() => void this.#flushConfirms(), CONFIRM_DELAY_MS);
      this.#confirmTimer.unref();
    }
  }

  async replayInbound(sid: string): Promise<InboundReplay> {
    const confirm = this.#takeConfirm(sid);
    let r: unknown;
    try {
      r = await this.#script(this.#r, 'burrowJournalBuffer', ...this.#keys(sid), this.#nodeId, confirm === undefined ? '' : seqArg(confirm));
    } catch (err) {
      if (confirm !== undefined) this.#keepConfirm(sid, confirm);
      throw err;
    }
    return Array.isArray(r) && r.length > 0 ? this.#replayFrom(sid, r as unknown[]) : {};
  }

  #takeConfirm(sid: string): number | undefined {
    const c = this.#confirms.get(sid);
    if (c !== undefined) this.#confirms.delete(sid);
    return c;
  }

  #keepConfirm(sid: string, seq: number): void {
    const c = this.#confirms.get(sid);
    if (c === undefined || seq > c) this.#confirms.set(sid, seq);
  }

  /** Sends every pending confirm in one round trip; a failed one is kept for the next accept (or flush). */
  async #flushConfirms(): Promise<void> {
    this.#confirmTimer = undefined;
    if (this.#confirms.size === 0) return;
    const pending = [...this.#confirms];
    this.#confirms.clear();
    let res: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
    try {
      res = await this.#batch(pending.map(([sid, seq]) => ['burrowJournalConfirm', ...this.#keys(sid), this.#nodeId, seqArg(seq)] as const));
    } catch (err) {
      res = pending.map(() => ({ ok: false, error: err }));
    }
    pending.forEach(([sid, seq], i) => {
      const one = res[i];
      if (!one || !one.ok) this.#keepConfirm(sid, seq);
    });
    const failed = res.find((x) => !x.ok);
    if (failed && !failed.ok) this.#onError(failed.error);
  }

  /**
   * Journal entries returned by a script ({seq, owner, entry}...): this node's own (a reply it never
   * got: already its to deliver), and other nodes' — taken over, atomically, when their owner is dead.
   */
  async #replayFrom(sid: string, flat: readonly unknown[]): Promise<InboundReplay> {
    const own: JournalEntry[] = [];
    const foreign: { seq: number; owner: string; entry: Buffer }[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const seq = flat[i];
      const owner = toStr(flat[i + 1]);
      const entry = flat[i + 2];
      if (typeof seq !== 'number' || owner === undefined || !Buffer.isBuffer(entry)) continue;
      if (owner === this.#nodeId) own.push(journalEntry(seq, entry));
      else foreign.push({ seq, owner, entry });
    }
    let recheckMs: number | undefined;
    if (foreign.length > 0) {
      const now = Date.now();
      const owners = [...new Set(foreign.map((f) => f.owner))];
      const unknown = owners.filter((o) => (this.#aliveUntil.get(o) ?? 0) <= now);
      if (unknown.length > 0) {
        const ttls = await this.#batchOrThrow(unknown.map((o) => ['pttl', this.#nodeKey(o)] as const));
        unknown.forEach((o, i) => {
          const t = Number(ttls[i]);
          if (t === -2) this.#aliveUntil.delete(o);
          else this.#aliveUntil.set(o, now + (t > 0 ? t : this.#nodeTtl));
        });
        if (this.#aliveUntil.size > 1000) for (const [o, until] of this.#aliveUntil) if (until <= now) this.#aliveUntil.delete(o);
      }
      const dead = foreign.filter((f) => (this.#aliveUntil.get(f.owner) ?? 0) <= now);
      for (const f of foreign) {
        const until = this.#aliveUntil.get(f.owner);
        if (until !== undefined && until > now) recheckMs = Math.min(recheckMs ?? Infinity, until - now + 20);
      }
      if (dead.length > 0) {
        const args = dead.flatMap((f) => [f.owner, seqArg(f.seq)]);
        const taken = await this.#script(this.#r, 'burrowJournalClaim', ...this.#keys(sid), this.#nodeId, ...args);
        const got = new Set(Array.isArray(taken) ? (taken as unknown[]) : []);
        for (const f of dead) if (got.has(f.seq)) own.push(journalEntry(f.seq, f.entry));
      }
    }
    own.sort((x, y) => x.seq - y.seq);
    return { ...(own.length > 0 ? { replay: own } : {}), ...(recheckMs !== undefined ? { recheckMs } : {}) };
  }

  /** Marks this node alive for another `nodeTtlMs`. */
  async #beat(): Promise<void> {
    if (this.#closed || this.#r.status !== 'ready') return;
    await this.#r.set(this.#nodeKey(this.#nodeId), '1', 'PX', this.#nodeTtl);
  }

  async publish(sid: string, event: WakeEvent): Promise<void> {
    await this.#r.publish(this.#channel(sid), JSON.stringify(event));
  }

  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void {
    const channel = this.#channel(sid);
    let set = this.#channels.get(channel);
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
      // Offline (or failing), #onSubReady subscribes every channel in the map on the next connect.
      // Until Redis confirms the SUBSCRIBE, appends from other nodes go unheard; the caller read the
      // log before that, so wake its listeners once confirmed and let them read again.
      if (this.#sub.status === 'ready') {
        this.#sub
          .subscribe(channel)
          .then(() => {
            for (const l of this.#channels.get(channel) ?? []) l({ type: 'append', lastSeq: Number.MAX_SAFE_INTEGER });
          })
          .catch((err: unknown) => this.#onError(err));
      }
    }
    // A wrapper per call, so the same function subscribed twice needs two unsubscribes.
    const wrapped = (ev: WakeEvent): void => listener(ev);
    set.add(wrapped);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.#channels.get(channel);
      if (!s) return;
      s.delete(wrapped);
      if (s.size > 0) return;
      this.#channels.delete(channel);
      if (this.#sub.status === 'ready' && !this.#closed) this.#sub.unsubscribe(channel).catch(() => {});
    };
  }

  onExpired(listener: (record: SessionRecord) => void): () => void {
    this.#expiredListeners.push(listener);
    return () => {
      const i = this.#expiredListeners.indexOf(listener);
      if (i >= 0) this.#expiredListeners.splice(i, 1);
    };
  }

  async join(sid: string, room: string): Promise<boolean> {
    // The room set first: if the session goes away between the two, its delete/claim (or the
    // cleanup below) removes the membership; the reverse order could leave a stale member.
    const [, joined] = await this.#batchOrThrow([
      ['sadd', this.#roomKey(room), sid],
      ['burrowJoin', ...this.#keys(sid), room],
    ]);
    if (joined === 1) return true;
    await this.#r.srem(this.#roomKey(room), sid);
    return false;
  }

  async leave(sid: string, room: string): Promise<void> {
    await this.#batchOrThrow([
      ['srem', this.#keys(sid)[2], room],
      ['srem', this.#roomKey(room), sid],
    ]);
  }

  async rooms(sid: string): Promise<readonly string[]> {
    return this.#r.smembers(this.#keys(sid)[2]);
  }

  async members(room: string | undefined): Promise<readonly string[]> {
    return this.#r.smembers(room === undefined ? this.#sessionsKey : this.#roomKey(room));
  }

  status(): StoreStatus {
    return this.#status;
  }

  onStatus(listener: (status: StoreStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A graceful stop: confirm what this node emitted, then leave, so other nodes redeliver at once
    // whatever it accepted but never emitted (a reply that did not reach it).
    clearInterval(this.#nodeTimer);
    if (this.#confirmTimer) clearTimeout(this.#confirmTimer);
    if (this.#r.status === 'ready') {
      await this.#flushConfirms().catch(() => {});
      await this.#r.del(this.#nodeKey(this.#nodeId)).catch(() => {});
    }
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    for (const off of this.#detach) off();
    this.#detach.length = 0;
    this.#channels.clear();
    this.#expiredListeners.length = 0;
    this.#statusListeners.clear();
    const quit = async (c: Client): Promise<void> => {
      try {
        if (c.status === 'ready') await c.quit();
        else c.disconnect();
      } catch {
        c.disconnect();
      }
    };
    await Promise.all([quit(this.#sub), this.#ownsMain ? quit(this.#r) : undefined]);
  }

  // ---- expiry -------------------------------------------------------------------------------------

  /**
   * Claims every expiry no node has reported yet (events missed while no subscriber listened).
   * Runs periodically and after each reconnect; safe to call any time from any node.
   */
  async sweep(force = false): Promise<void> {
    if (this.#sweeping || this.#closed || this.#expiredListeners.length === 0 || this.#status !== 'up') return;
    this.#sweeping = true;
    try {
      // One sweep per period across all nodes: whoever takes the lock does it.
      if (!force && (await this.#r.set(`${this.#prefix}:sweep`, '1', 'PX', this.#sweepLockMs, 'NX')) !== 'OK') return;
      let cursor = '0';
      do {
        const [next, sids] = await this.#r.sscan(this.#sessionsKey, cursor, 'COUNT', SWEEP_BATCH);
        cursor = next;
        const res = await this.#batch(sids.map((sid) => ['burrowClaim', ...this.#keys(sid)] as const));
        await Promise.all(sids.map((sid, i) => this.#claimed(sid, res[i])));
      } while (cursor !== '0' && !this.#closed);
    } catch (err) {
      this.#onError(err);
    } finally {
      this.#sweeping = false;
    }
  }

  async #claim(sid: string): Promise<void> {
    if (this.#expiredListeners.length === 0 || this.#closed) return;
    try {
      const [r] = await this.#batch([['burrowClaim', ...this.#keys(sid)]]);
      await this.#claimed(sid, r);
    } catch (err) {
      this.#onError(err);
    }
  }

  /** Handles one claim reply: cleans memberships and reports the expiry if this node won it. */
  async #claimed(sid: string, r: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined): Promise<void> {
    if (!r) return;
    if (!r.ok) {
      this.#onError(r.error);
      return;
    }
    const v = r.value;
    if (v === 0) return; // alive
    if (v === 1) {
      // Gone already (deleted, or claimed by a node that cleans up): drop a stale membership.
      await this.#r.srem(this.#sessionsKey, sid).catch((err: unknown) => this.#onError(err));
      return;
    }
    if (!Array.isArray(v)) return;
    const record = decodeRecord(sid, v[0]);
    try {
      const rooms = Array.isArray(v[1]) ? (v[1] as unknown[]) : [];
      await this.#batchOrThrow([
        ['srem', this.#sessionsKey, sid],
        ...rooms.map((room) => ['srem', this.#roomKey(String(room)), sid] as const),
      ]);
    } catch (err) {
      this.#onError(err);
    }
    if (!record) return;
    const listener = this.#expiredListeners[0];
    try {
      listener?.(record);
    } catch (err) {
      this.#onError(err);
    }
  }

  async #leaveRooms(sid: string, rooms: unknown): Promise<void> {
    if (!Array.isArray(rooms) || rooms.length === 0) return;
    await this.#batchOrThrow(rooms.map((room) => ['srem', this.#roomKey(String(room)), sid] as const));
  }

  // ---- connections and health ---------------------------------------------------------------------

  #on(c: Client, event: string, fn: (...args: never[]) => void): void {
    const f = fn as (...args: unknown[]) => void;
    c.on(event, f);
    this.#detach.push(() => c.off(event, f));
  }

  async #onMainReady(): Promise<void> {
    try {
      if (this.#configure) await this.#enableKeyspaceEvents();
      const candidate = randomBytes(12).toString('base64url');
      const epoch = String(await this.#script(this.#r, 'burrowEpoch', `${this.#prefix}:epoch`, candidate));
      // Alive before the first journal entry this node writes (and again after an outage).
      await this.#beat();
      if (this.#closed || this.#r.status !== 'ready') return;
      const lost = this.#epoch !== undefined && epoch !== this.#epoch;
      this.#epoch = epoch;
      this.#mainReady = true;
      if (lost) this.#setStatus('lost');
      this.#updateStatus();
    } catch (err) {
      // The connection dropped again (the next 'ready' retries) or the epoch script failed.
      this.#onError(err);
    }
  }

  async #enableKeyspaceEvents(): Promise<void> {
    const nodes = this.#cluster ? (this.#r as Cluster).nodes('master') : [this.#r as Redis];
    for (const node of nodes) {
      try {
        const got = (await node.config('GET', 'notify-keyspace-events')) as unknown;
        const current = Array.isArray(got) ? String(got[1] ?? '') : '';
        let want = current;
        if (!want.includes('E')) want += 'E';
        if (!want.includes('x') && !want.includes('A')) want += 'x';
        if (want !== current) await node.config('SET', 'notify-keyspace-events', want);
      } catch (err) {
        // CONFIG disabled (managed Redis): the operator sets notify-keyspace-events; the sweep covers us.
        this.#onError(err);
      }
    }
  }

  #onMainDown(): void {
    this.#mainReady = false;
    this.#updateStatus();
  }

  async #onSubReady(): Promise<void> {
    try {
      const channels = [this.#expiredChannel, ...this.#channels.keys()];
      for (let i = 0; i < channels.length; i += 1000) await this.#sub.subscribe(...channels.slice(i, i + 1000));
      if (this.#closed || this.#sub.status !== 'ready') return;
      const reconnect = this.#subWasReady;
      this.#subReady = this.#subWasReady = true;
      this.#updateStatus();
      if (reconnect) {
        // Wake-ups published while we were away are lost: make every listener re-read the log.
        const wake: WakeEvent = { type: 'append', lastSeq: Number.MAX_SAFE_INTEGER };
        for (const set of [...this.#channels.values()]) this.#dispatch(set, wake);
      }
      // After a reconnect, whatever expired while nobody listened; forced: this node missed events.
      void this.sweep(reconnect);
    } catch (err) {
      this.#onError(err);
    }
  }

  #onSubDown(): void {
    this.#subReady = false;
    this.#updateStatus();
  }

  #onMessage(channel: string, message: string): void {
    if (channel === this.#expiredChannel) {
      let key = message;
      if (this.#keyPrefix && key.startsWith(this.#keyPrefix)) key = key.slice(this.#keyPrefix.length);
      const head = `${this.#prefix}:{`;
      if (key.startsWith(head) && key.endsWith('}:ttl')) void this.#claim(key.slice(head.length, -'}:ttl'.length));
      return;
    }
    const set = this.#channels.get(channel);
    if (!set) return;
    const ev = parseWake(message);
    if (ev) this.#dispatch(set, ev);
  }

  #dispatch(set: Set<(event: WakeEvent) => void>, ev: WakeEvent): void {
    for (const l of [...set]) {
      try {
        l(ev);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #updateStatus(): void {
    this.#setStatus(this.#mainReady && this.#subReady ? 'up' : 'down');
  }

  #setStatus(s: StoreStatus): void {
    if (this.#closed || s === this.#status) return;
    this.#status = s;
    if (s === 'up') for (const w of this.#readyWaiters.splice(0)) w();
    for (const l of [...this.#statusListeners]) {
      try {
        l(s);
      } catch (err) {
        this.#onError(err);
      }
    }
  }
}
