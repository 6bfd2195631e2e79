/**
 * The session engine behind {@link BurrowSocket}: which transport carries the session, seqs and acks
 * in both directions, and the session close handshake. Getting a transport up (fallback chain,
 * handshake, reconnect), the background upgrade to WebSocket, outbound bookkeeping and the heartbeat
 * have modules of their own.
 *
 * Transports are disposable: each start of one takes a fresh generation, and a transport's callbacks
 * count only while its generation holds a role ({@link Slot}), so a replaced transport's late events
 * never touch the session. Seqs and acks make every switch a plain resume: the new transport's
 * `open.ack` says where to resend from, and the receiver drops what it already delivered.
 */
import type { Frame, OpenFrame, Payload, SequencedFrame } from '@burrow/shared';
import { ABNORMAL, NO_STATUS } from '../close-codes.js';
import { type DownReason, FAILED, type SessionRef, TIMEOUT, type TransportContext, type TransportHandlers } from '../transports/transport.js';
import type { TransportName } from '../types.js';
import { AckClock } from './acks.js';
import { Attempts } from './attempts.js';
import { Heartbeat } from './heartbeat.js';
import { moveLink, type Link } from './link.js';
import { Outbox } from './outbox.js';
import { type ConnectionConfig, type Setup, setUp } from './setup.js';
import { holds, type Slot } from './slot.js';
import { Upgrade } from './upgrade.js';

/** Longest wait for the server's answer to our close frame before giving up uncleanly (ms). */
const CLOSE_TIMEOUT = 30_000;
/** Longest wait for our echo of the server's close frame to be written before reporting the close (ms). */
const ECHO_TIMEOUT = 1_000;
/** Timeout of an HTTP request before the server's heartbeat terms are known (ms). */
const DEFAULT_REQUEST_TIMEOUT = 10_000;

/** Callbacks from the engine to the socket. The socket turns them into W3C events (as tasks). */
export interface ConnectionEvents {
  /** The first transport is up: the W3C `open`. */
  open(open: OpenFrame, transport: TransportName): void;
  message(data: Payload): void;
  /** The live transport changed after the first open. */
  transport(name: TransportName, previous: TransportName): void;
  /** The server sent a close frame; the echo is on its way. */
  closing(code: number, reason: string): void;
  /** The session is over. `wasClean` false means the socket fires `error` first. */
  close(code: number, reason: string, wasClean: boolean): void;
  /** No transport carries the session: round `attempt` of attempts to resume it starts in `delay` ms. */
  reconnecting(attempt: number, delay: number): void;
  /** A transport carries the session again, after `attempts` rounds. */
  reconnected(attempts: number): void;
}

/** Who started ending the session: nobody yet (0, so `!ending` reads "not ending"), we, or the server. */
const LOCAL = 1;
const REMOTE = 2;
type Ending = 0 | typeof LOCAL | typeof REMOTE;

export class Connection {
  readonly #link: Link = { state: 'connecting' };
  /** Rounds of attempts since the live transport was lost (for `reconnected`). */
  #rounds = 0;
  #ending: Ending = 0;
  readonly #config: ConnectionConfig;
  readonly #events: ConnectionEvents;
  readonly #setup: Setup;

  #session: SessionRef | null = null;
  /** The latest `open` frame's terms (heartbeat, limits), from the handshake or a transport. */
  #terms: OpenFrame | null = null;

  /** Generations handed out so far; see {@link Slot}. */
  #gen = 0;
  #live: Slot | null = null;
  /** The live transport's name; kept while reconnecting, to name the switch once one is live again. */
  #liveName: TransportName | '' = '';
  readonly #attempts: Attempts;
  readonly #upgrade: Upgrade;

  readonly #out = new Outbox();
  /** Our echo of the server's close frame: once it is written, the close is reported. */
  #echo: { seq: number; code: number; reason: string } | null = null;

