/**
 * This node's sessions: creating them, finding them again from an id and token, and the live map of
 * session cores. Transports talk to this, never to the store.
 */
import { randomBytes } from 'node:crypto';
import { ACK_EVERY, ACK_SIZE, CloseCode, PROTOCOL_VERSION, SESSION_ID_RE, type OpenFrame } from '@burrow/shared';
import { GuardedStore } from '../store/guarded-store.js';
import { DeadlineList } from '../deadlines.js';
import { heartbeat, heartbeatInterval } from './heartbeat.js';
import { newRecord } from './ids.js';
import { fanout } from './fanout.js';
import { proveRecord, proveRecordNow } from './prove.js';
import { MemoryStore } from '../store/memory-store.js';
import type { ResolvedOptions } from '../options.js';
import type { SendData } from './payload.js';
import { AppendOrder } from './append-order.js';
import { SessionCore } from './core.js';
import type { InboundQueue } from './inbound.js';
import type { MessageInfo, Session, TransportName } from './handle.js';
import type { SessionHost, SessionObserver, Tap } from './types.js';
import type { SessionRecord, Store, StoreStatus } from '../store/store.js';

/**
 * How long a raced session waits for the client's claim (ms) before it is dropped without events: the
 * client claims the winner within a round trip, so this only bounds what a vanished client leaves.
 */
const CLAIM_WINDOW = 10_000;

/** Reason of the close emitted for sessions whose state the store lost. */
const STATE_LOST_REASON = 'session state lost';

/** Where the registry reports to (the Burrow's events). */
export interface RegistryEvents {
  connection(session: Session): void;
  message(session: Session, data: string | Buffer, info: MessageInfo): void;
  close(session: Session, code: number, reason: string): void;
  transport(session: Session, name: TransportName): void;
  error(err: unknown): void;
}

export class SessionRegistry implements SessionHost {
  readonly options: ResolvedOptions;
  /** Not readonly: metrics wrap it in a timing store when turned on (see {@link instrumentStore}). */
  store: Store;
  /** Lifecycle events and the debug log (set by the Burrow: ops/lifecycle.ts). */
  lifecycle: SessionObserver | undefined;
  /** This node is draining: no new sessions or downstreams (see ops/drain.ts). */
  draining = false;
  /** {@link closeAll} ran: the node serves nothing new. */
  closing = false;
  readonly nodeId = randomBytes(9).toString('base64url');
  readonly appendOrder = new AppendOrder();
  readonly #live = new Map<string, SessionCore>();
  /** Sessions being created (their record on its way to the store): see {@link full}. */
  #creating = 0;
  /**
   * Per session, the inbound work still running in a core disposed while it had some: the session's
   * next core on this node applies its frames only after it (see InboundQueue's constructor).
   */
  readonly #inboundTails = new Map<string, Promise<unknown>>();
  readonly #events: RegistryEvents;
  readonly #stopExpiry: () => void;
  readonly #stopStatus: () => void;
  /** The store as configured (its status is read from here). */
  readonly #raw: Store;
  /**
   * Sessions this node held when the store lost its state: sid -> time their tombstone expires.
   * Insertion order is expiry order; bounded by `maxSessions`.
   */
  readonly #tombstones = new Map<string, number>();
  readonly idleCores: DeadlineList<SessionCore>;
  readonly heartbeats: DeadlineList<SessionCore>;
  readonly acksOwed: DeadlineList<InboundQueue>;

