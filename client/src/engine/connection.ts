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
import { DOWN_FATAL, type DownReason, FAILED, type SessionRef, TIMEOUT, type TransportContext, type TransportHandlers } from '../transports/transport.js';
import type { TransportName } from '../types.js';
import { createAckClock } from './acks.js';
import { createAttempts } from './attempts.js';
import { createHeartbeat } from './heartbeat.js';
import { CLOSED, CONNECTING, OPEN, RECONNECTING, moveLink, type Link } from './link.js';
import { createOutbox } from './outbox.js';
import { type ConnectionConfig, type Setup, setUp } from './setup.js';
import { holds, type Slot } from './slot.js';
import { createUpgrade } from './upgrade.js';
import { refusalOf } from './verdicts.js';

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

/** The engine behind one socket; see {@link createConnection}. */
export interface Connection {
  /** Starts the first attempt. Separate from creation so the socket is wired up first. */
  start(): void;
  /** Bytes passed to {@link Connection.send} that no transport has written yet. */
  bufferedAmount(): number;
  /**
   * Queues one message (`size`: its payload bytes, UTF-8 for text, as the caller counted them); it is
   * sent now if a transport is live, else on the next (re)open.
   */
  send(data: Payload, size: number): void;
  /** Starts the closing handshake: a sequenced close frame after everything sent before it. */
  close(code?: number, reason?: string): void;
  /** Drops everything without reporting: the socket reports the failure itself. */
  abort(): void;
}

/**
 * A closure rather than a class: its state and helpers are locals, which the minifier renames to a
 * letter, where `this.#field` stays seven characters at every use (docs/ARCHITECTURE.md, "Closures, not classes", bundle size).
 */
