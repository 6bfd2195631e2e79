/**
 * The contract between the session core and wherever session state lives. Every method is async so a
 * networked store (Redis: one Lua script or pipeline per call) fits behind it; a call that must be
 * atomic across nodes says so. The store never sees a transport, a request or a socket.
 *
 * Expiry is kept by the store (a TTL refreshed with `touch`), never by comparing node clocks.
 */
import type { Payload, SequencedFrame, WsMessage } from '@burrow/shared';

/** What the store keeps about one session. */
export interface SessionRecord {
  readonly id: string;
  /** sha256 of the token, hex. The token itself is never stored. */
  readonly tokenHash: string;
  /** The subprotocol picked at creation, or ''. */
  readonly protocol: string;
  /** Application data (`session.data`); must survive JSON. */
  readonly data: unknown;
  /** What the `authenticate` hook attached at the handshake (`session.user`); must survive JSON. Set once, at `create`. */
  readonly user?: unknown;
  /** Highest client seq accepted in order (the server's inbound ack). */
  readonly inAck: number;
  /** Highest server seq assigned. */
  readonly outSeq: number;
  /** Highest server seq the client acknowledged; the log holds `outAck+1 .. outSeq`. */
  readonly outAck: number;
  /** Bumped by every client-driven `touch`, so a node can tell the client is alive elsewhere. */
  readonly activity: number;
  /**
   * Created by a raced attempt (`race=1`): announced only on the client's claim, which is the first
   * client-driven `touch` (the one that takes `activity` from 0 to 1), whichever node it reaches.
   */
  readonly raced?: true;
  /** Set once the session is closed (by either side); the record then only lingers for the echo. */
  readonly closed?: { readonly code?: number; readonly reason?: string; readonly by: 'client' | 'server' };
}

/** A server → client sequenced frame in the outbound log. */
export interface OutboundFrame {
  readonly frame: SequencedFrame;
  /** Payload bytes as the buffer limits count them. */
  readonly size: number;
  /**
   * Encodings cached by the session core on first write, so a resend or a second transport never
   * re-encodes. A store may keep them (in memory) or drop them (across the network).
   */
  ws?: WsMessage;
  json?: string;
}

/** A frame to append; the store assigns its seq. */
export interface NewFrame {
  readonly t: 'd';
  readonly data: Payload;
  /** Payload bytes, when the caller already knows them (saves a UTF-8 scan). */
  readonly size?: number;
}

/** Buffer bounds `append` enforces. */
export interface AppendLimits {
  readonly maxBufferedMessages: number;
  readonly maxBufferedBytes: number;
  /**
   * Optional node-wide cap on the unacknowledged bytes an in-process store holds for all sessions
   * together; an append that would cross it is refused as `overflow` (bytes count until acked, or
   * until their session is deleted or expires). An in-process store enforces it; stores that keep logs
   * outside the process may ignore it.
   */
  readonly maxTotalBufferedBytes?: number;
}

export type AppendResult =
  | { readonly ok: true; readonly frames: readonly OutboundFrame[] }
  | { readonly ok: false; readonly reason: 'overflow' | 'unknown' | 'closed' };

export type CloseResult =
  | { readonly ok: true; readonly first: boolean; readonly frame?: OutboundFrame; readonly record: SessionRecord }
  | { readonly ok: false; readonly reason: 'unknown' };

/** A client data frame offered to `acceptInbound`, recorded in the inbound journal when accepted. */
export interface InboundData {
  readonly data: Payload;
}

/** A client data frame offered to `acceptInboundBatch`: its seq and payload. */
export interface InboundFrame {
  readonly seq: number;
  readonly data: Payload;
}

/** Outcome of `acceptInboundBatch` (see there). */
export interface InboundBatchResult extends InboundReplay {
  /**
   * One status per frame judged, in order (as `acceptInbound` would answer for it alone, after the
   * ones before it): every one `new` or `dup` but maybe the last, where the batch stopped.
   */
  readonly statuses: readonly InboundResult['status'][];
  /** The inbound ack after the frames judged. */
  readonly ack: number;
}

/** An accepted client data frame from the inbound journal, to be delivered again (see {@link Store.replayInbound}). */
export interface JournalEntry {
  readonly seq: number;
  readonly data: Payload;
}

/** Journal entries a node must deliver (flagged redelivered), and when to look again. */
export interface InboundReplay {
  /**
   * Entries now owned by the caller that no node is known to have delivered, oldest first: the caller
   * emits them before anything else, then confirms them (`confirmInbound`). Absent when none.
   */
  readonly replay?: readonly JournalEntry[];
  /**
   * Unconfirmed entries of another node that is still alive remain (that node will deliver them, or
   * die): call `replayInbound` again after this many ms. Absent when there are none.
   */
  readonly recheckMs?: number;
}

