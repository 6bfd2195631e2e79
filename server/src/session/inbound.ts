/**
 * The inbound half of a session core: client frames are applied strictly one batch at a time, in seq
 * order, through the store's inbound journal (`acceptInbound`), then emitted as `message` events; the
 * inbound ack goes back on the wire. Journal entries of a node that died are redelivered first
 * (journal-looks.ts).
 */
import { ACK_EVERY, ACK_SIZE, payloadSize, type Frame, type SequencedFrame } from '@burrow/shared';
import { refusal } from '../errors/refusals.js';
import type { DeadlineLinks } from '../deadlines.js';
import { ACCEPT_RUN_MAX, badFrame, dataRun } from './inbound-runs.js';
import type { InboundResult } from '../store/store.js';
import { JournalLooks } from './journal-looks.js';
import type { InboundGate } from './backpressure.js';
import { RESOLVED, type Session, type TransportName } from './handle.js';
import type { InboundHost, InboundOutcome } from './types.js';

/** Longest an inbound frame waits for another node to emit the frames before it (see #accept). */
const ACCEPT_WAIT_MS = 12_000;


export class InboundQueue implements DeadlineLinks {
  readonly #core: InboundHost;
  /** Inbound frames are applied strictly one batch at a time (the shared settled promise until the first). */
  #queue: Promise<unknown> = RESOLVED;
  #inAck: number;
  #ackedOnWire: number;
  /** On the host's `acksOwed` list: an ack goes out when `ackDelay` passes (one timer for every session). */
  #ackArmed = false;
  /** Payload delivered since the last ack on the wire (see ACK_SIZE). */
  #unackedSize = 0;
  /** The journal's looks (networked stores), made with the first. */
  #journal: JournalLooks | undefined;
  /** Batches queued and not yet settled: the synchronous path runs only when this is 0. */
  #pending = 0;
  /** Made with the first queued batch: a queue that only ever takes the synchronous path keeps none. */
  #onSettled: (() => void) | undefined;
  /** @internal Its place on the host's `acksOwed` list (deadlines.ts). */
  dlList: object | undefined = undefined;
  /** @internal */ dlPrev: DeadlineLinks | undefined = undefined;
  /** @internal */ dlNext: DeadlineLinks | undefined = undefined;
  /** @internal */ dlAt = 0;

  /**
   * The condition of this session's confirms (see `Store.confirmInbound`): the newest append of the
   * session this node has not seen run, as the app's answers to the confirmed frames may be among them.
   */
  get #appendsRun(): () => string | undefined {
    const core = this.#core;
    return (this.#afterAppends ??= () => core.host.appendOrder.before(core.id));
  }
  #afterAppends: (() => string | undefined) | undefined;

