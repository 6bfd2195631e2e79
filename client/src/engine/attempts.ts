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
import { type DownReason, type SessionRef, TIMEOUT, type Transport, type TransportContext, type TransportHandlers } from '../transports/transport.js';
import type { TransportName } from '../types.js';
import type { Link } from './link.js';
import type { Setup } from './setup.js';
import { abandon, fallbackReason, refusalOf } from './verdicts.js';
import { Rounds } from './rounds.js';
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

export class Attempts {
  readonly #setup: Setup;
  readonly #protocols: readonly string[];
  readonly #link: Link;
  readonly #host: AttemptHost;
  /** The transport being tried, or the HTTP handshake that comes before one. */
  #attempt: Slot | null = null;
  #cursor = 0;
  /** Attempts made in the current round. */
  #roundTried = 0;
  /** Where a round starts after a loss: the transport that carried the session last. */
  #resumeIndex = 0;
  readonly #rounds: Rounds;
  /** Why the current attempt's transport is not the one tried before it (sent as hints). */
  #fallbackHint: { readonly from: TransportName; readonly reason: string } | null = null;
  /** When the running attempt started (ms epoch), for the open-time sample. */
  #attemptAt = 0;
  /** Generation of the attempt that was started with `race=1` (its session needs a claim). */
  #racedGen = -1;
  /** Starts the racer when the race delay elapses. */
  #raceTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The racer, while it runs and may still win: an SSE handshake stream (it reports as a transport
   * does), or the POST handshake of polling (it reports to #raced).
   */
  #racer: Slot | null = null;
  /**
   * Polling's handshake answered while the SSE stream it races is still quiet: polling takes over
   * (`win`) when the stream fails or the grace runs out, unless the stream opens first.
   */
  #held: { readonly open: OpenFrame; readonly win: () => void; readonly timer: ReturnType<typeof setTimeout> } | null = null;
  /** The racer's place in the chain, and when it started (ms epoch). */
  #racerIndex = 0;
  #racerAt = 0;

  constructor(setup: Setup, protocols: readonly string[], link: Link, host: AttemptHost) {
    this.#setup = setup;
    this.#protocols = protocols;
    this.#link = link;
    this.#host = host;
    this.#rounds = new Rounds(setup.timing, link, {
      start: () => this.#startRound(link.state === 'connecting' ? this.#initialIndex() : this.#resumeIndex),
      giveUp: () => host.fail(ABNORMAL),
      retrying: (round, delay) => host.retrying(round, delay),
    });
  }

  /** The first round, from the remembered transport. */
  begin(): void {
    this.#startRound(this.#initialIndex());
  }

  /** Whether generation `gen` is the running attempt's (or the racer's). */
  owns(gen: number): boolean {
    return holds(this.#attempt, gen) || holds(this.#racer, gen);
  }

  /** The transport of generation `gen` came up; ignored unless it is the running attempt (or racer). */
  opened(gen: number, ack: number, open: OpenFrame | undefined): void {
    let at = this.#attemptAt;
    const racer = this.#racer;
    if (holds(racer, gen)) {
      // A racing SSE handshake opened first: it wins, as a racing POST handshake does (#raced).
      this.#loses();
      this.#takeOver(racer);
      this.#racedGen = gen;
      at = this.#racerAt;
    }
    const attempt = this.#attempt;
    if (!holds(attempt, gen)) return;
    if (open) {
      const refusal = refusalOf(open, this.#host.session(), this.#protocols);
      if (refusal) {
        attempt.transport.close();
        return this.#failed(attempt, refusal);
      }
      this.#host.establish(open);
    }
    const claim = gen === this.#racedGen;
    if (claim) {
      // This attempt won: a racing handshake is left to finish, then abandoned (#raced); a racing
      // stream is closed, which its server takes as the abandon.
      clearTimeout(this.#raceTimer);
      this.#raceTimer = undefined;
      const loser = this.#racer;
      this.#racer = null;
      if (loser?.transport.name === 'sse') loser.transport.close();
      this.#release();
    }
    // A new session's `open` came a round trip (and a connection) after the request: an RTT estimate.
    if (open && !open.resumed) this.#host.sample(Date.now() - at);
    this.#attempt = null;
    this.#resumeIndex = this.#cursor;
    this.#rounds.settled();
    this.#fallbackHint = null;
    this.#host.opened(attempt, ack, claim);
  }

  /** The transport of generation `gen` went down; ignored unless it is the running attempt (or racer). */
  failed(gen: number, why: DownReason): void {
    const attempt = this.#attempt;
    if (holds(attempt, gen)) return this.#failed(attempt, why);
    const racer = this.#racer;
    if (!holds(racer, gen)) return;
    // A racing SSE handshake failed: the attempt it raced runs on, or the round goes on after it.
    this.#racer = null;
    if (attempt) return;
    this.#takeOver(racer);
    this.#failed(racer, why);
  }

  /** The racer takes the place of the attempt it raced, in the round too (it won, or that one is gone). */
  #takeOver(racer: Slot): void {
    this.#racer = null;
    this.#attempt = racer;
    this.#cursor = this.#racerIndex;
    this.#roundTried++;
  }

  /**
   * The live transport was lost. A probe that is resuming the session already becomes this round's
   * first attempt; otherwise the round starts, on the transport lost, after the backoff.
   */
  resume(why: DownReason, probe: Slot | null): void {
    if (probe) {
      this.#attempt = probe;
      this.#cursor = this.#setup.chain.indexOf(probe.transport.name);
      this.#roundTried = 1;
      return this.#rounds.atOnce();
    }
    if (why.kind === 'restart') return this.#rounds.restartSoon(why.retryAfter);
    this.#rounds.later(why.kind === 'overloaded' ? why.retryAfter : 0);
  }

  /** The session moved to `name` outside an attempt (the upgrade): a resume starts there. */
  resumeOn(name: TransportName): void {
    this.#resumeIndex = this.#setup.chain.indexOf(name);
  }

  /** The session is over: no further round, and the running attempt is closed. */
  stop(): void {
    this.#rounds.stop();
    this.#cancelRace();
    const attempt = this.#attempt;
    this.#attempt = null;
    attempt?.transport.close();
  }

  #initialIndex(): number {
    const remembered = this.#setup.memory.get();
    const i = remembered ? this.#setup.chain.indexOf(remembered) : -1;
    return i >= 0 ? i : 0;
  }

  /** Hints for an attempt's first downstream request: why it starts (see docs/PROTOCOL.md). */
  #hints(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.#fallbackHint) {
      h.fallback = this.#fallbackHint.reason;
      h.from = this.#fallbackHint.from;
    }
    if (this.#link.state === 'reconnecting') h.resume = '1';
    return h;
  }

  #startRound(index: number): void {
    this.#roundTried = 0;
    this.#fallbackHint = null;
    this.#tryAt(index);
  }

  #tryAt(index: number): void {
    const { chain, factories } = this.#setup;
    const host = this.#host;
    this.#cursor = ((index % chain.length) + chain.length) % chain.length;
    this.#roundTried++;
    const name = chain[this.#cursor]!;
    const gen = host.nextGen();
    const h = host.handlersFor(gen);
    this.#attemptAt = Date.now();
    const session = host.session();
    // A transport whose first answer is an `open` frame: WebSocket, or SSE for a new session.
    if (name === 'websocket' || (name === 'sse' && !session)) {
      const hints = this.#hints();
      const next = this.#raceTo();
      // An SSE handshake that anything may follow is raced even when nothing races it yet: a
      // buffering proxy can hold its `open` for good, and the session must then go unannounced.
      if (next !== undefined || (name === 'sse' && this.#roundTried < chain.length)) {
        hints.race = '1';
        this.#racedGen = gen;
      }
      this.#attempt = { gen, transport: this.#stream(name, hints, h) };
      // The delay counts from the attempt's start, not from the end of its (synchronous, sometimes slow) construction.
      const delay = (this.#setup.timing.raceDelay ?? 0) - (Date.now() - this.#attemptAt);
      if (next !== undefined) this.#raceTimer = setTimeout(() => this.#startRacer(gen, next), Math.max(0, delay));
      return;
    }
    if (session) {
      this.#attempt = { gen, transport: this.#startHttp(name, session, h) };
      return;
    }
    const handshake = this.#handshake(gen, name, undefined, (r) => {
      if (!holds(this.#attempt, gen)) return;
      if (!r.ok) return this.#failed(handshake, r.why);
      const refusal = refusalOf(r.open, this.#host.session(), this.#protocols);
      if (refusal) return this.#failed(handshake, refusal);
      host.establish(r.open);
      this.#attempt = { gen, transport: this.#startHttp(name, r.open, h) };
    });
    this.#attempt = handshake;
  }

  /** A WebSocket attempt, or an SSE stream that is the handshake of a new session. */
  #stream(name: 'websocket' | 'sse', hints: Record<string, string>, h: TransportHandlers): Transport {
    const { factories, timing } = this.#setup;
    const host = this.#host;
    return name === 'websocket' ? factories.websocket(host.context(hints), h) : factories.sse(host.context(hints, timing.sseTimeout), null, h);
  }

  /**
   * Starts the HTTP handshake that leads to transport `name`, reporting to `done` (never
   * synchronously). The slot returned holds that transport's place until it takes over, so that
   * ending the slot aborts the request.
   */
  #handshake(gen: number, name: TransportName, hints: Record<string, string> | undefined, done: (r: HandshakeResult) => void): Slot {
    const cancel = this.#setup.factories.handshake(this.#host.context(hints), done);
    return { gen, transport: { name, ackDelay: Infinity, send: () => {}, close: cancel } };
  }

  /**
   * The chain index of the HTTP transport that races the attempt about to start, if this is a race:
   * the first connection only (a resume has one session already, and two downstreams of it would only
   * replace each other), with racing on and an untried HTTP transport next in the round. An SSE
   * stream remembered for this origin is not raced: it worked here lately, and its race delay, fitted
   * to the remembered open time, would only hand a slow first event to polling (sseTimeout still
   * guards it).
   */
  #raceTo(): number | undefined {
    const { chain, timing, memory } = this.#setup;
    if (timing.raceDelay === null || this.#host.session() || this.#link.state !== 'connecting') return undefined;
    if (this.#roundTried >= chain.length || (chain[this.#cursor] === 'sse' && memory.get() === 'sse')) return undefined;
    const next = (this.#cursor + 1) % chain.length;
    return chain[next] === 'websocket' ? undefined : next;
  }

  /** The race delay elapsed with attempt `gen` still not open: the next transport starts beside it. */
  #startRacer(gen: number, index: number): void {
    this.#raceTimer = undefined;
    const host = this.#host;
    if (!holds(this.#attempt, gen) || host.session()) return;
    const at = Date.now();
    const name = this.#setup.chain[index]!;
    const racerGen = host.nextGen();
    this.#racerIndex = index;
    this.#racerAt = at;
    if (name === 'sse') {
      this.#racer = { gen: racerGen, transport: this.#stream('sse', { race: '1' }, host.handlersFor(racerGen)) };
      return;
    }
    const racer = this.#handshake(racerGen, name, { race: '1' }, (r) => this.#raced(racer, r, Date.now() - at));
    this.#racer = racer;
  }

  /** The racing POST handshake (of polling) answered. */
  #raced(racer: Slot, r: HandshakeResult, took: number): void {
    if (this.#racer !== racer) {
      // The attempt it raced won meanwhile (or the socket ended): this session was never claimed, so
      // the server drops it at once when told, with no events.
      if (r.ok) abandon(this.#host.context(), r.open);
      return;
    }
    const raced = this.#attempt;
    const refusal = r.ok ? refusalOf(r.open, this.#host.session(), this.#protocols) : r.why;
    if (r.ok && !refusal && raced?.transport.name === 'sse') {
      // The stream's first event leaves the server with its headers, a round trip after its request,
      // and this answer just measured one: the stream (started the race delay earlier) gets twice
      // that again before polling takes over. A buffering proxy holds it for good; a slow path or a
      // busy client only delays it, and SSE is worth that wait.
      const win = (): void => this.#pollWins(racer, r.open, took);
      this.#held = { open: r.open, win, timer: setTimeout(win, 2 * took) };
      return;
    }
    this.#racer = null;
    if (!r.ok || refusal) {
      if (r.ok) abandon(this.#host.context(), r.open);
      // The attempt it raced runs on; if that failed already, the round goes on from the racer's place.
      if (raced) return;
      this.#takeOver(racer);
      // `refusal` is set: it is the failure itself when !r.ok.
      return this.#failed(racer, refusal!);
    }
    this.#pollWins(racer, r.open, took);
  }

  /**
   * Polling's handshake won: the attempt it raced, if still pending, is abandoned (a server that got
   * it drops its unclaimed session when it closes); once this session is live, the background
   * upgrade brings WebSocket back if it works after all.
   */
  #pollWins(racer: Slot, open: OpenFrame, took: number): void {
    const host = this.#host;
    const from = this.#setup.chain[this.#cursor]!;
    clearTimeout(this.#held?.timer);
    this.#held = null;
    this.#loses();
    this.#takeOver(racer);
    this.#fallbackHint = { from, reason: fallbackReason(from, TIMEOUT) };
    host.sample(took);
    host.establish(open);
    this.#attempt = { gen: racer.gen, transport: this.#startHttp('polling', open, host.handlersFor(racer.gen)) };
  }

  /**
   * The running attempt lost the race. A pending WebSocket goes on as the engine's scout (a WebSocket
   * that comes up late still moves the session onto WebSocket, at once); anything else is abandoned.
   */
  #loses(): void {
    const attempt = this.#attempt;
    this.#attempt = null;
    if (attempt?.transport.name === 'websocket') this.#host.scout(attempt);
    else attempt?.transport.close(ABANDONED);
  }

  /** A held polling session that will not be used is abandoned. */
  #release(): void {
    const held = this.#held;
    this.#held = null;
    if (!held) return;
    clearTimeout(held.timer);
    abandon(this.#host.context(), held.open);
  }

  /** No race any more: the timer is off, a running handshake is aborted, a held one abandoned. */
  #cancelRace(): void {
    this.#release();
    clearTimeout(this.#raceTimer);
    this.#raceTimer = undefined;
    const racer = this.#racer;
    this.#racer = null;
    racer?.transport.close();
  }

  #startHttp(name: 'sse' | 'polling', session: SessionRef, h: TransportHandlers): Transport {
    const hints = this.#hints();
    const { factories, timing } = this.#setup;
    const host = this.#host;
    if (name === 'sse') return factories.sse(host.context(hints, timing.sseTimeout), session, h);
    // Before the first open nothing sequenced was sent yet, so the server's ack is known to be 0.
    return factories.polling(host.context(hints), session, h, this.#link.state === 'connecting' ? 0 : undefined);
  }

  #failed(attempt: Slot, why: DownReason): void {
    this.#attempt = null;
    if (attempt.gen === this.#racedGen) {
      // A raced WebSocket that failed plainly leaves the race to the handshake already running; one
      // that failed before the race delay falls back at once, as without a race.
      if (this.#racer && (why.kind === 'failed' || why.kind === 'timeout')) return this.#held?.win();
      this.#cancelRace();
    }
    if (why.kind === 'fatal') return this.#host.fail(why.code);
    if (why.kind === 'overloaded') return this.#rounds.later(why.retryAfter);
    if (why.kind === 'restart') return this.#rounds.restartSoon(why.retryAfter);
    if (this.#roundTried < this.#setup.chain.length) {
      const from = attempt.transport.name;
      this.#fallbackHint = { from, reason: fallbackReason(from, why) };
      return this.#tryAt(this.#cursor + 1);
    }
    // A whole round failed. Before the first open that is a failed connection, as in a browser.
    if (this.#link.state === 'connecting') return this.#host.fail(ABNORMAL);
    this.#rounds.later(0);
  }
}
