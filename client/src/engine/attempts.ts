/**
 * Getting a transport up: the fallback chain in order (WebSocket first, unless another transport is
 * remembered), the HTTP handshake before the first SSE or polling transport, and the next round
 * (rounds.ts says when) when a whole round failed or the live transport was lost. The attempt that
 * opens is handed to the engine to carry the session.
 *
 * The first connection races, RFC 8305 style: when the WebSocket attempt (or an SSE handshake stream)
 * has not delivered its `open` frame after the race delay, the next transport starts beside it (an
 * SSE handshake stream, or the POST handshake of polling), and whichever opens first wins. Both are
 * marked `race=1`, so the server announces neither session until the client claims one (its first
 * frame or request there); the loser is abandoned, which the server answers by discarding its session
 * with no events (docs/PROTOCOL.md, "Racing transports"). An SSE handshake is always marked so: a
 * buffering proxy may hold its `open` for good, and polling then starts a session of its own. A
 * WebSocket that loses while still pending is not dropped: it goes on as the engine's scout for the
 * upgrade (upgrade.ts), so that the session moves onto WebSocket as soon as it is known to work.
 */
import type { OpenFrame } from '@burrow/shared';
import { ABANDONED, ABNORMAL } from '../close-codes.js';
import type { HandshakeResult } from '../transports/http.js';
import { DOWN_FAILED, DOWN_FATAL, DOWN_OVERLOADED, DOWN_RESTART, DOWN_TIMEOUT, type DownReason, type SessionRef, TIMEOUT, type Transport, type TransportContext, type TransportHandlers } from '../transports/transport.js';
import type { TransportName } from '../types.js';
import { CONNECTING, RECONNECTING, type Link } from './link.js';
import type { Setup } from './setup.js';
import { abandon, fallbackReason, refusalOf } from './verdicts.js';
import { createRounds } from './rounds.js';
import { holds, type Slot } from './slot.js';

/** What the attempts need from the engine. */
export interface AttemptHost {
  /** The session to resume, or null before the first open. */
  session(): SessionRef | null;
  /** Records the terms of an accepted `open` frame, and the session it starts when there is none yet. */
  establish(open: OpenFrame): void;
  /** A fresh generation for the next transport. */
  nextGen(): number;
  handlersFor(gen: number): TransportHandlers;
  /** The context of a transport (or handshake) about to start; the open timeout defaults to the connect timeout. */
  context(hints?: Record<string, string>, openTimeout?: number): TransportContext;
  /**
   * The attempt is up: it carries the session from now on. `claim`: it was a raced WebSocket whose
   * session the server holds unannounced until the client's first frame, so one must go out now.
   */
  opened(attempt: Slot, ack: number, claim: boolean): void;
  /** How long an attempt took to open (ms): a round-trip estimate remembered for the next race. */
  sample(ms: number): void;
  /** Ends the session uncleanly with `code`. */
  fail(code: number): void;
  /** While the session is reconnecting: round `round` (1, 2, ...) of attempts starts in `delay` ms. */
  retrying(round: number, delay: number): void;
  /**
   * A raced WebSocket lost the race while still pending. Its session is a raced one of its own, never
   * to be claimed; the engine abandons it once it opens (or drops it if it fails), and its opening
   * proves WebSocket works here (upgrade.ts).
   */
  scout(attempt: Slot): void;
}

/** The engine's attempts to get a transport up; see {@link createAttempts}. */
export type Attempts = ReturnType<typeof createAttempts>;

/**
 * A closure rather than a class, for the bundle size (docs/ARCHITECTURE.md, "Closures, not classes"): its state and
 * helpers are locals, which the minifier renames.
 */