/** Outcome of `acceptInbound`, with the inbound ack after it (and any journal entries to redeliver). */
export interface InboundResult extends InboundReplay {
  /**
   * `wait`: the seq is next, but another node holds an earlier accepted frame it may not have emitted
   * yet; ask again (with `force` once waiting is pointless) so the app sees frames in seq order.
   */
  readonly status: 'new' | 'dup' | 'gap' | 'wait' | 'unknown';
  readonly ack: number;
}

/**
 * Events on a session's channel, for the node holding the live downstream:
 * - `append`: frames up to `lastSeq` exist (maybe appended by another node); `lastSeq` =
 *   `Number.MAX_SAFE_INTEGER` means "you may have missed something: read again" (a store sends it
 *   after a (re)subscription becomes effective). `frames`, when present, are the log's frames that
 *   end at `lastSeq`, as a read would return them: a listener whose downstream has everything before
 *   the first may write them instead of reading the log (a networked store can carry small appends in
 *   the wake itself);
 * - `attach`: the downstream moved to `owner` (any other holder must let go);
 * - `pong`: a ping arrived elsewhere; answer it on the downstream.
 */
export type WakeEvent =
  | { readonly type: 'append'; readonly lastSeq: number; readonly frames?: readonly OutboundFrame[] }
  | { readonly type: 'attach'; readonly owner: string }
  | { readonly type: 'pong' };

/**
 * Health of a networked store as the nodes see it:
 * - `up`: commands go through;
 * - `down`: unreachable — calls fail fast (no offline queue) and the node reports itself unhealthy;
 * - `lost`: reachable again but its data set is not the one sessions were written to (restarted
 *   empty): every session this node serves must close with 4006 rather than resume with a gap.
 */
export type StoreStatus = 'up' | 'down' | 'lost';

