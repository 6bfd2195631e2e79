/**
 * `SessionCore`: this node's live state of one session: its close state (see state.ts), the attached
 * downstream and its idle timer; inbound frames go through its {@link InboundQueue}, outbound ones
 * through its {@link OutboundPump}, and its {@link Heartbeat} watches the client. Everything durable
 * goes through the store, so any node can pick a session up where another left it. Internal:
 * transports and the registry use it, apps see `Session`.
 */
import { CloseCode, type Frame } from '@burrow/shared';
import { type DeadlineLinks, monotonicNow } from '../deadlines.js';
import { BurrowError, storeUnavailable } from '../errors/burrow-error.js';
import { refusal, wsRefusal } from '../errors/refusals.js';
import type { OutboundFrame, SessionRecord, WakeEvent } from '../store/store.js';
import { InboundGate } from './backpressure.js';
import type { HeartbeatHost } from './heartbeat.js';
import { RESOLVED, Session, type TransportName } from './handle.js';
import { applyControlNow } from './control-now.js';
import { InboundQueue } from './inbound.js';
import type { SendData } from './payload.js';
import { joinRoom, leaveRoom, nextSendNumber, roomsOf, sendOne } from './send.js';
import { closeSession, failSession } from './close-handshake.js';
import { OutageHold } from './outage-hold.js';
import { CoreFlags } from './core-flags.js';
import { transition, type SessionState } from './state.js';
import { fromOtherNode, storeAttach, subscribeWakeups, unsubscribeWakeups, type Subscribed } from './wake-subscription.js';
import type { Downstream, InboundHost, InboundOutcome, SessionHost } from './types.js';
import { type CoreExtras, LAST_OWNER, newExtras, PENDING_PONG } from './core-fields.js';

/**
 * One session's live state on this node (see the file's comment). Its helper methods are TypeScript
 * `private`, not `#`: V8 gives every instance of a class with `#` methods a brand field, 8 bytes per
 * session.
 */
export class SessionCore extends CoreFlags implements InboundHost, HeartbeatHost, DeadlineLinks {
  readonly id: string;
  readonly protocol: string;
  readonly handle: Session;
  readonly host: SessionHost;
  data: unknown;
  /** What `authenticate` attached at the handshake (persisted in the record). */
  readonly user: unknown;
  #state: SessionState;
  /** Made on first need (see CoreExtras). */
  #extras: CoreExtras | undefined;
  /**
   * The inbound queue, made by the first batch that needs one (a data or close frame, anything on a
   * networked store or with the gate closed). Until then the inbound ack itself: the acks and
   * heartbeat pings of a client that sends no data need no queue, so an idle session keeps none.
   */
  #inbound: InboundQueue | number;

  #downstream: Downstream | undefined;
  #transport: TransportName | null = null;
  /** The wake-up subscription (see wake-subscription.ts). */
  #subscribed: Subscribed = undefined;

  /**
   * @internal When the client last showed life on this node (monotonic ms, see heartbeat.ts): a
   * small integer, where an epoch time is a boxed double of 16 bytes per session.
   */
  lastSeen = monotonicNow();
  /** @internal Its place on the idle or the heartbeat list (deadlines.ts). */
  dlList: object | undefined = undefined;
  /** @internal */ dlPrev: DeadlineLinks | undefined = undefined;
  /** @internal */ dlNext: DeadlineLinks | undefined = undefined;
  /** @internal */ dlAt = 0;
  /** @internal The record's activity counter as the heartbeat last saw it. */
  activity: number;

  /** `after`: see {@link InboundQueue}'s constructor. */
  constructor(host: SessionHost, record: SessionRecord, after?: Promise<unknown>) {
    super();
    this.host = host;
    this.id = record.id;
    this.protocol = record.protocol;
    this.data = record.data;
    this.user = record.user;
    this.#state = record.closed !== undefined ? 'ended' : 'open';
    this.activity = record.activity;
    // A queue behind a disposed core's inbound work at once: its frames wait for that work.
    this.#inbound = after ? new InboundQueue(this, record.inAck, after) : record.inAck;
    this.handle = new Session(this);
    this.startIdle();
  }

