/**
 * Sessions. `Session` is the handle application code holds; `SessionCore` is this node's live state of
 * one session: the attached downstream, how far it has been written, heartbeat and ack timers, and the
 * serial queue that applies inbound frames one at a time in seq order. Everything durable goes through
 * the store, so any node can pick a session up where another left it.
 */
import { CloseCode, type AckFrame, type Frame, type PongFrame, type ProtocolError, type SequencedFrame } from '@burrow/shared';
import { BurrowError, storeUnavailable } from '../errors/burrow-error.js';
import { protocolError } from '../errors/refusals.js';
import type { ResolvedOptions } from '../options.js';
import { checkRoom, preparePayload, type SendData } from './payload.js';
import type { Tap } from '../ops/lifecycle.js';
import { payloadSize } from '@burrow/shared';
import type { InboundReplay, InboundResult, OutboundFrame, SessionRecord, Store, WakeEvent } from '../store/store.js';
import { InboundGate } from './backpressure.js';

/** How bytes move right now. */
export type TransportName = 'websocket' | 'sse' | 'polling';

export type { SendData } from './payload.js';

/** A transport's downstream half, as the session core drives it. */
export interface Downstream {
  readonly transport: TransportName;
  /** Bounds of one read from the log for this downstream. */
  readonly batchFrames: number;
  readonly batchBytes: number;
  /** Writes sequenced frames, in seq order. */
  write(frames: readonly OutboundFrame[]): void;
  /** Writes an unsequenced frame. */
  control(frame: AckFrame | PongFrame): void;
  /** Ends the transport (replaced, dead, shutting down, session over); the session itself lives on. */
  end(code: number, reason: string): void;
}

/** What a session core needs from the Burrow that owns it. */
export interface SessionHost {
  readonly options: ResolvedOptions;
  readonly store: Store;
  /** Unique per Burrow instance; prefixes downstream owner ids. */
  readonly nodeId: string;
  /** The store reports itself `down`: calls would fail, so fail fast without making them. */
  readonly storeDown: boolean;
  emitMessage(session: Session, data: string | Buffer, info: MessageInfo): void;
  emitClose(session: Session, code: number, reason: string): void;
  emitTransport(session: Session, name: TransportName): void;
  emitError(err: unknown): void;
  /** Per-message counters when metrics are on. */
  readonly tap?: Tap | undefined;
  /** The core is done on this node; drop it from the live map. */
  forget(core: SessionCore): void;
}

/**
 * Third argument of the `message` event.
 * - `seq`: the client's sequence number of the message in its session (1, 2, ...): with `session.id`,
 *   a key that names the message on every node.
 * - `redelivered`: `true` when the message is delivered again on this node because the node that
 *   accepted it was killed (or lost its reply) while handling it: it may or may not have run the
 *   handler there. A handler with durable effects makes itself idempotent with `(session.id, seq)`.
 *   Always `false` in normal operation, across transport switches, reconnects and node switches.
 */
export interface MessageInfo {
  readonly seq: number;
  readonly redelivered: boolean;
}

/** Send an ack at once after this many frames delivered but not yet acknowledged. */
const ACK_EVERY = 128;

/** Outcome of applying an inbound batch. */
export interface InboundOutcome {
  /** The inbound ack after the batch. */
  readonly ack: number;
  /** Set when the batch broke the protocol or the session is gone. */
  readonly error?: ProtocolError;
}

let ownerCounter = 0;

/** Node-local state of one session. Internal: transports and the Burrow use it, apps see `Session`. */
/** Longest an inbound frame waits for another node to emit the frames before it (see #accept). */
const ACCEPT_WAIT_MS = 12_000;

export class SessionCore {
  readonly id: string;
  readonly protocol: string;
  readonly handle: Session;
  readonly host: SessionHost;
  data: unknown;
  /** What `authenticate` attached at the handshake (persisted in the record). */
  readonly user: unknown;
  /** `onBufferFull: 'pause'`: closed while the outbound buffer is full (see backpressure.ts). */
  readonly gate = new InboundGate();
  /** Known closed (by either side); no more `message` events, no more sends. */
  closed: boolean;
  /** Both close frames exchanged: the downstream ends once our last frame is written. */
  #closeDone = false;
  #closeTimer: NodeJS.Timeout | undefined;