/** Storage of sessions. `MemoryStore` is the default; a networked store makes nodes share sessions. */
export interface Store {
  /**
   * Creates a record that expires after `ttlMs` unless touched (not before: still there until about
   * `ttlMs` has passed). Keeps every field given, `user` as JSON would and `raced`. Rejects when `id` exists.
   */
  create(record: SessionRecord, ttlMs: number): Promise<void>;
  get(sid: string): Promise<SessionRecord | undefined>;
  /**
   * Resets the TTL: the record now expires `ttlMs` from now, also when `ttlMs` is the TTL it has (a
   * heartbeat) and with `activity`, which also bumps `record.activity` (client-driven requests).
   */
  touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined>;
  /**
   * `get` and `touch` of a request that presents a token, in one step (one round trip on a networked
   * store). Answers `undefined` when the session is unknown or its `tokenHash` is not `tokenHash`
   * (nothing is touched then: an unproven request never extends a session). A closed record, and an
   * unclaimed raced one when `claim` is false (an abandon), are answered untouched; any other is
   * touched as `touch(sid, ttlMs, true)` would. The caller still compares the token with the record's
   * hash itself (in constant time). Optional: without it the session core calls `get`, then `touch`.
   */
  touchProven?(sid: string, tokenHash: string, ttlMs: number, claim: boolean): Promise<SessionRecord | undefined>;
  /** Removes the record and its log at once. */
  delete(sid: string): Promise<void>;
  setData(sid: string, data: unknown): Promise<boolean>;
  /**
   * Appends frames to the outbound log, assigning consecutive seqs atomically, and publishes an
   * `append` wake event. Refuses the whole batch when it would pass either buffer bound. A networked
   * store may send the appends of one session made in one turn together (one round trip, one wake
   * event for all), each judged as if it ran alone, in call order.
   *
   * `token` (optional; `'<node> <n>'`, n increasing with every call of one node, no other spaces): a
   * networked store that keeps it answers a repeated call with the same token with the seq the first
   * one got, without appending again, so a retry after a lost reply is not a second message.
   *
   * `after` (optional): the token of the same node's previous append of this session that may not
   * have run yet (its try failed on a store error and waits for a retry). The store refuses this one
   * (rejects, as on a store failure) until that one has run, so one node's appends of a session take
   * seqs in the order it made them even when a try fails and another goes through. Since they run in
   * token order, a retry whose token is older than one that ran since had run too: the store answers
   * `ok` with no frames (they are in the log; their seqs are not known).
   *
   * A store may ignore both (an in-process store never loses a reply): each such call is then a plain
   * append, answered with its frames.
   */
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token?: string, after?: string): Promise<AppendResult>;
  /**
   * Marks the session closed and appends the close frame, atomically and only once: the first caller
   * gets `first: true` and the frame; later callers (the other side's echo, a second node) `first: false`.
   * Ignores the buffer bounds: a close must always be deliverable.
   */
  appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult>;
  /**
   * Up to `maxFrames` / `maxBytes` frames with seq > `afterSeq`, oldest first (by seq, as numbers); at
   * least one if any exist. Every frame after the ack is there, however many were trimmed before it.
   */
  read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]>;
  /**
   * Client acknowledged every seq up to `ack`: trims the log. Clamped to the highest assigned seq so an
   * ack for frames never sent trims nothing extra. Returns false when the session is unknown.
   */
  ack(sid: string, ack: number): Promise<boolean>;
  /**
   * Inbound de-duplication, atomic: seq `inAck+1` is `new` (and becomes the ack), lower is `dup`, higher
   * is `gap`.
   *
   * **Inbound journal** (networked stores; optional — an in-process store dies with the node that
   * emits, so it ignores `frame` and never returns `replay`). Committing a seq and emitting its
   * `message` cannot be one atomic step when the node may be killed between the two, so a networked
   * store records every accepted data `frame` in a per-session journal, owned by the calling node, in
   * the same atomic step. The node confirms an entry once it has emitted it (`confirmInbound`).
   * The same call also returns, in `replay`, the unconfirmed entries the caller must now deliver:
   * those of a node that is no longer alive (taken over by the caller, atomically, so exactly one node
   * gets each) and the caller's own whose reply never reached it. Calls for one session from one node
   * must be serial (the session core's inbound queue) for the latter to be sound.
   *
   * While another node's entry is unconfirmed, the next seq answers `wait` and is not accepted, so
   * the app hears frames in seq order even when consecutive batches land on different nodes; `force`
   * accepts it anyway (the caller's last resort once it has waited long enough).
   */
  acceptInbound(sid: string, seq: number, frame?: InboundData, force?: boolean): Promise<InboundResult>;
  /**
   * `acceptInbound` (without `force`) for a run of client data frames of one session, in one atomic
   * step: a networked store's group commit, one round trip for the frames of a WebSocket burst or of
   * a POST body. The frames are judged in order, each exactly as `acceptInbound(sid, seq, frame)`
   * would judge it after the ones before it, and the batch stops at the first one that is neither
   * `new` nor `dup` (`wait`, `gap`, `unknown`): the caller handles that one as `acceptInbound`'s answer
   * (a `wait` it offers again alone) and the ones after it are not judged. `replay` and `recheckMs` are
   * as in `acceptInbound` (entries to deliver before the frames of this batch). Confirms and the
   * serial calls per session and node are as in `acceptInbound`. Optional: the session core falls
   * back to one `acceptInbound` per frame.
   */
  acceptInboundBatch?(sid: string, frames: readonly InboundFrame[]): Promise<InboundBatchResult>;
  /**
   * The node emitted every accepted entry of `sid` up to `seq`: its journal entries up to there can go.
   * Never costs a round trip of its own per message: a networked store piggybacks it on the session's
   * next `acceptInbound` and flushes it on a short timer when the session goes quiet. `soon`: the
   * client's next frames may reach another node (an HTTP POST; a round-robin balancer sends each to
   * the next node), which holds them back until this confirm lands: flush it on the next turn of the
   * event loop (one round trip for every confirm of that turn) instead. Optional (see
   * `acceptInbound`).
   *
   * `after` (optional): read when the confirm is sent, the token (see `append`) of this node's newest
   * append of the session that may not have run yet. The confirm takes effect only once that append
   * has run: confirming lets another node accept the session's next frames, and its app's answers to
   * them must not take seqs before the ones this node's app sent for these (an append held through
   * a failover, issue #14). The store tries a held confirm again until it goes through.
   */
  confirmInbound?(sid: string, seq: number, soon?: boolean, after?: () => string | undefined): void;
  /**
   * The journal entries the caller must deliver now, as in `acceptInbound`'s `replay`, without
   * offering a frame (a transport attached, or a recheck). Optional (see `acceptInbound`).
   */
  replayInbound?(sid: string): Promise<InboundReplay>;
  /** Sends an event to every subscriber of the session (also used internally by `append`). */
  publish(sid: string, event: WakeEvent): Promise<void>;
  /** Listens to the session's channel; returns the unsubscribe function. */
  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void;
  /**
   * Called with the last state of each record whose TTL ran out. Each expiry reaches exactly one
   * listener across all nodes (a networked store claims it), and only once, however late (a sweep
   * never reports it again), so `close` is emitted once.
   */
  onExpired(listener: (record: SessionRecord) => void): () => void;
  // ---- rooms: fan-out that reaches every member on every node, exactly once ----

  /** Adds the session to `room`; false when the session is unknown. Memberships die with the session. */
  join(sid: string, room: string): Promise<boolean>;
  leave(sid: string, room: string): Promise<void>;
  /**
   * Rooms the session is in. A closed session, while its record lingers, still lists the rooms it was
   * in (and any it joined after the close), though it is a member of none (see `members`): a networked
   * store's close and expiry read them to take it out of each room. Empty once the record is gone.
   */
  rooms(sid: string): Promise<readonly string[]>;
  /**
   * Session ids in `room`, or of every session when `room` is undefined. A closed session is in no
   * room. The list of every session may still name one that closed while its record lingers (a
   * networked store would pay a check per session and per broadcast to leave it out): its append
   * answers `closed`, so a broadcast skips it anyway.
   */
  members(room: string | undefined): Promise<readonly string[]>;
  /**
   * Appends one frame to each session's log, each append atomic and bounded like `append` (and each
   * publishing its wake event), all in one round trip where the store is networked (a pipeline of
   * single-session scripts, so it also works when sessions live on different Redis Cluster slots).
   * A session listed more than once gets the frame once (one result for it): each member of a room
   * gets a room message once.
   */
  appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>>;

  // ---- health ----

  /** Current status; an in-process store is always `up`. */
  status(): StoreStatus;
  /** Called on every status change. */
  onStatus(listener: (status: StoreStatus) => void): () => void;

  /** Releases timers and connections. */
  close?(): Promise<void>;

  /**
   * After the store reported `lost` (it came back empty): claims the one `close` event of `sid`
   * across all nodes, which the lost record can no longer decide (as `appendClose` would). True for
   * the first caller within `ttlMs`, false for the others; undefined when the store cannot tell
   * (the nodes then fall back to "the node that attached the latest downstream"). Optional: a store
   * that never loses its state leaves it out.
   */
  claimLostClose?(sid: string, ttlMs: number): Promise<boolean | undefined>;

  /**
   * An in-process store's synchronous twins of the per-message calls. Optional: a networked store
   * leaves it out. When present, the session core calls these directly, so a single node on the
   * default store pays no promise hop, queue or timer per message (DESIGN invariant 7, "no store round
   * trip on the single-node fast path"). They must behave exactly like their async counterparts.
   */
  readonly sync?: SyncStore;
}