  private ensureExtras(): CoreExtras {
    return (this.#extras ??= newExtras());
  }

  /** `onBufferFull: 'pause'`: closed while the outbound buffer is full (see backpressure.ts). */
  get gate(): InboundGate {
    const more = this.ensureExtras();
    return (more.gate ??= new InboundGate());
  }

  /** The gate is closed; false for a session that never paused (and so has no gate). */
  get paused(): boolean {
    return this.#extras?.gate?.paused ?? false;
  }

  /** What claiming does for a raced WebSocket session (announce it and its transport), set by that transport. */
  get claimed(): (() => void) | undefined {
    return this.#extras?.claimed;
  }

  set claimed(fn: (() => void) | undefined) {
    if (fn || this.#extras) this.ensureExtras().claimed = fn;
  }

  /** See state.ts. */
  get state(): SessionState {
    return this.#state;
  }

  /** Known closed (by either side); no more `message` events, no more sends. */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  get transport(): TransportName | null {
    return this.#transport;
  }

  /** @internal The attached downstream (for the inbound queue and the pump). */
  get downstream(): Downstream | undefined {
    return this.#downstream;
  }

  /** Highest client seq applied in order (what an `open` or a POST answer reports). */
  get inAck(): number {
    const q = this.#inbound;
    return typeof q === 'number' ? q : q.inAck;
  }

  get attached(): boolean {
    return this.#downstream !== undefined;
  }

  /** Fresh state from a request's record lookup. */
  refresh(record: SessionRecord): void {
    this.data = record.data;
    if (record.closed) this.ended();
    const q = this.#inbound;
    if (typeof q !== 'number') q.raiseAck(record.inAck);
    else if (record.inAck > q) this.#inbound = record.inAck;
  }

  /** Any sign of life from the client on this node. */
  seen(): void {
    this.lastSeen = monotonicNow();
  }

  /** Sets `data` and persists it; a store failure becomes an `error` event. */
  setData(value: unknown): void {
    this.data = value;
    this.guard(this.host.store.setData(this.id, value));
  }

  // ---- downstream ------------------------------------------------------------------------------

  /**
   * Makes `d` the session's downstream, replacing any other (here or on another node), trims the log
   * to the client's ack and writes everything after it. On the in-process store with the gate open it
   * is done within the call (a poll attaches per request): no async frame, and a settled promise back.
   */
  attach(d: Downstream, clientAck: number, outSeq: number): Promise<void> {
    try {
      const host = this.host;
      if (host.closing || host.draining) {
        // Late: the request was past the route's check when the node began to go. The client resumes
        // (1012: at once, on another node) or learns the node went away (1001), as the live ones did.
        const { code, reason } = wsRefusal(refusal(host.closing ? 'goingAway' : 'serviceRestart'));
        d.end(code, reason);
        return RESOLVED;
      }
      const old = this.#downstream;
      this.#downstream = d;
      this.flags |= LAST_OWNER;
      this.restartPump(clientAck, outSeq);
      this.seen();
      if (old) old.end(CloseCode.TransportReplaced, 'replaced by a newer transport');
      // A poll leaves the idle deadline armed (it ends only a core with no downstream) and re-arms it
      // per answer; a streaming downstream takes the core off that list while it lasts (below).
      this.#subscribed ??= subscribeWakeups(this.host.store, this.id, this);
      const beats = this.host.heartbeats;
      if (d.transport !== 'polling' && !beats.has(this)) {
        beats.arm(this);
        // The idle deadline only ever ends a core with no downstream, and the detach that ends this
        // one re-arms it: until then the core need not be on that list too.
        this.host.idleCores.disarm(this);
      }
      if (this.#transport !== d.transport) {
        this.#transport = d.transport;
        if (!this.unannounced) this.host.emitTransport(this.handle, d.transport);
      }
      if (!this.host.store.sync || this.paused) return this.attachAsync(d, clientAck);
      try {
        storeAttach(this.host.store, this.host.nodeId, this.id, clientAck, this);
      } catch (err) {
        this.transportFailed(d, err);
        return RESOLVED;
      }
      return this.finishAttach(d);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** {@link attach}'s store calls on a networked store, or with the gate closed. */
  private async attachAsync(d: Downstream, clientAck: number): Promise<void> {
    const store = this.host.store;
    try {
      await storeAttach(store, this.host.nodeId, this.id, clientAck, this);
      // A resume's (or a poll's) ack may drain a paused session's buffer.
      if (this.paused) await this.gate.check(store, this.id, this.host.options.limits);
    } catch (err) {
      return this.transportFailed(d, err);
    }
    await this.finishAttach(d);
  }

  /** The end of an attach, once the store knows of it: owed pong, journal replay, the log. */
  private finishAttach(d: Downstream): Promise<void> {
    if (this.#downstream !== d) return RESOLVED;
    if (this.flags & PENDING_PONG) {
      this.flags &= ~PENDING_PONG;
      d.control({ t: 'pong' });
    }
    // A resume may follow the death of the node that accepted our last messages, or a store blip that
    // cut off its accept's reply: redeliver what it never emitted (a poll checks once per polling
    // transport, see journalDue; its POSTs check on every accept anyway).
    const store = this.host.store;
    if (store.replayInbound && (d.transport !== 'polling' || this.inboundQueue().journalDue(d.carrier, d.resumed === true))) this.inboundQueue().replayJournal();
    return this.pump();
  }

  /** `d` is gone (closed by the peer, replaced, timed out). No-op if it is no longer current. */
  detach(d: Downstream): void {
    if (this.#downstream !== d) return;
    this.#downstream = undefined;
    this.host.heartbeats.disarm(this);
    // The wake-up subscription stays until the core is disposed: a polling client detaches after
    // every response, and re-subscribing per poll costs two store commands and opens a window in
    // which an append from another node goes unheard until the poll times out.
    this.startIdle();
    // The resume window counts from the moment the last transport went away.
    if (this.closed) return;
    const sync = this.host.store.sync;
    if (sync) sync.touchSync(this.id, this.host.options.resumeWindow, false);
    else this.guard(this.host.store.touch(this.id, this.host.options.resumeWindow, false));
  }

  /**
   * @internal A wake-up from the store. On the in-process store the core itself is the listener (see
   * WakeListener), which is also how the store tells our own appends from others'.
   */
  wake(ev: WakeEvent): void {
    const other = ev.type === 'attach' && fromOtherNode(ev, this.host.nodeId);
    if (other) this.flags &= ~LAST_OWNER;
    const d = this.#downstream;
    if (!d) return;
    if (ev.type === 'append') this.pumpWoken(ev);
    else if (ev.type === 'attach') {
      // Our own attaches are handled locally; another node taking over means we let go.
      if (other) d.end(CloseCode.TransportReplaced, 'replaced by a newer transport');
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

  /** A ping: answered on the downstream, wherever it is. */
  pong(): void {
    const d = this.#downstream;
    if (d) d.control({ t: 'pong' });
    else {
      this.flags |= PENDING_PONG;
      this.guard(this.host.store.publish(this.id, { type: 'pong' }));
    }
  }

  // ---- expiry ----------------------------------------------------------------------------------------

  /**
   * With no transport here, the core is only a cache; drop it once the session could have expired
   * (resumeWindow + closeLinger after the last detach). Re-arming restarts the deadline.
   */
  private startIdle(): void {
    this.host.idleCores.arm(this);
  }

  /** @internal The idle deadline passed: a core with no downstream goes. */
  idleElapsed(): void {
    if (!this.#downstream) this.dispose();
  }

  /** Stops everything this node runs for the session and forgets it. */
  dispose(code: number = CloseCode.GoingAway, reason = 'server going away'): void {
    const d = this.#downstream;
    if (d) {
      this.detach(d);
      d.end(code, reason);
    }
    this.host.heartbeats.disarm(this);
    this.host.idleCores.disarm(this);
    const sub = this.#subscribed;
    this.#subscribed = undefined;
    unsubscribeWakeups(sub, this.id, this);
    const more = this.#extras;
    if (more?.closeTimer) clearTimeout(more.closeTimer);
    if (more) more.closeTimer = undefined;
    if (typeof this.#inbound !== 'number') this.#inbound.stop();
    this.host.forget(this);
  }

  /**
   * The session ended without a handshake on this node (expired, its state lost, discarded before
   * anyone heard of it): marks it ended and disposes the core. True when it was open until now.
   */
  terminate(code?: number, reason?: string): boolean {
    const wasOpen = this.#state === 'open';
    this.ended();
    this.dispose(code, reason);
    return wasOpen;
  }

  // ---- outbound (send.ts) ---------------------------------------------------------------------------

  send(input: SendData): Promise<void> {
    return sendOne(this, input);
  }

  /** The store answers again: sends held through the outage are written now, in order. */
  storeUp(): void {
    this.#extras?.hold?.storeUp();
  }

  /** @internal The outage hold of send.ts, made by the first send on a networked store. */
  outageHold(): OutageHold {
    const more = this.ensureExtras();
    return (more.hold ??= new OutageHold(this.host, this.host.options.storeOutageBuffer));
  }

  /** @internal Sends are held through an outage right now (a new one queues behind them). */
  get holding(): boolean {
    return this.#extras?.hold?.holding ?? false;
  }

  // ---- close handshake (the diagram is in state.ts) -----------------------------------------------

  /** @internal The one place the close state changes; `transition()` throws on a move state.ts does not list. */
  setState(next: SessionState): void {
    if (next !== this.#state) this.#state = transition(this.#state, next);
  }

  /** The store says the session is over; a handshake already under way here keeps its state. */
  ended(): void {
    if (this.#state === 'open') this.setState('ended');
  }

  /** Ends the session from this side, or records the peer's close (see close-handshake.ts). */
  closeBy(by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<void> {
    return closeSession(this, by, code, reason);
  }

  /**
   * The client's close frame, accepted: the store moved inAck past it, so a resume's ack tells the
   * client it arrived and it is never sent again. Recording it may not fail on a store blip then (the
   * close would be lost, the session left open): it waits in the outage hold, behind the sends held
   * before it, and the request that carried it is answered once it is written (or past the bound).
   */
  clientClose(code: number | undefined, reason: string | undefined): Promise<void> {
    const write = (): Promise<void> => closeSession(this, 'client', code, reason);
    return this.host.store.sync ? write() : this.outageHold().send(0, write, nextSendNumber());
  }

  /** @internal Waits closeLinger for the client's echo of our close (cleared by dispose). */
  awaitEcho(timer: NodeJS.Timeout): void {
    this.ensureExtras().closeTimer = timer;
  }

  /** @internal Frames up to `last` were written to `d`: our close frame written in `closed` ends it. */
  written(d: Downstream, last: OutboundFrame): void {
    if (last.frame.t === 'close' && this.#state === 'closed' && this.#downstream === d) d.end(CloseCode.Normal, 'session closed');
  }

  /** A violated limit or a protocol error: the session ends with `code` and the transport with it. */
  fail(code: number, reason: string): Promise<void> {
    return failSession(this, code, reason);
  }

  // ---- rooms (send.ts) ------------------------------------------------------------------------------

  join(room: string): Promise<void> {
    return joinRoom(this, room);
  }

  leave(room: string): Promise<void> {
    return leaveRoom(this, room);
  }

  rooms(): Promise<readonly string[]> {
    return roomsOf(this);
  }

  // ---- inbound ---------------------------------------------------------------------------------------

  /** @internal Settles once the inbound work queued so far is done (the registry chains a successor core on it). */
  get inboundTail(): Promise<unknown> {
    const q = this.#inbound;
    return typeof q === 'number' ? RESOLVED : q.tail;
  }

  /** The inbound queue, made now if this is its first need (see #inbound). */
  private inboundQueue(): InboundQueue {
    const q = this.#inbound;
    if (typeof q !== 'number') return q;
    return (this.#inbound = new InboundQueue(this, q));
  }

  /** Applies a batch of client frames after every batch queued before it (see inbound.ts). */
  inbound(frames: readonly Frame[], stopAtGap: boolean): Promise<InboundOutcome> {
    return this.inboundQueue().apply(frames, stopAtGap);
  }

  /** @internal `d` is about to flush this turn's writes: an owed ack may ride along (see {@link InboundQueue.rideAck}). */
  flushing(d: Downstream): void {
    const q = this.#inbound;
    // A number: no queue yet, so no data frame delivered and no ack owed.
    if (this.#downstream === d && typeof q !== 'number') q.rideAck();
  }

  /** See {@link InboundQueue.applyNow}: undefined when the batch must go through {@link inbound}. */
  inboundNow(frames: readonly Frame[], stopAtGap: boolean): InboundOutcome | undefined {
    const q = this.#inbound;
    if (typeof q !== 'number') return q.applyNow(frames, stopAtGap);
    return applyControlNow(this, frames, q) ?? this.inboundQueue().applyNow(frames, stopAtGap);
  }

  /** Runs a store call whose result nobody waits for; failures become `error` events. */
  private guard(p: Promise<unknown>): void {
    p.catch((err: unknown) => this.host.emitError(err));
  }
}