export function createConnection(config: ConnectionConfig, events: ConnectionEvents): Connection {
  const link: Link = { state: CONNECTING };
  /** Rounds of attempts since the live transport was lost (for `reconnected`). */
  let rounds = 0;
  let ending: Ending = 0;
  const setup = setUp(config);

  let session: SessionRef | null = null;
  /** The latest `open` frame's terms (heartbeat, limits), from the handshake or a transport. */
  let terms: OpenFrame | null = null;

  /** Generations handed out so far; see {@link Slot}. */
  let gen = 0;
  let live: Slot | null = null;
  /** The live transport's name; kept while reconnecting, to name the switch once one is live again. */
  let liveName: TransportName | '' = '';

  const out = createOutbox();
  /** The seq of our own close frame, once close() was called. */
  let closeSeq = 0;
  /** Our echo of the server's close frame: once it is written, the close is reported. */
  let echo: { seq: number; code: number; reason: string } | null = null;

  // Inbound
  let delivered = 0;
  /** The shortest open time of an attempt so far (ms): remembered for the next connection's race delay. */
  let openSample: number | undefined;
  let lostTimer: ReturnType<typeof setTimeout> | undefined;
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  const upload = { cap: Infinity, cuts: 0 };

  // ---- transports ----------------------------------------------------------------------------

  const connectTimeout = (): number => {
    const fixed = config.options.connectTimeout;
    if (fixed !== undefined) return fixed;
    const rtt = heartbeat.rtt();
    return rtt === undefined ? 1500 : Math.min(3000, Math.max(1000, 4 * rtt + 500));
  };

  const context = (hints?: Record<string, string>, openTimeout = connectTimeout()): TransportContext => {
    const t = terms;
    const maxPayload = t?.maxPayload || undefined;
    return {
      hints,
      wsBase: setup.wsBase,
      httpBase: setup.httpBase,
      protocols: config.protocols,
      session,
      ack: () => delivered,
      ackCarried: (ack) => acks.carried(ack),
      maxPayload,
      openTimeout,
      requestTimeout: t ? Math.max(DEFAULT_REQUEST_TIMEOUT, t.heartbeat + t.heartbeatTimeout) : DEFAULT_REQUEST_TIMEOUT,
      http: setup.http,
      upload,
    };
  };

  /** Callbacks for the transport of generation `g`, routed by the role that generation holds when they fire. */
  const handlersFor = (g: number): TransportHandlers => ({
    onOpen: (ack, open) => {
      if (attempts.owns(g)) attempts.opened(g, ack, open);
      else upgrade.opened(g, ack, open);
    },
    onFrame: (f, carried) => {
      if (holds(live, g)) receive(f, carried);
    },
    onAlive: () => {
      if (holds(live, g)) heartbeat.received();
    },
    onAcked: (ack) => {
      if (holds(live, g)) acked(ack);
    },
    onWritten: (seq) => {
      if (holds(live, g)) written(seq);
    },
    onDown: (why) => {
      if (holds(live, g)) liveLost(why);
      else if (attempts.owns(g)) attempts.failed(g, why);
      else upgrade.failed(g, why);
    },
  });

  /** The attempt is up: the session opens, or resumes on it. */
  const attemptOpened = (attempt: Slot, ack: number, claim: boolean): void => {
    const first = link.state === CONNECTING;
    const reconnected = link.state === RECONNECTING;
    const previous = makeLive(attempt);
    clearTimeout(lostTimer);
    lostTimer = undefined;
    moveLink(link, OPEN);
    // Announce before resending: a send that finds the transport dead must not swallow the `open`.
    // The terms are set: by the attempt's open frame, or by the handshake that every HTTP start follows.
    if (first) events.open(terms!, attempt.carrier.name);
    else announce(previous, attempt.carrier.name);
    // A raced session is announced by the server on our first frame or request: claim it now. Sent
    // after `open` is queued, so that on HTTP the claim's POST is made after the app's `onopen` ran
    // (and carries what it sent) rather than ahead of it.
    if (claim) transmit([{ t: 'ack', ack: delivered }]);
    if (reconnected) events.reconnected(rounds);
    resendFrom(ack);
    upgrade.schedule();
  };

  /** `slot` carries the session from now on. Returns the name of the transport it follows ('' for none). */
  const makeLive = (slot: Slot): TransportName | '' => {
    live = slot;
    heartbeat.start(terms);
    const previous = liveName;
    liveName = slot.carrier.name;
    setup.memory.set(slot.carrier.name, heartbeat.rtt() ?? openSample);
    return previous;
  };

  const announce = (previous: TransportName | '', name: TransportName): void => {
    if (previous !== name && previous !== '') events.transport(name, previous);
  };

  /** The live transport died: resume on the same transport first, then along the chain. */
  const liveLost = (why: DownReason): void => {
    const was = live;
    live = null;
    was?.carrier.close();
    heartbeat.stop();
    acks.stop();
    upgrade.pause();
    // The server's close frame came first: the session is over, whatever took the transport down
    // (a server ending a session for a violated limit closes its socket right behind the frame, before
    // our echo is written). Its code and reason are the close; resuming would only be refused.
    const e = echo;
    if (e) return finish(e.code, e.reason, true);
    if (why.kind === DOWN_FATAL) return fail(why.code);
    if (link.state !== OPEN) return;
    moveLink(link, RECONNECTING);
    lostTimer = setTimeout(() => fail(ABNORMAL), terms?.resumeWindow ?? 0);
    attempts.resume(why, upgrade.handOver());
  };

  /** An upgrade probe resumed the session on WebSocket: it replaces the live transport. */
  const promote = (probe: Slot, ack: number, open: OpenFrame): void => {
    terms = open;
    live?.carrier.close();
    const previous = makeLive(probe);
    attempts.resumeOn(probe.carrier.name);
    announce(previous, probe.carrier.name);
    resendFrom(ack);
  };

  // ---- outbound -------------------------------------------------------------------------------

  const enqueue = (frame: SequencedFrame): void => {
    out.push(frame, 0);
    if (live) transmit([frame]);
  };

  const transmit = (frames: readonly Frame[]): void => {
    heartbeat.sent();
    live?.carrier.send(frames);
  };

  /** A transport opened with the server holding client seqs up to `ack`: resend the rest. */
  const resendFrom = (ack: number): void => {
    acked(ack);
    const rest = out.unacked();
    if (rest.length > 0) transmit(rest);
    if (acks.behind()) acks.schedule();
  };

  const written = (seq: number): void => {
    if (!out.written(seq)) return;
    const e = echo;
    if (e && seq >= e.seq) finish(e.code, e.reason, true);
  };

  const acked = (ack: number): void => {
    if (!out.isNewAck(ack)) return;
    written(ack);
    if (link.state === CLOSED) return;
    out.release(ack);
  };

  // ---- inbound --------------------------------------------------------------------------------

  const receive = (f: Frame, carried?: boolean): void => {
    if (!carried) heartbeat.received();
    switch (f.t) {
      case 'd':
      case 'close':
        if (f.seq <= delivered) {
          // A resend: our ack may have been lost, so make sure another goes out.
          return acks.resendSeen();
        }
        if (f.seq !== delivered + 1) return liveLost(FAILED);
        delivered = f.seq;
        if (f.t === 'd') {
          events.message(f.data);
          return acks.delivered(typeof f.data === 'string' ? f.data.length : f.data.byteLength);
        }
        return peerClose(f);
      case 'ack':
        return acked(f.ack);
      case 'ping':
        return transmit([{ t: 'pong' }]);
      case 'pong':
        return heartbeat.pong();
      case 'open':
        return liveLost(FAILED);
    }
  };

  const peerClose = (f: Extract<Frame, { t: 'close' }>): void => {
    const code = f.code ?? NO_STATUS;
    const reason = f.reason ?? '';
    acks.flush();
    if (link.state === CLOSED) return;
    // Our close crossed theirs, or this is the echo of ours: either way the handshake is complete, and
    // what we sent before our close has left (on SSE and polling its POST's answer may still be on the
    // way: bufferedAmount would keep counting it after a clean close, where a WebSocket's does not).
    if (ending === LOCAL) {
      out.written(closeSeq);
      return finish(code, reason, true);
    }
    ending = REMOTE;
    events.closing(code, reason);
    const seq = out.nextSeq();
    echo = { seq, code, reason };
    // Report the close once the echo is written (or after a short wait if no transport takes it).
    closeTimer = setTimeout(() => finish(code, reason, true), ECHO_TIMEOUT);
    // The echo: their close frame, with our seq.
    enqueue({ ...f, seq });
  };

  // ---- the end --------------------------------------------------------------------------------

  /** Unclean end. Before the first open every failure is 1006, as a browser reports a failed handshake. */
  const fail = (code: number): void => {
    finish(link.state === CONNECTING ? ABNORMAL : code, '', false);
  };

  const finish = (code: number, reason: string, wasClean: boolean): void => {
    if (link.state === CLOSED) return;
    teardown();
    moveLink(link, CLOSED);
    liveName = '';
    events.close(code, reason, wasClean);
  };

  const teardown = (): void => {
    for (const t of [lostTimer, closeTimer]) clearTimeout(t);
    lostTimer = closeTimer = undefined;
    acks.stop();
    heartbeat.stop();
    attempts.stop();
    upgrade.stop();
    const was = live;
    live = null;
    was?.carrier.close();
  };

  const acks = createAckClock({
    delivered: () => delivered,
    delay: () => (link.state === CLOSED ? Infinity : (live?.carrier.ackDelay ?? Infinity)),
    live: () => live !== null,
    send: (ack) => transmit([{ t: 'ack', ack }]),
    terms: () => terms,
  });

  const heartbeat = createHeartbeat(
    () => transmit([{ t: 'ping' }]),
    () => liveLost(TIMEOUT),
  );

  const attempts = createAttempts(setup, config.protocols, link, {
    session: () => session,
    establish: (open) => {
      session ??= { sid: open.sid, token: open.token };
      terms = open;
    },
    nextGen: () => ++gen,
    handlersFor,
    context,
    opened: attemptOpened,
    sample: (ms) => {
      openSample = Math.min(openSample ?? ms, ms);
    },
    fail,
    retrying: (round, delay) => {
      rounds = round;
      events.reconnecting(round, delay);
    },
    scout: (attempt) => upgrade.scout(attempt),
  });

  const upgrade = createUpgrade(
    {
      wanted: () => link.state === OPEN && !ending && liveName !== 'websocket',
      start: () => {
        const g = ++gen;
        const from = liveName;
        const ctx = context(from ? { upgrade: from } : undefined);
        return { gen: g, carrier: setup.factories.websocket(ctx, handlersFor(g)) };
      },
      // The probe's node must speak our version and resume this session, as a resume's must (refusalOf).
      // Even while the session ends: the server has moved its downstream to the probe (the held poll is
      // answered 409), so refusing it would leave no transport; the close handshake continues on it.
      accepts: (open): open is OpenFrame => !!open && !!session && !refusalOf(open, session, []),
      promote,
    },
    setup.timing.upgradeOn && setup.chain.includes('websocket'),
    setup.timing.upgradeWait,
  );

  return {
    start() {
      if (setup.chain.length === 0) {
        queueMicrotask(() => fail(ABNORMAL));
        return;
      }
      attempts.begin();
    },
    // A function, not a getter: see acks.ts.
    bufferedAmount: out.bufferedAmount,
    send(data, size) {
      if (link.state === CLOSED || ending) return;
      const frame: SequencedFrame = { t: 'd', seq: out.nextSeq(), data };
      out.push(frame, size);
      if (live) transmit([frame]);
    },
    close(code, reason) {
      if (link.state === CLOSED || ending) return;
      ending = LOCAL;
      closeSeq = out.nextSeq();
      // An absent code or reason stays off the wire (frameToJson leaves out undefined and '').
      enqueue({ t: 'close', seq: closeSeq, code, reason });
      closeTimer = setTimeout(() => fail(ABNORMAL), CLOSE_TIMEOUT);
    },
    abort() {
      if (link.state === CLOSED) return;
      teardown();
      moveLink(link, CLOSED);
    },
  };
}