  get #settled(): () => void {
    return (this.#onSettled ??= () => {
      this.#pending--;
    });
  }

  /**
   * `after`: the inbound work still running on this node for the same session in a core that was
   * disposed (a drain, an idle timeout, a store blip): this queue starts behind it. Two queues of one
   * session running side by side on one node would let the new one read the old one's journal entry
   * (accepted, its reply not yet handled, so neither emitted nor confirmed) as "a reply this node never
   * got" and emit it again, flagged, beside the old core's normal emit.
   */
  constructor(core: InboundHost, inAck: number, after?: Promise<unknown>) {
    this.#core = core;
    this.#inAck = inAck;
    this.#ackedOnWire = inAck;
    // Bounded like an accept's wait: a predecessor stuck on a store call that never answers must not
    // stall the session here for good.
    if (after) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise((done) => (timer = setTimeout(done, ACCEPT_WAIT_MS)));
      timer?.unref();
      this.#pending++;
      this.#queue = Promise.race([after, cap]).finally(() => clearTimeout(timer));
      this.#queue.then(this.#settled, this.#settled);
    }
  }

  /** Settles once every batch queued so far was applied (or failed); never rejects. */
  get tail(): Promise<unknown> {
    return this.#queue;
  }

  /** Highest client seq applied in order. */
  get inAck(): number {
    return this.#inAck;
  }

  /** See {@link JournalLooks.due}. */
  journalDue(carrier: string | null | undefined, resumed: boolean): boolean {
    return this.#looks.due(carrier, resumed);
  }

  get #looks(): JournalLooks {
    return (this.#journal ??= new JournalLooks(this.#core, (task) => this.#enqueueLook(task), this.#appendsRun));
  }

  /** Another node applied more (a fresh record). */
  raiseAck(ack: number): void {
    if (ack > this.#inAck) this.#inAck = ack;
  }

  /** Stops the timers (the core is disposed). */
  stop(): void {
    this.#journal?.stop();
    if (this.#ackArmed) this.#core.host.acksOwed.disarm(this);
    this.#ackArmed = false;
  }

  /**
   * Applies a batch of client frames after every batch queued before it. WebSocket frames that come
   * while the batch before them still waits its turn join it (up to ACCEPT_RUN_MAX frames), so a
   * burst costs a networked store one call, not one per frame; the joined callers' promises settle
   * with the batch, and its error (if any) is reported to the one that opened it only.
   */
  apply(frames: readonly Frame[], stopAtGap: boolean): Promise<InboundOutcome> {
    const w = this.#waiting;
    if (w && !stopAtGap && w.frames.length + frames.length <= ACCEPT_RUN_MAX) {
      for (const f of frames) w.frames.push(f);
      return (w.joined ??= w.run.then(
        () => ({ ack: this.#inAck }),
        () => ({ ack: this.#inAck }),
      ));
    }
    this.#pending++;
    const batch: Waiting = { frames: [...frames], run: RESOLVED_OUTCOME, joined: undefined };
    // Nothing joins a batch once another one (or a journal replay) is queued behind it.
    this.#waiting = stopAtGap ? undefined : batch;
    const run = this.#queue.then(() => {
      if (this.#waiting === batch) this.#waiting = undefined;
      return this.#apply(batch.frames, stopAtGap);
    });
    batch.run = run;
    this.#queue = run.then(this.#settled, this.#settled);
    return run;
  }
  /** The WebSocket batch queued last, while it has not started: later frames join it. */
  #waiting: Waiting | undefined;

  /**
   * The synchronous path of {@link apply}, for an in-process store ({@link Store.sync}) when nothing
   * is queued before the batch: applied and emitted in this call, with no promise or microtask per
   * frame. Undefined (nothing done) when the batch needs the general path: no sync store, work
   * queued, a close frame (the close handshake awaits the store) or a paused gate.
   */
  applyNow(frames: readonly Frame[], stopAtGap: boolean): InboundOutcome | undefined {
    const core = this.#core;
    const sync = core.host.store.sync;
    if (!sync || this.#pending > 0 || core.paused) return undefined;
    for (const f of frames) if (f.t === 'close') return undefined;
    let ack = -1;
    let pinged = false;
    for (const f of frames) {
      switch (f.t) {
        case 'd': {
          const r = sync.acceptInboundSync(core.id, f.seq);
          if (r.status === 'unknown') return { ack: this.#inAck, error: refusal('sessionExpired') };
          if (r.ack > this.#inAck) this.#inAck = r.ack;
          if (r.status === 'gap') {
            if (!stopAtGap) return { ack: this.#inAck, error: badFrame('bad_seq', `expected seq ${r.ack + 1}, got ${f.seq}`) };
            if (pinged) core.pong();
            return this.#ackNow(ack);
          }
          if (r.status === 'new' && !core.closed) this.#received(f, stopAtGap);
          break;
        }
        case 'ack':
          if (f.ack > ack) ack = f.ack;
          break;
        case 'ping':
          pinged = true;
          break;
        case 'pong':
          break;
        default:
          return { ack: this.#inAck, error: badFrame('bad_frame', `unexpected ${f.t} frame from a client`) };
      }
    }
    if (pinged) core.pong();
    return this.#ackNow(ack);
  }

  /** {@link #flushAck} on a sync store with the gate open. */
  #ackNow(ack: number): InboundOutcome {
    const core = this.#core;
    core.clientAcked(ack);
    if (ack >= 0) core.host.store.sync!.ackSync(core.id, ack);
    return { ack: this.#inAck };
  }

  async #apply(frames: readonly Frame[], stopAtGap: boolean): Promise<InboundOutcome> {
    const core = this.#core;
    let ack = -1;
    let pinged = false;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      switch (f.t) {
        case 'd':
        case 'close': {
          // Group commit: a run of data frames is offered to the store in one call, and only the
          // frame it stopped at (a wait, a gap) goes on alone.
          let r: InboundResult | undefined;
          if (f.t === 'd' && frames[i + 1]?.t === 'd' && core.host.store.acceptInboundBatch) {
            const run = dataRun(frames, i);
            const b = await core.host.store.acceptInboundBatch(core.id, run);
            if (b.replay || b.recheckMs !== undefined) this.#looks.redeliver(b);
            const last = b.statuses.length - 1;
            for (let k = 0; k < last; k++) this.#applied(run[k]!, b.statuses[k]!, stopAtGap);
            const status = b.statuses[last] ?? 'unknown';
            i += Math.max(0, last);
            // Waiting is #accept's to do (one frame at a time).
            if (status !== 'wait') r = { status, ack: b.ack };
          }
          r ??= await this.#accept(frames[i] as SequencedFrame);
          const g = frames[i] as SequencedFrame;
          if (r.status === 'unknown') return { ack: this.#inAck, error: refusal('sessionExpired') };
          if (r.ack > this.#inAck) this.#inAck = r.ack;
          if (r.status === 'gap') {
            if (stopAtGap) {
              if (pinged) core.pong();
              return this.#flushAck(ack);
            }
            return { ack: this.#inAck, error: badFrame('bad_seq', `expected seq ${r.ack + 1}, got ${g.seq}`) };
          }
          if (r.status === 'new' && g.t === 'close') await core.clientClose(g.code, g.reason);
          else this.#applied(g, r.status, stopAtGap);
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
          return { ack: this.#inAck, error: badFrame('bad_frame', `unexpected ${f.t} frame from a client`) };
      }
    }
    if (pinged) core.pong();
    return this.#flushAck(ack);
  }

  /** A data frame the store judged `new` (or `dup`): emitted and confirmed, or nothing. */
  #applied(f: SequencedFrame, status: InboundResult['status'], stopAtGap: boolean): void {
    if (status !== 'new' || f.t !== 'd') return;
    const core = this.#core;
    if (f.seq > this.#inAck) this.#inAck = f.seq;
    if (!core.closed) this.#received(f, stopAtGap);
    // Emitted (or dropped on purpose): its journal entry can go, piggybacked on the next call;
    // after a POST at once, since the client's next POST may reach another node, which waits for it.
    // Held in the store until the app's answers to it (sent above) are in the log.
    core.host.store.confirmInbound?.(core.id, f.seq, stopAtGap, this.#appendsRun);
  }

  /**
   * Accepts one sequenced frame. While another node holds an earlier accepted frame it may not have
   * emitted yet (`wait`: e.g. the client gave up on a POST that node is still applying and resent the
   * rest here), emitting this one first would break seq order for the app, so it waits; a dead node's
   * entries are taken over and emitted meanwhile. Past ACCEPT_WAIT_MS it accepts anyway rather than
   * stall the session on a node that lives but never confirms.
   */
  async #accept(f: SequencedFrame): Promise<InboundResult> {
    const store = this.#core.host.store;
    const frame = f.t === 'd' ? f : undefined;
    const giveUpAt = Date.now() + ACCEPT_WAIT_MS;
    let delay = 5;
    for (;;) {
      const r = await store.acceptInbound(this.#core.id, f.seq, frame, Date.now() >= giveUpAt);
      if (r.status !== 'wait') {
        if (r.replay || r.recheckMs !== undefined) this.#looks.redeliver(r);
        return r;
      }
      if (r.replay) {
        this.#looks.redeliver({ replay: r.replay });
        continue;
      }
      await new Promise((done) => setTimeout(done, Math.min(delay, r.recheckMs ?? delay)));
      delay = Math.min(delay * 2, 100);
    }
  }

  async #flushAck(ack: number): Promise<InboundOutcome> {
    const core = this.#core;
    core.clientAcked(ack);
    if (ack >= 0) {
      await core.host.store.ack(core.id, ack);
      if (core.paused) await core.gate.check(core.host.store, core.id, core.host.options.limits);
    }
    return { ack: this.#inAck };
  }

  /** Asks the store for journal entries to redeliver (see {@link JournalLooks.look}). */
  replayJournal(): void {
    if (this.#core.host.store.replayInbound) this.#looks.look();
  }

  /** Queues a journal look behind every batch queued so far; nothing joins a batch across it. */
  #enqueueLook(task: () => Promise<void>): Promise<void> {
    this.#pending++;
    this.#waiting = undefined;
    const run = this.#queue.then(task);
    this.#queue = run.then(this.#settled, this.#settled);
    return run;
  }

  /** A new data frame, applied in order: counted and emitted. */
  #received(f: Extract<SequencedFrame, { t: 'd' }>, stopAtGap: boolean): void {
    const tap = this.#core.host.tap;
    if (tap) {
      // Metrics: a POST is labelled with the downstream held here, else 'http'.
      const t = this.#core.transport;
      tap.received(stopAtGap ? (t === 'sse' || t === 'polling' ? t : 'http') : 'websocket', payloadSize(f.data));
    }
    this.#delivered(f);
  }

  #delivered(f: Extract<SequencedFrame, { t: 'd' }>): void {
    const core = this.#core;
    const data = typeof f.data === 'string' ? f.data : Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength);
    core.host.emitMessage(core.handle, data, { seq: f.seq, redelivered: false });
    // On WebSocket the server acks lazily (riding on its own writes, see rideAck), or at once past the
    // bounds of what the client should hold.
    if (core.downstream?.transport !== 'websocket') return;
    this.#unackedSize += typeof f.data === 'string' ? f.data.length : f.data.byteLength;
    if (this.#inAck - this.#ackedOnWire >= ACK_EVERY || this.#unackedSize >= ACK_SIZE) this.#sendAck();
    else if (!this.#ackArmed) {
      this.#ackArmed = true;
      core.host.acksOwed.arm(this);
    }
  }

  /**
   * @internal The downstream is about to flush this turn's writes: an ack owed for a quarter of the
   * ack delay goes with them, in the same write, instead of in one of its own when the delay passes.
   * A session whose messages come at least every `ackDelay` and are answered (an echo, a
   * request/response app) then pays no ack write of its own; below the 128-frame and 64 Ki bounds,
   * at most one ack frame per quarter delay however fast it goes. A lone message, or the last of a
   * burst, still gets its ack alone when the delay passes.
   */
  rideAck(): void {
    if (this.#ackArmed && this.#core.host.acksOwed.armedFor(this) * 4 >= this.#core.host.acksOwed.ms) this.#sendAck();
  }

  /** @internal The ack delay passed (the host's `acksOwed` list). */
  ackDelayElapsed(): void {
    this.#ackArmed = false;
    this.#sendAck();
  }

  #sendAck(): void {
    if (this.#ackArmed) this.#core.host.acksOwed.disarm(this);
    this.#ackArmed = false;
    const d = this.#core.downstream;
    // Only a WebSocket needs an ack frame: over HTTP every POST answer is one, and a new SSE stream or
    // poll starts from the ack its request learned (a deadline armed on a WebSocket that was replaced
    // would otherwise answer a held poll early, for nothing).
    if (d?.transport !== 'websocket' || this.#inAck <= this.#ackedOnWire) return;
    this.#ackedOnWire = this.#inAck;
    this.#unackedSize = 0;
    d.control({ t: 'ack', ack: this.#inAck });
  }
}

/** A queued batch that has not started yet (see `InboundQueue.apply`). */
interface Waiting {
  readonly frames: Frame[];
  run: Promise<InboundOutcome>;
  /** The promise the frames that joined it get. */
  joined: Promise<InboundOutcome> | undefined;
}

const RESOLVED_OUTCOME: Promise<InboundOutcome> = Promise.resolve({ ack: 0 });