export function createAttempts(setup: Setup, protocols: readonly string[], link: Link, host: AttemptHost) {
  /** The transport being tried, or the HTTP handshake that comes before one. */
  let cur: Slot | null = null;
  let cursor = 0;
  /** Attempts made in the current round. */
  let roundTried = 0;
  /** Where a round starts after a loss: the transport that carried the session last. */
  let resumeIndex = 0;
  /** Why the current attempt's transport is not the one tried before it: its `fallback` and `from` hints. */
  let fallbackHint: { readonly fallback: string; readonly from: TransportName } | null = null;
  /** When the running attempt started (ms epoch), for the open-time sample. */
  let attemptAt = 0;
  /** Generation of the attempt that was started with `race=1` (its session needs a claim). */
  let racedGen = -1;
  /** Starts the racer when the race delay elapses. */
  let raceTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The racer, while it runs and may still win: an SSE handshake stream (it reports as a transport
   * does), or the POST handshake of polling (it reports to raced).
   */
  let racing: Slot | null = null;
  /**
   * Polling's handshake answered while the SSE stream it races is still quiet: polling takes over
   * (`win`) when the stream fails or the grace runs out, unless the stream opens first.
   */
  let holding: { readonly open: OpenFrame; readonly win: () => void; readonly timer: ReturnType<typeof setTimeout> } | null = null;
  /** The racer's place in the chain, and when it started (ms epoch). */
  let racerIndex = 0;
  let racerAt = 0;

  const rounds = createRounds(setup.timing, link, {
    start: () => startRound(link.state === CONNECTING ? initialIndex() : resumeIndex),
    giveUp: () => host.fail(ABNORMAL),
    retrying: (round, delay) => host.retrying(round, delay),
  });

  /** The first round, from the remembered transport. */
  const begin = (): void => {
    startRound(initialIndex());
  };

  /** Whether generation `gen` is the running attempt's (or the racer's). */
  const owns = (gen: number): boolean => {
    return holds(cur, gen) || holds(racing, gen);
  };

  /** The transport of generation `gen` came up; ignored unless it is the running attempt (or racer). */
  const opened = (gen: number, ack: number, open: OpenFrame | undefined): void => {
    let at = attemptAt;
    const racer = racing;
    if (holds(racer, gen)) {
      // A racing SSE handshake opened first: it wins, as a racing POST handshake does (raced).
      loses();
      takeOver(racer);
      racedGen = gen;
      at = racerAt;
    }
    const attempt = cur;
    if (!holds(attempt, gen)) return;
    if (open) {
      const refusal = refusalOf(open, host.session(), protocols);
      if (refusal) {
        attempt.carrier.close();
        return failAttempt(attempt, refusal);
      }
      host.establish(open);
    }
    const claim = gen === racedGen;
    if (claim) {
      // This attempt won: a racing handshake is left to finish, then abandoned (raced); a racing
      // stream is closed, which its server takes as the abandon.
      clearTimeout(raceTimer);
      raceTimer = undefined;
      const loser = racing;
      racing = null;
      if (loser?.carrier.name === 'sse') loser.carrier.close();
      release();
    }
    // A new session's `open` came a round trip (and a connection) after the request: an RTT estimate.
    if (open && !open.resumed) host.sample(Date.now() - at);
    cur = null;
    resumeIndex = cursor;
    rounds.settled();
    fallbackHint = null;
    host.opened(attempt, ack, claim);
  };

  /** The transport of generation `gen` went down; ignored unless it is the running attempt (or racer). */
  const failed = (gen: number, why: DownReason): void => {
    const attempt = cur;
    if (holds(attempt, gen)) return failAttempt(attempt, why);
    const racer = racing;
    if (!holds(racer, gen)) return;
    // A racing SSE handshake failed: the attempt it raced runs on, or the round goes on after it.
    racing = null;
    if (attempt) return;
    takeOver(racer);
    failAttempt(racer, why);
  };

  /** The racer takes the place of the attempt it raced, in the round too (it won, or that one is gone). */
  const takeOver = (racer: Slot): void => {
    racing = null;
    cur = racer;
    cursor = racerIndex;
    roundTried++;
  };

  /**
   * The live transport was lost. A probe that is resuming the session already becomes this round's
   * first attempt; otherwise the round starts, on the transport lost, after the backoff.
   */
  const resume = (why: DownReason, probe: Slot | null): void => {
    if (probe) {
      cur = probe;
      cursor = setup.chain.indexOf(probe.carrier.name);
      roundTried = 1;
      return rounds.atOnce();
    }
    if (why.kind === DOWN_RESTART) return rounds.restartSoon(why.retryAfter);
    rounds.later(why.kind === DOWN_OVERLOADED ? why.retryAfter : 0);
  };

  /** The session moved to `name` outside an attempt (the upgrade): a resume starts there. */
  const resumeOn = (name: TransportName): void => {
    resumeIndex = setup.chain.indexOf(name);
  };

  /** The session is over: no further round, and the running attempt is closed. */
  const stop = (): void => {
    rounds.stop();
    cancelRace();
    const attempt = cur;
    cur = null;
    attempt?.carrier.close();
  };

  const initialIndex = (): number => {
    // indexOf is -1 for none remembered, or one not in the chain: then the chain's first.
    return Math.max(0, setup.chain.indexOf(setup.memory.get()!));
  };

  /** Hints for an attempt's first downstream request: why it starts (see docs/PROTOCOL.md). */
  const hintsNow = (): Record<string, string> => {
    const h: Record<string, string> = { ...fallbackHint };
    if (link.state === RECONNECTING) h.resume = '1';
    return h;
  };

  const startRound = (index: number): void => {
    roundTried = 0;
    fallbackHint = null;
    tryAt(index);
  };

  const tryAt = (index: number): void => {
    const { chain, factories } = setup;
    // Never negative: a chain index, or one past it (the next in a round).
    cursor = index % chain.length;
    roundTried++;
    const name = chain[cursor]!;
    const gen = host.nextGen();
    const h = host.handlersFor(gen);
    attemptAt = Date.now();
    const session = host.session();
    // A transport whose first answer is an `open` frame: WebSocket, or SSE for a new session.
    if (name === 'websocket' || (name === 'sse' && !session)) {
      const hints = hintsNow();
      const next = raceTo();
      // An SSE handshake that anything may follow is raced even when nothing races it yet: a
      // buffering proxy can hold its `open` for good, and the session must then go unannounced.
      if (next !== undefined || (name === 'sse' && roundTried < chain.length)) {
        hints.race = '1';
        racedGen = gen;
      }
      cur = { gen, carrier: stream(name, hints, h) };
      // The delay counts from the attempt's start, not from the end of its (synchronous, sometimes slow) construction.
      const delay = (setup.timing.raceMs ?? 0) - (Date.now() - attemptAt);
      if (next !== undefined) raceTimer = setTimeout(() => startRacer(gen, next), Math.max(0, delay));
      return;
    }
    if (session) {
      cur = { gen, carrier: startHttp(name, session, h) };
      return;
    }
    const handshake = startHandshake(gen, name, undefined, (r) => {
      if (!holds(cur, gen)) return;
      if (!r.ok) return failAttempt(handshake, r.why);
      const refusal = refusalOf(r.open, host.session(), protocols);
      if (refusal) return failAttempt(handshake, refusal);
      host.establish(r.open);
      cur = { gen, carrier: startHttp(name, r.open, h) };
    });
    cur = handshake;
  };

  /** A WebSocket attempt, or an SSE stream that is the handshake of a new session. */
  const stream = (name: 'websocket' | 'sse', hints: Record<string, string>, h: TransportHandlers): Transport => {
    const { factories, timing } = setup;
    return name === 'websocket' ? factories.websocket(host.context(hints), h) : factories.sse(host.context(hints, timing.sseWait), null, h);
  };

  /**
   * Starts the HTTP handshake that leads to transport `name`, reporting to `done` (never
   * synchronously). The slot returned holds that transport's place until it takes over, so that
   * ending the slot aborts the request.
   */
  const startHandshake = (gen: number, name: TransportName, hints: Record<string, string> | undefined, done: (r: HandshakeResult) => void): Slot => {
    const cancel = setup.factories.handshake(host.context(hints), done);
    return { gen, carrier: { name, ackDelay: Infinity, send: () => {}, close: cancel } };
  };

  /**
   * The chain index of the HTTP transport that races the attempt about to start, if this is a race:
   * the first connection only (a resume has one session already, and two downstreams of it would only
   * replace each other), with racing on and an untried HTTP transport next in the round. An SSE
   * stream remembered for this origin is not raced: it worked here lately, and its race delay, fitted
   * to the remembered open time, would only hand a slow first event to polling (sseTimeout still
   * guards it).
   */
  const raceTo = (): number | undefined => {
    const { chain, timing, memory } = setup;
    if (timing.raceMs === null || host.session() || link.state !== CONNECTING) return undefined;
    if (roundTried >= chain.length || (chain[cursor] === 'sse' && memory.get() === 'sse')) return undefined;
    const next = (cursor + 1) % chain.length;
    return chain[next] === 'websocket' ? undefined : next;
  };

  /** The race delay elapsed with attempt `gen` still not open: the next transport starts beside it. */
  const startRacer = (gen: number, index: number): void => {
    raceTimer = undefined;
    if (!holds(cur, gen) || host.session()) return;
    const at = Date.now();
    const name = setup.chain[index]!;
    const racerGen = host.nextGen();
    racerIndex = index;
    racerAt = at;
    if (name === 'sse') {
      racing = { gen: racerGen, carrier: stream('sse', { race: '1' }, host.handlersFor(racerGen)) };
      return;
    }
    const racer = startHandshake(racerGen, name, { race: '1' }, (r) => raced(racer, r, Date.now() - at));
    racing = racer;
  };

  /** The racing POST handshake (of polling) answered. */
  const raced = (racer: Slot, r: HandshakeResult, took: number): void => {
    if (racing !== racer) {
      // The attempt it raced won meanwhile (or the socket ended): this session was never claimed, so
      // the server drops it at once when told, with no events.
      if (r.ok) abandon(host.context(), r.open);
      return;
    }
    const raced = cur;
    const refusal = r.ok ? refusalOf(r.open, host.session(), protocols) : r.why;
    if (r.ok && !refusal && raced?.carrier.name === 'sse') {
      // The stream's first event leaves the server with its headers, a round trip after its request,
      // and this answer just measured one: the stream (started the race delay earlier) gets twice
      // that again before polling takes over. A buffering proxy holds it for good; a slow path or a
      // busy client only delays it, and SSE is worth that wait.
      const win = (): void => pollWins(racer, r.open, took);
      holding = { open: r.open, win, timer: setTimeout(win, 2 * took) };
      return;
    }
    racing = null;
    if (!r.ok || refusal) {
      if (r.ok) abandon(host.context(), r.open);
      // The attempt it raced runs on; if that failed already, the round goes on from the racer's place.
      if (raced) return;
      takeOver(racer);
      // `refusal` is set: it is the failure itself when !r.ok.
      return failAttempt(racer, refusal!);
    }
    pollWins(racer, r.open, took);
  };

  /**
   * Polling's handshake won: the attempt it raced, if still pending, is abandoned (a server that got
   * it drops its unclaimed session when it closes); once this session is live, the background
   * upgrade brings WebSocket back if it works after all.
   */
  const pollWins = (racer: Slot, open: OpenFrame, took: number): void => {
    const from = setup.chain[cursor]!;
    clearTimeout(holding?.timer);
    holding = null;
    loses();
    takeOver(racer);
    fallbackHint = { fallback: fallbackReason(from, TIMEOUT), from };
    host.sample(took);
    host.establish(open);
    cur = { gen: racer.gen, carrier: startHttp('polling', open, host.handlersFor(racer.gen)) };
  };

  /**
   * The running attempt lost the race. A pending WebSocket goes on as the engine's scout (a WebSocket
   * that comes up late still moves the session onto WebSocket, at once); anything else is abandoned.
   */
  const loses = (): void => {
    const attempt = cur;
    cur = null;
    if (attempt?.carrier.name === 'websocket') host.scout(attempt);
    else attempt?.carrier.close(ABANDONED);
  };

  /** A held polling session that will not be used is abandoned. */
  const release = (): void => {
    const held = holding;
    holding = null;
    if (!held) return;
    clearTimeout(held.timer);
    abandon(host.context(), held.open);
  };

  /**
   * No race any more: the timer is off, a held session abandoned, a racing SSE stream closed. A racing
   * polling handshake is left to answer, and `raced` abandons the session it brought: aborted, it
   * could still have made one on the server, unclaimed (and counted against maxSessions) until its
   * claim window ends.
   */
  const cancelRace = (): void => {
    release();
    clearTimeout(raceTimer);
    raceTimer = undefined;
    const racer = racing;
    racing = null;
    if (racer?.carrier.name !== 'polling') racer?.carrier.close();
  };

  const startHttp = (name: 'sse' | 'polling', session: SessionRef, h: TransportHandlers): Transport => {
    const hints = hintsNow();
    const { factories, timing } = setup;
    if (name === 'sse') return factories.sse(host.context(hints, timing.sseWait), session, h);
    // Before the first open nothing sequenced was sent yet, so the server's ack is known to be 0.
    return factories.polling(host.context(hints), session, h, link.state === CONNECTING ? 0 : undefined);
  };

  const failAttempt = (attempt: Slot, why: DownReason): void => {
    cur = null;
    if (attempt.gen === racedGen) {
      // A raced WebSocket that failed plainly leaves the race to the handshake already running; one
      // that failed before the race delay falls back at once, as without a race.
      if (racing && (why.kind === DOWN_FAILED || why.kind === DOWN_TIMEOUT)) return holding?.win();
      cancelRace();
    }
    if (why.kind === DOWN_FATAL) return host.fail(why.code);
    if (why.kind === DOWN_OVERLOADED) return rounds.later(why.retryAfter);
    if (why.kind === DOWN_RESTART) return rounds.restartSoon(why.retryAfter);
    if (roundTried < setup.chain.length) {
      const from = attempt.carrier.name;
      fallbackHint = { fallback: fallbackReason(from, why), from };
      return tryAt(cursor + 1);
    }
    // A whole round failed. Before the first open that is a failed connection, as in a browser.
    if (link.state === CONNECTING) return host.fail(ABNORMAL);
    rounds.later(0);
  };
  return { begin, owns, opened, failed, resume, resumeOn, stop };
}