  constructor(options: ResolvedOptions, events: RegistryEvents) {
    this.options = options;
    this.idleCores = new DeadlineList(options.resumeWindow + options.closeLinger, (core) => core.idleElapsed());
    this.heartbeats = new DeadlineList(heartbeatInterval(options), (core) => {
      // As setInterval did: the next tick is due a full interval after this one started.
      this.heartbeats.arm(core);
      heartbeat(core);
    });
    this.acksOwed = new DeadlineList(options.ackDelay, (q) => q.ackDelayElapsed());
    this.#raw = options.store;
    // A networked store's failures become `store_unavailable` (503 / 1013); MemoryStore cannot fail.
    this.store = options.store instanceof MemoryStore ? options.store : new GuardedStore(options.store);
    this.#events = events;
    this.#stopExpiry = this.store.onExpired((record) => this.#expired(record));
    this.#stopStatus = this.#raw.onStatus((status) => {
      if (status === 'lost') this.#lost();
      else if (status === 'up') for (const core of this.#live.values()) core.storeUp();
    });
  }

  /** The store's health as this node sees it. */
  get storeStatus(): StoreStatus {
    return this.#raw.status();
  }

  get storeDown(): boolean {
    return this.#raw.status() === 'down';
  }

  /** Was `sid` held here when the store lost its state (within the resume window)? */
  isLost(sid: string): boolean {
    const until = this.#tombstones.get(sid);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#tombstones.delete(sid);
    return false;
  }

  /** Per-message counters when metrics are on. */
  get tap(): Tap | undefined {
    return this.lifecycle?.tap;
  }

  /** This node's session cores (live or cached). */
  cores(): IterableIterator<SessionCore> {
    return this.#live.values();
  }

  /** Wraps the store every core uses from now on (metrics' timing wrapper). */
  instrumentStore(wrap: (store: Store) => Store): void {
    this.store = wrap(this.store);
  }

  /** Sessions live on this node. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Is there room for one more session on this node? Sessions whose record the store is still
   * creating count: checked only before, concurrent handshakes (a slow body, an `authenticate`)
   * all passed, and one burst went past maxSessions by up to the handshake rate's burst.
   */
  get full(): boolean {
    return this.#live.size + this.#creating >= this.options.limits.maxSessions;
  }

  /**
   * Creates a session (the caller checked `full`). Emit `connection` with {@link announce}. `user`:
   * from `authenticate`. `raced`: the client marked the attempt `race=1`, so it may lose to a parallel
   * one: the session stays unclaimed (no `connection`) until {@link claim}, and lives only the claim
   * window until then.
   */
  async create(protocol: string, user?: unknown, raced = false): Promise<{ core: SessionCore; token: string }> {
    const { record, token } = newRecord(protocol, user, raced);
    this.#creating++;
    try {
      await this.store.create(record, this.#createTtl(raced));
    } finally {
      this.#creating--;
    }
    return { core: this.#created(record, raced), token };
  }

  /**
   * {@link create} in this call, on an in-process store ({@link Store.sync}): no promise or await per
   * handshake. Undefined (nothing done) on any other store.
   */
  createNow(protocol: string, user?: unknown, raced = false): { core: SessionCore; token: string } | undefined {
    const sync = this.store.sync;
    if (!sync) return undefined;
    const { record, token } = newRecord(protocol, user, raced);
    sync.createSync(record, this.#createTtl(raced));
    return { core: this.#created(record, raced), token };
  }

  #createTtl(raced: boolean): number {
    return raced ? Math.min(CLAIM_WINDOW, this.options.resumeWindow) : this.options.resumeWindow;
  }

  /** The live core of a session whose record was just created. */
  #created(record: SessionRecord, raced: boolean): SessionCore {
    const core = this.#core(record);
    core.unclaimed = raced;
    core.unannounced = true;
    this.#live.set(record.id, core);
    return core;
  }

  /** The client chose this raced session: it is announced now, once. No-op for a claimed session. */
  claim(core: SessionCore): void {
    if (!core.unclaimed) return;
    if (core.claimed) return core.claimed();
    core.unclaimed = false;
    // Claimed already on this node (a raced WebSocket whose own claim has not reached the store yet).
    if (!core.announced) this.announce(core);
  }

  /**
   * Drops a session created for a client that left before it could learn of it (its WebSocket closed
   * while the store was creating the record): no `connection`, no `close`, nothing left in the store.
   */
  discard(core: SessionCore): void {
    core.terminate();
    this.store.delete(core.id).catch((err: unknown) => this.emitError(err));
  }

  /**
   * The stream that created raced session `core` closed before this node saw the claim: the session
   * is discarded unless the store says a request claimed it elsewhere (its `activity` left 0).
   */
  discardUnclaimed(core: SessionCore): void {
    const sync = this.store.sync;
    const check = (r: SessionRecord | undefined): void => {
      if (core.unclaimed && (!r || r.activity === 0)) this.discard(core);
    };
    if (sync) return check(sync.peekSync(core.id));
    this.store.get(core.id).then(check, (err: unknown) => this.emitError(err));
  }

  announce(core: SessionCore): void {
    core.announced = true;
    this.#safely(() => this.#events.connection(core.handle));
    // The transport that attached before it (an SSE handshake's stream, a raced session's socket).
    const t = core.transport;
    if (t && !core.closed) this.emitTransport(core.handle, t);
  }

  /**
   * The session named by `sid` if `token` proves it, refreshing its TTL. Unknown, expired and
   * wrong-token all come back `undefined`: callers answer them identically.
   */
  async resume(sid: string, token: string | null | undefined, claim = true, socket?: object): Promise<Resumed | undefined> {
    if (this.store.sync) return this.resumeNow(sid, token, claim, socket);
    if (!SESSION_ID_RE.test(sid)) return undefined;
    const proven = await proveRecord(this.store, this.options.resumeWindow, sid, token, claim, socket);
    return proven && this.#resumed(proven.found, proven.record, claim);
  }

  /**
   * {@link resume} within this call on an in-process store ({@link Store.sync}): read and touched in
   * place, no copy until the touch, no promise hop (a poll and a POST each do one). Undefined on any
   * other store, as for an unknown session: call it only when `store.sync` is set.
   */
  resumeNow(sid: string, token: string | null | undefined, claim = true, socket?: object): Resumed | undefined {
    if (!SESSION_ID_RE.test(sid)) return undefined;
    const proven = proveRecordNow(this.store, this.options.resumeWindow, sid, token, claim, socket);
    return proven && this.#resumed(proven.found, proven.record, claim);
  }

  /** The end of a resume: the live core, made if this node has none, refreshed from `record`. */
  #resumed(found: SessionRecord, record: SessionRecord, claim: boolean): Resumed {
    const sid = record.id;
    let core = this.#live.get(sid);
    if (core) {
      core.refresh(record);
      // A core with no downstream here (a POST-only node, a poll between two) is a cache dropped once
      // the session could have expired; this request just refreshed its TTL, so the cache lives on.
      // Dropped on a timer while POSTs kept coming, the app saw a new Session object per window.
      if (this.idleCores.has(core)) this.idleCores.arm(core);
    } else {
      core = this.#core(record);
      this.#live.set(sid, core);
    }
    core.seen();
    // A raced session is claimed by the client's first request (other than an abandon) on any node:
    // the store's atomic touch took `activity` from 0 to 1 for exactly one request. Later ones find
    // it claimed, here or elsewhere. (An abandon does not touch, so it never claims.)
    if (record.raced && !found.closed) {
      if (!claim) core.unclaimed = record.activity === 0 && !core.announced;
      else if (record.activity === 1) {
        core.unclaimed = true;
        this.claim(core);
      } else core.unclaimed = false;
    }
    return { core, record };
  }

  openFrame(core: SessionCore, token: string, resumed: boolean, ack: number): OpenFrame {
    const o = this.options;
    // Buffer limits below the client's own ack cadence ask for acks at a quarter of the frames and an
    // eighth of the bytes (the client counts text in UTF-16 units, up to 3x under its UTF-8 bytes).
    const every = Math.max(1, Math.floor(o.limits.maxBufferedMessages / 4));
    const bytes = Math.max(1, Math.floor(o.limits.maxBufferedBytes / 8));
    return {
      t: 'open',
      v: PROTOCOL_VERSION,
      sid: core.id,
      token,
      ack,
      resumed,
      protocol: core.protocol,
      heartbeat: o.heartbeat,
      heartbeatTimeout: o.heartbeatTimeout,
      maxPayload: o.limits.maxPayload,
      resumeWindow: o.resumeWindow,
      ...(every < ACK_EVERY ? { ackEvery: every } : {}),
      ...(bytes < ACK_SIZE ? { ackBytes: bytes } : {}),
    };
  }

  forget(core: SessionCore): void {
    if (this.#live.get(core.id) !== core) return;
    this.#live.delete(core.id);
    const tail = core.inboundTail;
    this.#inboundTails.set(core.id, tail);
    void tail.then(() => {
      if (this.#inboundTails.get(core.id) === tail) this.#inboundTails.delete(core.id);
    });
  }

  /** A core for `record`, behind any inbound work a disposed core of the session still runs here. */
  #core(record: SessionRecord): SessionCore {
    return new SessionCore(this, record, this.#inboundTails.get(record.id));
  }

  /**
   * Why a new session or downstream is refused now, for a request that was already past the route's
   * check when the node began to close or drain (it waited on `authenticate` or the store).
   */
  shutRefusal(): 'goingAway' | 'serviceRestart' | undefined {
    return this.closing ? 'goingAway' : this.draining ? 'serviceRestart' : undefined;
  }

  /** Ends every transport on this node with `code`; the sessions live on in the store. */
  closeAll(code: number, reason: string): void {
    this.closing = true;
    this.#stopExpiry();
    this.#stopStatus();
    for (const core of [...this.#live.values()]) core.dispose(code, reason);
  }

  emitMessage(session: Session, data: string | Buffer, info: MessageInfo): void {
    this.#safely(() => this.#events.message(session, data, info));
  }

  emitClose(session: Session, code: number, reason: string): void {
    this.#safely(() => this.#events.close(session, code, reason));
  }

  emitTransport(session: Session, name: TransportName): void {
    this.#safely(() => this.#events.transport(session, name));
  }

  emitError(err: unknown): void {
    this.#events.error(err);
  }

  // ---- rooms -----------------------------------------------------------------------------------------

  /** One message to every member of `room` (every open session when undefined): see fanout.ts. */
  fanout(room: string | undefined, input: SendData): Promise<{ delivered: number }> {
    return fanout(this, room, input);
  }

  /** The live core of `sid` on this node, if any. */
  live(sid: string): SessionCore | undefined {
    return this.#live.get(sid);
  }

  /** A core for `record` that is not live here (the caller disposes of it): to record a close from this node. */
  transientCore(record: SessionRecord): SessionCore {
    return this.#core(record);
  }

  // ---- store health ------------------------------------------------------------------------------------

  /**
   * The store restarted empty: no session this node holds can resume without a gap. Each ends with
   * 4006, its transport too, and later requests for it answer 410. Several nodes may hold a core of
   * one session (an SSE stream here, its POSTs there) and the lost record can no longer pick the one
   * that emits `close`: the store, back and empty, does (`claimLostClose`). A store that cannot tell
   * leaves it to the node that attached the session's latest downstream, which two nodes may both
   * believe they did when the attach announcements were lost with the store.
   */
  #lost(): void {
    const until = Date.now() + this.options.resumeWindow;
    for (const core of [...this.#live.values()]) {
      this.#tombstone(core.id, until);
      const lastOwner = core.lastOwner;
      if (!core.terminate(CloseCode.StateLost, STATE_LOST_REASON)) continue;
      const emit = (): void => this.emitClose(core.handle, CloseCode.StateLost, STATE_LOST_REASON);
      const claim = this.store.claimLostClose?.(core.id, this.options.resumeWindow);
      if (!claim) {
        if (lastOwner) emit();
        continue;
      }
      claim.then(
        (first) => {
          if (first ?? lastOwner) emit();
        },
        (err: unknown) => {
          this.emitError(err);
          if (lastOwner) emit();
        },
      );
    }
  }

  #tombstone(sid: string, until: number): void {
    const now = Date.now();
    const max = this.options.limits.maxSessions;
    this.#tombstones.delete(sid);
    for (const [old, t] of this.#tombstones) {
      if (t > now && this.#tombstones.size < max) break;
      this.#tombstones.delete(old);
    }
    this.#tombstones.set(sid, until);
  }

  #expired(record: SessionRecord): void {
    const core = this.#live.get(record.id) ?? this.#core(record);
    const announced = !core.unclaimed && !(record.raced && record.activity === 0);
    const wasOpen = core.terminate(4002, 'resume window elapsed');
    // A raced session nobody claimed was never announced: it goes without a `close` too.
    if (record.closed === undefined && wasOpen && announced) this.emitClose(core.handle, 4002, 'resume window elapsed');
  }

  /** An application handler that throws must not break the session machinery. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#events.error(err);
    }
  }
}

/** A session a resume found: its live core here and its record. */
export type Resumed = { readonly core: SessionCore; readonly record: SessionRecord };