  #downstream: Downstream | undefined;
  #owner = '';
  /**
   * This node attached the session's latest downstream (no other node's `attach` heard since): the
   * one node that speaks for the session when no store can decide, as when the store lost its state.
   */
  #lastOwner = false;
  #transport: TransportName | null = null;
  /** Highest seq written to the current downstream. */
  #sentSeq = 0;
  #pumping = false;
  #pumpAgain = false;
  #unsubscribe: (() => void) | undefined;
  #pendingPong = false;

  /** Inbound frames are applied strictly one batch at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #inAck: number;
  #ackedOnWire: number;
  #ackTimer: NodeJS.Timeout | undefined;
  /** Inbound journal (networked stores): a look again at another live node's unconfirmed entries. */
  #recheck: NodeJS.Timeout | undefined;
  #journalChecked = false;

  #lastSeen = Date.now();
  /** Highest outbound seq and client ack this node has seen (for the buffer gauge). */
  #outHigh = 0;
  #outAcked = 0;
  #activity: number;
  #tick: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;

  constructor(host: SessionHost, record: SessionRecord) {
    this.host = host;
    this.id = record.id;
    this.protocol = record.protocol;
    this.data = record.data;
    this.user = record.user;
    this.closed = record.closed !== undefined;
    this.#inAck = record.inAck;
    this.#ackedOnWire = record.inAck;
    this.#activity = record.activity;
    this.handle = new Session(this);
    this.#startIdle();
  }

  get transport(): TransportName | null {
    return this.#transport;
  }

  /** Highest client seq applied in order (what an `open` or a POST answer reports). */
  get inAck(): number {
    return this.#inAck;
  }

  /** When the client last showed life on this node (ms epoch). */
  get lastSeen(): number {
    return this.#lastSeen;
  }