/**
 * A listener of {@link SyncStore.subscribeSync}: a function, or an object whose `wake` is called (a
 * session core listens as itself, so it keeps no closure for it).
 */
export type WakeListener = ((event: WakeEvent) => void) | { wake(event: WakeEvent): void };

/** See {@link Store.sync}. */
export interface SyncStore {
  /** `create`, returning at once (throws what `create` rejects with). */
  createSync(record: SessionRecord, ttlMs: number): void;
  /**
   * `append`, returning at once. `origin`: the caller's own wake-up listener (from `subscribe`); it
   * is not woken for this append, since the caller writes the frames it gets back itself.
   */
  appendSync(sid: string, frames: readonly NewFrame[], limits: AppendLimits, origin?: WakeListener): AppendResult;
  /**
   * `get` without the copy: the live record, valid only until the caller's next store call (it is
   * read at once, never kept).
   */
  peekSync(sid: string): SessionRecord | undefined;
  /** `touch`, returning at once (a copy of the record, as `touch` does). */
  touchSync(sid: string, ttlMs: number, activity: boolean): SessionRecord | undefined;
  /** `read`, returning at once. */
  readSync(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): readonly OutboundFrame[];
  /** `publish`, not waking `origin` (the caller's own listener, which knows already). */
  publishSync(sid: string, event: WakeEvent, origin?: WakeListener): void;
  /**
   * `subscribe` without making the unsubscribe function (a closure kept per session for as long as
   * it listens): the caller undoes it with {@link unsubscribeSync} and the same listener.
   */
  subscribeSync(sid: string, listener: WakeListener): void;
  unsubscribeSync(sid: string, listener: WakeListener): void;
  /** `acceptInbound` without a journal (an in-process store has none). */
  acceptInboundSync(sid: string, seq: number): InboundResult;
  /** `ack`, returning at once. */
  ackSync(sid: string, ack: number): boolean;
}