  // Inbound
  #delivered = 0;
  readonly #acks = new AckClock({
    delivered: () => this.#delivered,
    delay: () => (this.#link.state === 'closed' ? Infinity : (this.#live?.transport.ackDelay ?? Infinity)),
    live: () => this.#live !== null,
    send: (ack) => this.#transmit([{ t: 'ack', ack }]),
  });

  readonly #heartbeat = new Heartbeat(
    () => this.#transmit([{ t: 'ping' }]),
    () => this.#liveLost(TIMEOUT),
  );

  /** The shortest open time of an attempt so far (ms): remembered for the next connection's race delay. */
  #openSample: number | undefined;

  #lostTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(config: ConnectionConfig, events: ConnectionEvents) {
    this.#config = config;
    this.#events = events;
    const setup = setUp(config);
    this.#setup = setup;
    this.#attempts = new Attempts(setup, config.protocols, this.#link, {
      session: () => this.#session,
      establish: (open) => {
        this.#session ??= { sid: open.sid, token: open.token };
        this.#terms = open;
      },
      nextGen: () => ++this.#gen,
      handlersFor: (gen) => this.#handlersFor(gen),
      context: (hints, openTimeout) => this.#context(hints, openTimeout),
      opened: (attempt, ack, claim) => this.#attemptOpened(attempt, ack, claim),
      sample: (ms) => {
        this.#openSample = Math.min(this.#openSample ?? ms, ms);
      },
      fail: (code) => this.#fail(code),
      retrying: (round, delay) => {
        this.#rounds = round;
        this.#events.reconnecting(round, delay);
      },
     scout: (attempt) => this.#upgrade.scout(attempt),
    });
    this.#upgrade = new Upgrade(
      {
        wanted: () => this.#link.state === 'open' && !this.#ending && this.#liveName !== 'websocket',
        start: () => {
          const gen = ++this.#gen;
          const from = this.#liveName;
          const ctx = this.#context(from ? { upgrade: from } : undefined);
          return { gen, transport: setup.factories.websocket(ctx, this.#handlersFor(gen)) };
        },
        accepts: (open): open is OpenFrame =>
          !!open && !!this.#session && open.sid === this.#session.sid && open.resumed && !this.#ending,
        promote: (probe, ack, open) => this.#promote(probe, ack, open),
      },
      setup.timing.upgrade && setup.chain.includes('websocket'),
      setup.timing.upgradeDelay,
    );
  }

  /** Starts the first attempt. Separate from the constructor so the socket is wired up first. */
  start(): void {
    if (this.#setup.chain.length === 0) {
      queueMicrotask(() => this.#fail(ABNORMAL));
      return;
    }
    this.#attempts.begin();
  }

  /** Bytes passed to {@link send} that no transport has written yet. */
  get bufferedAmount(): number {
    return this.#out.bufferedAmount;
  }

  /**
   * Queues one message (`size`: its payload bytes, UTF-8 for text, as the caller counted them); it is
   * sent now if a transport is live, else on the next (re)open.
   */
  send(data: Payload, size: number): void {
    if (this.#link.state === 'closed' || this.#ending) return;
    const frame: SequencedFrame = { t: 'd', seq: this.#out.nextSeq(), data };
    this.#out.push(frame, size);
    if (this.#live) this.#transmit([frame]);
  }

  /** Starts the closing handshake: a sequenced close frame after everything sent before it. */
  close(code?: number, reason?: string): void {
    if (this.#link.state === 'closed' || this.#ending) return;
    this.#ending = LOCAL;
    // An absent code or reason stays off the wire (frameToJson leaves out undefined and '').
    this.#enqueue({ t: 'close', seq: this.#out.nextSeq(), code, reason });
    this.#closeTimer = setTimeout(() => this.#fail(ABNORMAL), CLOSE_TIMEOUT);
  }

  /** Drops everything without reporting: the socket reports the failure itself. */
  abort(): void {
    if (this.#link.state === 'closed') return;
    this.#teardown();
    moveLink(this.#link, 'closed');
  }

  // ---- transports ----------------------------------------------------------------------------

  #connectTimeout(): number {
    const fixed = this.#config.options.connectTimeout;
    if (fixed !== undefined) return fixed;
    const rtt = this.#heartbeat.rtt;
    return rtt === undefined ? 1500 : Math.min(3000, Math.max(1000, 4 * rtt + 500));
  }

  #context(hints?: Record<string, string>, openTimeout = this.#connectTimeout()): TransportContext {
    const t = this.#terms;
    const maxPayload = t?.maxPayload || undefined;
    return {
      hints,
      wsBase: this.#setup.wsBase,
      httpBase: this.#setup.httpBase,
      protocols: this.#config.protocols,
      session: this.#session,
      ack: () => this.#delivered,
      ackCarried: (ack) => this.#acks.carried(ack),
      maxPayload,
      openTimeout,
      requestTimeout: t ? Math.max(DEFAULT_REQUEST_TIMEOUT, t.heartbeat + t.heartbeatTimeout) : DEFAULT_REQUEST_TIMEOUT,
      http: this.#setup.http,
    };
  }

  /** Callbacks for the transport of generation `gen`, routed by the role that generation holds when they fire. */
  #handlersFor(gen: number): TransportHandlers {
    return {
      onOpen: (ack, open) => {
        if (this.#attempts.owns(gen)) this.#attempts.opened(gen, ack, open);
        else this.#upgrade.opened(gen, ack, open);
      },
      onFrame: (f) => {
        if (holds(this.#live, gen)) this.#receive(f);
      },
      onAlive: () => {
        if (holds(this.#live, gen)) this.#heartbeat.received();
      },
      onAcked: (ack) => {
        if (holds(this.#live, gen)) this.#acked(ack);
      },
      onWritten: (seq) => {
        if (holds(this.#live, gen)) this.#written(seq);
      },
      onDown: (why) => {
        if (holds(this.#live, gen)) this.#liveLost(why);
        else if (this.#attempts.owns(gen)) this.#attempts.failed(gen, why);
        else this.#upgrade.failed(gen, why);
      },
    };
  }

  /** The attempt is up: the session opens, or resumes on it. */
  #attemptOpened(attempt: Slot, ack: number, claim: boolean): void {
    const first = this.#link.state === 'connecting';
    const reconnected = this.#link.state === 'reconnecting';
    const previous = this.#makeLive(attempt);
    clearTimeout(this.#lostTimer);
    this.#lostTimer = undefined;
    moveLink(this.#link, 'open');
    // Announce before resending: a send that finds the transport dead must not swallow the `open`.
    // The terms are set: by the attempt's open frame, or by the handshake that every HTTP start follows.
    if (first) this.#events.open(this.#terms!, attempt.transport.name);
    else this.#announce(previous, attempt.transport.name);
    // A raced session is announced by the server on our first frame or request: claim it now. Sent
    // after `open` is queued, so that on HTTP the claim's POST is made after the app's `onopen` ran
    // (and carries what it sent) rather than ahead of it.
    if (claim) this.#transmit([{ t: 'ack', ack: this.#delivered }]);
    if (reconnected) this.#events.reconnected(this.#rounds);
    this.#resendFrom(ack);
    this.#upgrade.schedule();
  }

  /** `slot` carries the session from now on. Returns the name of the transport it follows ('' for none). */
  #makeLive(slot: Slot): TransportName | '' {
    this.#live = slot;
    this.#heartbeat.start(this.#terms);
    const previous = this.#liveName;
    this.#liveName = slot.transport.name;
    this.#setup.memory.set(slot.transport.name, this.#heartbeat.rtt ?? this.#openSample);
    return previous;
  }

  #announce(previous: TransportName | '', name: TransportName): void {
    if (previous !== name && previous !== '') this.#events.transport(name, previous);
  }

  /** The live transport died: resume on the same transport first, then along the chain. */
  #liveLost(why: DownReason): void {
    const live = this.#live;
    this.#live = null;
    live?.transport.close();
    this.#heartbeat.stop();
    this.#acks.stop();
    this.#upgrade.pause();
    if (why.kind === 'fatal') return this.#fail(why.code);
    if (this.#link.state !== 'open') return;
    moveLink(this.#link, 'reconnecting');
    this.#lostTimer = setTimeout(() => this.#fail(ABNORMAL), this.#terms?.resumeWindow ?? 0);
    this.#attempts.resume(why, this.#upgrade.handOver());
  }

  /** An upgrade probe resumed the session on WebSocket: it replaces the live transport. */
  #promote(probe: Slot, ack: number, open: OpenFrame): void {
    this.#terms = open;
    this.#live?.transport.close();
    const previous = this.#makeLive(probe);
    this.#attempts.resumeOn(probe.transport.name);
    this.#announce(previous, probe.transport.name);
    this.#resendFrom(ack);
  }

  // ---- outbound -------------------------------------------------------------------------------

  #enqueue(frame: SequencedFrame): void {
    this.#out.push(frame, 0);
    if (this.#live) this.#transmit([frame]);
  }

  #transmit(frames: readonly Frame[]): void {
    this.#heartbeat.sent();
    this.#live?.transport.send(frames);
  }

  /** A transport opened with the server holding client seqs up to `ack`: resend the rest. */
  #resendFrom(ack: number): void {
    this.#acked(ack);
    const rest = this.#out.unacked();
    if (rest.length > 0) this.#transmit(rest);
    if (this.#acks.behind) this.#acks.schedule();
  }

  #written(seq: number): void {
    if (!this.#out.written(seq)) return;
    const echo = this.#echo;
    if (echo && seq >= echo.seq) this.#finish(echo.code, echo.reason, true);
  }

  #acked(ack: number): void {
    if (!this.#out.isNewAck(ack)) return;
    this.#written(ack);
    if (this.#link.state === 'closed') return;
    this.#out.release(ack);
  }

  // ---- inbound --------------------------------------------------------------------------------

  #receive(f: Frame): void {
    this.#heartbeat.received();
    switch (f.t) {
      case 'd':
      case 'close':
        if (f.seq <= this.#delivered) {
          // A resend: our ack may have been lost, so make sure another goes out.
          return this.#acks.resendSeen();
        }
        if (f.seq !== this.#delivered + 1) return this.#liveLost(FAILED);
        this.#delivered = f.seq;
        if (f.t === 'd') {
          this.#events.message(f.data);
          return this.#acks.delivered(typeof f.data === 'string' ? f.data.length : f.data.byteLength);
        }
        return this.#peerClose(f);
      case 'ack':
        return this.#acked(f.ack);
      case 'ping':
        return this.#transmit([{ t: 'pong' }]);
      case 'pong':
        return this.#heartbeat.pong();
      case 'open':
        return this.#liveLost(FAILED);
    }
  }

  #peerClose(f: Extract<Frame, { t: 'close' }>): void {
    const code = f.code ?? NO_STATUS;
    const reason = f.reason ?? '';
    this.#acks.flush();
    if (this.#link.state === 'closed') return;
    // Our close crossed theirs, or this is the echo of ours: either way the handshake is complete.
    if (this.#ending === LOCAL) return this.#finish(code, reason, true);
    this.#ending = REMOTE;
    this.#events.closing(code, reason);
    const seq = this.#out.nextSeq();
    this.#echo = { seq, code, reason };
    // Report the close once the echo is written (or after a short wait if no transport takes it).
    this.#closeTimer = setTimeout(() => this.#finish(code, reason, true), ECHO_TIMEOUT);
    // The echo: their close frame, with our seq.
    this.#enqueue({ ...f, seq });
  }

  // ---- the end --------------------------------------------------------------------------------

  /** Unclean end. Before the first open every failure is 1006, as a browser reports a failed handshake. */
  #fail(code: number): void {
    this.#finish(this.#link.state === 'connecting' ? ABNORMAL : code, '', false);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#link.state === 'closed') return;
    this.#teardown();
    moveLink(this.#link, 'closed');
    this.#liveName = '';
    this.#events.close(code, reason, wasClean);
  }

  #teardown(): void {
    for (const t of [this.#lostTimer, this.#closeTimer]) clearTimeout(t);
    this.#lostTimer = this.#closeTimer = undefined;
    this.#acks.stop();
    this.#heartbeat.stop();
    this.#attempts.stop();
    this.#upgrade.stop();
    const live = this.#live;
    this.#live = null;
    live?.transport.close();
  }
}