  /** Outbound frames this node knows were queued but not yet acknowledged by the client. */
  get unacked(): number {
    return Math.max(0, this.#outHigh - this.#outAcked);
  }

  /** See #lastOwner. */
  get lastOwner(): boolean {
    return this.#lastOwner;
  }

  get attached(): boolean {
    return this.#downstream !== undefined;
  }

  /** Fresh state from a request's record lookup. */
  refresh(record: SessionRecord): void {
    this.data = record.data;
    if (record.closed) this.closed = true;
    if (record.inAck > this.#inAck) this.#inAck = record.inAck;
  }

  /** Any sign of life from the client on this node. */
  seen(): void {
    this.#lastSeen = Date.now();
  }

  // ---- downstream ------------------------------------------------------------------------------

  /**
   * Makes `d` the session's downstream, replacing any other (here or on another node), trims the log
   * to the client's ack and writes everything after it.
   */
  async attach(d: Downstream, clientAck: number, outSeq: number): Promise<void> {
    const old = this.#downstream;
    this.#downstream = d;
    this.#owner = `${this.host.nodeId}:${++ownerCounter}`;
    this.#lastOwner = true;
    this.#sentSeq = Math.min(clientAck, outSeq);
    if (outSeq > this.#outHigh) this.#outHigh = outSeq;
    if (clientAck > this.#outAcked) this.#outAcked = clientAck;
    this.#lastSeen = Date.now();
    if (old) old.end(CloseCode.TransportReplaced, 'replaced by a newer transport');
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
    this.#unsubscribe ??= this.host.store.subscribe(this.id, (ev) => this.#onWake(ev));
    if (d.transport !== 'polling') this.#startTick();
    if (this.#transport !== d.transport) {
      this.#transport = d.transport;
      this.host.emitTransport(this.handle, d.transport);
    }
    const store = this.host.store;
    try {
      await Promise.all([store.ack(this.id, clientAck), store.publish(this.id, { type: 'attach', owner: this.#owner })]);
      // A resume's (or a poll's) ack may drain a paused session's buffer.
      if (this.gate.paused) await this.gate.check(store, this.id, this.host.options.limits);
    } catch (err) {
      return this.transportFailed(d, err);
    }
    if (this.#downstream !== d) return;
    if (this.#pendingPong) {
      this.#pendingPong = false;
      d.control({ t: 'pong' });
    }
    // A resume may follow the death of the node that accepted our last messages: redeliver what it
    // never emitted (a poll checks once per core; its POSTs check on every accept anyway).
    if (store.replayInbound && (d.transport !== 'polling' || !this.#journalChecked)) this.#replayJournal();
    await this.#pump();
  }

  /** `d` is gone (closed by the peer, replaced, timed out). No-op if it is no longer current. */
  detach(d: Downstream): void {
    if (this.#downstream !== d) return;
    this.#downstream = undefined;
    this.#stopTick();
    // The wake-up subscription stays until the core is disposed: a polling client detaches after
    // every response, and re-subscribing per poll costs two store commands and opens a window in
    // which an append from another node goes unheard until the poll times out.
    this.#startIdle();
    // The resume window counts from the moment the last transport went away.
    if (!this.closed) this.#guard(this.host.store.touch(this.id, this.host.options.resumeWindow, false));
  }

  #onWake(ev: WakeEvent): void {
    if (ev.type === 'attach' && !ev.owner.startsWith(`${this.host.nodeId}:`)) this.#lastOwner = false;
    const d = this.#downstream;
    if (!d) return;
    if (ev.type === 'append') {
      if (ev.lastSeq > this.#sentSeq) void this.#pump();
    } else if (ev.type === 'attach') {
      // Our own attaches are handled locally; another node taking over means we let go.
      if (!ev.owner.startsWith(`${this.host.nodeId}:`)) d.end(CloseCode.TransportReplaced, 'replaced by a newer transport');
    } else d.control({ t: 'pong' });
  }

  /**
   * A store call failed while serving `d`: the transport ends with 1013 (the client resumes later,
   * with backoff) and the session lives on. Never throws.
   */
  transportFailed(d: Downstream | undefined, err: unknown): void {
    this.host.emitError(err);
    if (d && this.#downstream === d) d.end(CloseCode.TryAgainLater, 'store unavailable');
  }

  /** Frames appended by this node outside `send()` (a room fan-out): written at once when next in line. */
  deliverAppended(frames: readonly OutboundFrame[]): void {
    this.#deliver(frames);
  }

  /** Frames this node just appended: written straight to the downstream when they are next in line. */
  #deliver(frames: readonly OutboundFrame[]): void {
    const d = this.#downstream;
    const first = frames[0];
    if (!d || !first) return;
    if (!this.#pumping && first.frame.seq === this.#sentSeq + 1) this.#write(d, frames);
    else void this.#pump();
  }

  #write(d: Downstream, frames: readonly OutboundFrame[]): void {
    const last = frames[frames.length - 1];
    if (!last) return;
    this.#sentSeq = last.frame.seq;
    if (last.frame.seq > this.#outHigh) this.#outHigh = last.frame.seq;
    this.host.tap?.sent(d.transport, frames);
    d.write(frames);
    if (last.frame.t === 'close' && this.#closeDone && this.#downstream === d) d.end(CloseCode.Normal, 'session closed');
  }

  /** Reads whatever the downstream has not been given yet from the log and writes it. */
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    let d: Downstream | undefined;
    try {
      do {
        this.#pumpAgain = false;
        d = this.#downstream;
        if (!d) break;
        const after = this.#sentSeq;
        const frames = await this.host.store.read(this.id, after, d.batchFrames, d.batchBytes);
        if (this.#downstream !== d || this.#sentSeq !== after) {
          this.#pumpAgain = true;
          continue;
        }
        // Not `break`: a wake-up that came in while the read was in flight only set #pumpAgain, and
        // dropping it leaves a held poll asleep until its timeout.
        if (frames.length === 0) continue;
        this.#write(d, frames);
        // A full batch means there may be more; a poll has detached by now, which ends the loop.
        if (frames.length >= d.batchFrames) this.#pumpAgain = true;
      } while (this.#pumpAgain);
    } catch (err) {
      this.transportFailed(d, err);
    } finally {
      this.#pumping = false;
    }
  }

  /** A ping: answered on the downstream, wherever it is. */
  pong(): void {
    const d = this.#downstream;
    if (d) d.control({ t: 'pong' });
    else {
      this.#pendingPong = true;
      this.#guard(this.host.store.publish(this.id, { type: 'pong' }));
    }
  }

  // ---- heartbeat and expiry ------------------------------------------------------------------------

  #startTick(): void {
    if (this.#tick) return;
    const o = this.host.options;
    const every = Math.max(10, Math.min(o.heartbeatTimeout / 2, o.resumeWindow / 3));
    this.#tick = setInterval(() => void this.#onTick(), every);
    this.#tick.unref();
  }

  #stopTick(): void {
    if (this.#tick) clearInterval(this.#tick);
    this.#tick = undefined;
  }

  async #onTick(): Promise<void> {
    const d = this.#downstream;
    if (!d) return;
    const o = this.host.options;
    try {
      // Refreshes the TTL while a transport is attached, and tells us whether the client showed life
      // on another node (an SSE client's POSTs may land anywhere).
      const rec = await this.host.store.touch(this.id, o.resumeWindow, false);
      if (!rec) {
        d.end(CloseCode.SessionUnknown, 'session expired');
        return;
      }
      if (rec.activity !== this.#activity) {
        this.#activity = rec.activity;
        this.#lastSeen = Date.now();
      }
      if (this.#downstream === d && Date.now() - this.#lastSeen > o.heartbeat + o.heartbeatTimeout) {
        d.end(CloseCode.Abnormal, 'heartbeat timeout');
      }
    } catch (err) {
      this.transportFailed(d, err);
    }
  }

  /** With no transport here, the core is only a cache; drop it once the session could have expired. */
  #startIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    const o = this.host.options;
    this.#idle = setTimeout(() => {
      if (!this.#downstream) this.dispose();
    }, o.resumeWindow + o.closeLinger);
    this.#idle.unref();
  }

  /** Stops everything this node runs for the session and forgets it. */
  dispose(code: number = CloseCode.GoingAway, reason = 'server going away'): void {
    const d = this.#downstream;
    if (d) {
      this.detach(d);
      d.end(code, reason);
    }
    this.#stopTick();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const t of [this.#idle, this.#ackTimer, this.#closeTimer, this.#recheck]) if (t) clearTimeout(t);
    this.#idle = this.#ackTimer = this.#closeTimer = this.#recheck = undefined;
    this.host.forget(this);
  }

  // ---- outbound --------------------------------------------------------------------------------------

  async send(input: SendData): Promise<void> {
    if (this.closed) throw new BurrowError('session_closed', 'session is closed', CloseCode.Normal);
    const { data, size, header } = preparePayload(input, this.host.options.limits.maxPayload);
    if (this.host.storeDown) throw storeUnavailable();
    const r = await this.host.store.append(this.id, [{ t: 'd', data, size }], this.host.options.limits);
    if (!r.ok) {
      if (r.reason === 'overflow' && this.host.options.onBufferFull === 'pause') {
        // Loud but not fatal: the caller hears of it, and this node stops reading the session until acks drain it.
        this.gate.pause();
        throw new BurrowError('buffer_overflow', 'outbound buffer full: reading from the session is paused', CloseCode.BufferOverflow);
      }
      if (r.reason === 'overflow') {
        await this.closeBy('server', CloseCode.BufferOverflow, 'outbound buffer full');
        throw new BurrowError('buffer_overflow', 'outbound buffer full: the peer stopped reading', CloseCode.BufferOverflow);
      }
      this.closed = true;
      if (r.reason === 'closed') throw new BurrowError('session_closed', 'session is closed', CloseCode.Normal);
      throw new BurrowError('session_unknown', 'session expired', CloseCode.SessionUnknown);
    }
    const f = r.frames[0];
    if (header && f) {
      new DataView(header.buffer).setFloat64(0, f.frame.seq, false);
      f.ws = header;
    }
    this.#deliver(r.frames);
  }

  /**
   * Ends the session from this side, or records the peer's close. Emits `close` exactly once across
   * all nodes (the store's `appendClose` decides who is first) and queues the close frame.
   */
  async closeBy(by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<void> {
    const r = await this.host.store.appendClose(this.id, by, code, reason);
    this.closed = true;
    if (!r.ok) return this.dispose(CloseCode.SessionUnknown, 'session unknown');
    const o = this.host.options;
    if (r.first) {
      if (by === 'client') this.#closeDone = true;
      this.host.emitClose(this.handle, code ?? CloseCode.NoStatus, reason ?? '');
      if (r.frame) this.#deliver([r.frame]);
      if (by === 'client') {
        await this.host.store.touch(this.id, o.closeLinger, false);
      } else {
        // The client echoes our close; if it never does, stop waiting for it after closeLinger.
        this.#closeTimer = setTimeout(() => {
          const d = this.#downstream;
          if (d && !this.#closeDone) d.end(code ?? CloseCode.Normal, reason ?? '');
        }, o.closeLinger);
        this.#closeTimer.unref();
      }
    } else if (by === 'client' && r.record.closed?.by === 'server') {
      // The echo of our close: the handshake is complete.
      this.#closeDone = true;
      await this.host.store.touch(this.id, o.closeLinger, false);
      const d = this.#downstream;
      if (d) d.end(CloseCode.Normal, 'session closed');
    }
  }

  /** A violated limit or a protocol error: the session ends with `code` and the transport with it. */
  async fail(code: number, reason: string): Promise<void> {
    const d = this.#downstream;
    try {
      await this.closeBy('server', code, reason);
      this.#closeDone = true;
      await this.host.store.touch(this.id, this.host.options.closeLinger, false);
    } catch (err) {
      // The store cannot record the close: drop the transport (1013); the session is unchanged.
      return this.transportFailed(d, err);
    }
    if (d) d.end(code, reason);
  }

  // ---- rooms -----------------------------------------------------------------------------------------

  async join(room: string): Promise<void> {
    checkRoom(room);
    if (this.closed) throw new BurrowError('session_closed', 'session is closed', CloseCode.Normal);
    if (this.host.storeDown) throw storeUnavailable();
    if (!(await this.host.store.join(this.id, room))) {
      this.closed = true;
      throw new BurrowError('session_unknown', 'session expired', CloseCode.SessionUnknown);
    }
  }

  async leave(room: string): Promise<void> {
    checkRoom(room);
    if (this.host.storeDown) throw storeUnavailable();
    await this.host.store.leave(this.id, room);
  }

  async rooms(): Promise<readonly string[]> {
    if (this.host.storeDown) throw storeUnavailable();
    return this.host.store.rooms(this.id);
  }

  // ---- inbound ---------------------------------------------------------------------------------------

  /** Applies a batch of client frames after every batch queued before it. */
  inbound(frames: readonly Frame[], stopAtGap: boolean): Promise<InboundOutcome> {
    const run = this.#queue.then(() => this.#apply(frames, stopAtGap));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(frames: readonly Frame[], stopAtGap: boolean): Promise<InboundOutcome> {
    const store = this.host.store;
    let ack = -1;
    let pinged = false;
    for (const f of frames) {
      switch (f.t) {
        case 'd':
        case 'close': {
          const r = await this.#accept(f);
          if (r.status === 'unknown') return { ack: this.#inAck, error: unknownSession() };
          if (r.ack > this.#inAck) this.#inAck = r.ack;
          if (r.status === 'gap') {
            if (stopAtGap) {
              if (pinged) this.pong();
              return this.#flushAck(ack);
            }
            return { ack: this.#inAck, error: protocolError('bad_seq', `expected seq ${r.ack + 1}, got ${f.seq}`, 400, CloseCode.ProtocolError) };
          }
          if (r.status === 'new') {
            if (f.t === 'close') await this.closeBy('client', f.code, f.reason);
            else if (!this.closed) {
              const tap = this.host.tap;
              // Metrics: a POST is labelled with the downstream held here, else 'http'.
              if (tap) tap.received(stopAtGap ? (this.#transport === 'sse' || this.#transport === 'polling' ? this.#transport : 'http') : 'websocket', payloadSize(f.data));
              this.#delivered(f);
            }
            // Emitted (or dropped on purpose): its journal entry can go, piggybacked on the next call.
            if (f.t === 'd') store.confirmInbound?.(this.id, f.seq);
          }
          break;
        }
        case 'ack':
          if (f.ack > ack) ack = f.ack;
          break;
        case 'ping':
          // One pong answers every ping of a batch: a batch of thousands costs one frame.
          pinged = true;
          break;
        case 'pong':
          break;
        default:
          return { ack: this.#inAck, error: protocolError('bad_frame', `unexpected ${f.t} frame from a client`, 400, CloseCode.ProtocolError) };
      }
    }
    if (pinged) this.pong();
    return this.#flushAck(ack);
  }

  /**
   * Accepts one sequenced frame. While another node holds an earlier accepted frame it may not have
   * emitted yet (`wait`: e.g. the client gave up on a POST that node is still applying and resent the
   * rest here), emitting this one first would break seq order for the app, so it waits; a dead node's
   * entries are taken over and emitted meanwhile. Past ACCEPT_WAIT_MS it accepts anyway rather than
   * stall the session on a node that lives but never confirms.
   */
  async #accept(f: SequencedFrame): Promise<InboundResult> {
    const store = this.host.store;
    const frame = f.t === 'd' ? f : undefined;
    const giveUpAt = Date.now() + ACCEPT_WAIT_MS;
    let delay = 5;
    for (;;) {
      const r = await store.acceptInbound(this.id, f.seq, frame, Date.now() >= giveUpAt);
      if (r.status !== 'wait') {
        if (r.replay || r.recheckMs !== undefined) this.#redeliver(r);
        return r;
      }
      if (r.replay) {
        this.#redeliver({ replay: r.replay });
        continue;
      }
      await new Promise((done) => setTimeout(done, Math.min(delay, r.recheckMs ?? delay)));
      delay = Math.min(delay * 2, 100);
    }
  }

  async #flushAck(ack: number): Promise<InboundOutcome> {
    if (ack > this.#outAcked) this.#outAcked = ack;
    if (ack >= 0) {
      await this.host.store.ack(this.id, ack);
      if (this.gate.paused) await this.gate.check(this.host.store, this.id, this.host.options.limits);
    }
    return { ack: this.#inAck };
  }

  /**
   * Journal entries the store handed to this node (their node died, or our reply was lost): emitted
   * first, in seq order, flagged `redelivered`, then confirmed. Runs inside the inbound queue.
   */
  #redeliver(r: InboundReplay): void {
    this.#journalChecked = true;
    for (const e of r.replay ?? []) {
      if (!this.closed) {
        const data = typeof e.data === 'string' ? e.data : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        this.host.emitMessage(this.handle, data, { seq: e.seq, redelivered: true });
      }
      this.host.store.confirmInbound?.(this.id, e.seq);
    }
    if (r.recheckMs !== undefined && !this.#recheck) {
      this.#recheck = setTimeout(() => {
        this.#recheck = undefined;
        this.#replayJournal();
      }, r.recheckMs);
      this.#recheck.unref();
    }
  }

  /** Asks the store for journal entries to redeliver, in the inbound queue (never beside an accept). */
  #replayJournal(): void {
    const store = this.host.store;
    if (!store.replayInbound || this.closed) return;
    this.#journalChecked = true;
    const run = this.#queue.then(async () => {
      if (this.host.storeDown) return;
      this.#redeliver(await store.replayInbound!(this.id));
    });
    this.#queue = run.catch(() => undefined);
    this.#guard(run);
  }

  #delivered(f: Extract<SequencedFrame, { t: 'd' }>): void {
    const data = typeof f.data === 'string' ? f.data : Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength);
    this.host.emitMessage(this.handle, data, { seq: f.seq, redelivered: false });
    // On WebSocket the server acks on a short timer, or at once after a burst.
    if (this.#downstream?.transport !== 'websocket') return;
    if (this.#inAck - this.#ackedOnWire >= ACK_EVERY) this.#sendAck();
    else if (!this.#ackTimer) {
      this.#ackTimer = setTimeout(() => this.#sendAck(), this.host.options.ackDelay);
      this.#ackTimer.unref();
    }
  }

  #sendAck(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const d = this.#downstream;
    if (!d || this.#inAck <= this.#ackedOnWire) return;
    this.#ackedOnWire = this.#inAck;
    d.control({ t: 'ack', ack: this.#inAck });
  }

  /** Runs a store call whose result nobody waits for; failures become `error` events. */
  #guard(p: Promise<unknown>): void {
    p.catch((err: unknown) => this.host.emitError(err));
  }
}

function unknownSession(): ProtocolError {
  return protocolError('session_unknown', 'unknown or expired session', 404, CloseCode.SessionUnknown);
}

/** Returns `p` with a no-op rejection handler attached: an unawaited failure never crashes the process,
 * and a caller who awaits it still sees the rejection. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/**
 * One logical, ordered, bidirectional channel with one client. The same session survives transport
 * switches, reconnects and moves between nodes; register handlers on the Burrow, not on a session.
 */
export class Session {
  readonly #core: SessionCore;

  /** @internal Created by the server. */
  constructor(core: SessionCore) {
    this.#core = core;
  }

  /** Session id (public; appears in URLs). */
  get id(): string {
    return this.#core.id;
  }

  /** The subprotocol picked at the handshake, or ''. */
  get protocol(): string {
    return this.#core.protocol;
  }

  /** The transport this node is serving the session on, or null when none is attached here. */
  get transport(): TransportName | null {
    return this.#core.transport;
  }

  /** True once either side closed the session. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /** What the `authenticate` hook attached at the handshake (`undefined` without one); the same on every node. */
  get user(): unknown {
    return this.#core.user;
  }

  /** Application data, persisted in the store (so it must survive JSON when the store is networked). */
  get data(): unknown {
    return this.#core.data;
  }

  set data(value: unknown) {
    this.#core.data = value;
    this.#core.host.store.setData(this.#core.id, value).catch((err: unknown) => this.#core.host.emitError(err));
  }

  /**
   * Queues a message. Resolves once it is in the session's outbound log (delivery follows, exactly
   * once, on whatever transport the client has). Rejects with a {@link BurrowError}:
   * `payload_too_large`, `buffer_overflow` (the session is then closed with 4003), `session_closed`,
   * `store_unavailable` (the store is down: nothing was queued; the session is intact).
   * An unawaited rejection is handled and never crashes the process.
   */
  send(data: SendData): Promise<void> {
    return handled(this.#core.send(data));
  }

  /**
   * Adds the session to `room` (across nodes: membership lives in the store and dies with the
   * session), so `burrow.to(room).send()` on any node reaches it. Rejects with a TypeError for a bad
   * room name (empty, not a string, over 256 characters) and a {@link BurrowError}: `session_closed`,
   * `session_unknown`, `store_unavailable`.
   */
  join(room: string): Promise<void> {
    return handled(this.#core.join(room));
  }

  /** Removes the session from `room` (a no-op when it is not in it). */
  leave(room: string): Promise<void> {
    return handled(this.#core.leave(room));
  }

  /** The rooms the session is in. */
  rooms(): Promise<readonly string[]> {
    return handled(this.#core.rooms());
  }

  /**
   * Closes the session: emits `close` once and sends a close frame, which the client echoes. Without
   * a code the frame carries none and both sides report 1005, as `ws.close()` and browsers do.
   */
  close(code?: number, reason = ''): Promise<void> {
    if (code === undefined) return handled(this.#core.closeBy('server', undefined, undefined));
    if (!Number.isInteger(code) || !(code === 1000 || (code >= 3000 && code <= 4999))) {
      return handled(Promise.reject(new RangeError('close code must be 1000 or 3000-4999')));
    }
    if (Buffer.byteLength(reason) > 123) return handled(Promise.reject(new RangeError('close reason over 123 bytes')));
    return handled(this.#core.closeBy('server', code, reason));
  }
}
