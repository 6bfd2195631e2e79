/**
 * The session engine behind {@link BurrowSocket}: sequencing, acks and dedup, heartbeat, the
 * fallback chain, reconnect, the background WebSocket upgrade, and the session close handshake.
 *
 * Transports are disposable. Each start of one gets a fresh generation number; callbacks carry it and
 * are ignored unless it is the generation currently in that role (live, attempt or probe), so a
 * replaced transport's late events can never touch the session. Seqs and acks make every switch a
 * plain resume: the new transport's `open.ack` says where to resend from, and the receiver drops
 * what it already delivered.
 */
import {
  CloseCode,
  type Frame,
  type OpenFrame,
  type Payload,
  payloadSize,
  PROTOCOL_VERSION,
  type SequencedFrame,
} from '@burrow/shared';
import { handshake, type HandshakeResult } from '../transports/http.js';
import { defaultEventSource, defaultWebSocket, resolveFetch } from '../platform/globals.js';
import { PollingTransport } from '../transports/polling.js';
import { TransportMemory } from './remember.js';
import { SseTransport } from '../transports/sse.js';
import type { DownReason, SessionRef, Transport, TransportContext, TransportHandlers } from '../transports/transport.js';
import { type BurrowSocketOptions, type FetchFunction, TRANSPORT_NAMES, type TransportName } from '../types.js';
import { SILENT_DETAIL, WebSocketTransport } from '../transports/websocket.js';

/** Ack at most this long after delivering something (ms). */
export const ACK_DELAY = 50;
/** ...or at once after this many frames delivered but not acknowledged. */
export const ACK_EVERY = 128;
/** Longest wait for the server's answer to our close frame before giving up uncleanly (ms). */
const CLOSE_TIMEOUT = 30_000;
/** Longest wait for our echo of the server's close frame to be written before reporting the close (ms). */
const ECHO_TIMEOUT = 1_000;
/** Before the first open, overload answers (1013 / 503) are retried for this long (ms). */
const INITIAL_RETRY_BUDGET = 30_000;
/** Cap of the upgrade probe's backoff (ms). */
const PROBE_DELAY_MAX = 60_000;
/** A draining server's "move" (1012) is followed at once this many times in a row, then with backoff. */
const QUICK_RESTARTS = 3;
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
}

/** How transports are made; the tests swap these for fakes. */
export interface TransportFactories {
  websocket(ctx: TransportContext, h: TransportHandlers): Transport;
  sse(ctx: TransportContext, session: SessionRef, h: TransportHandlers): Transport;
  polling(ctx: TransportContext, session: SessionRef, h: TransportHandlers, knownAck: number | undefined): Transport;
  handshake(ctx: TransportContext, signal: AbortSignal): Promise<HandshakeResult>;
}

export interface ConnectionConfig {
  /** The socket's `ws:`/`wss:` URL (the mount path). */
  readonly url: URL;
  readonly protocols: readonly string[];
  readonly options: BurrowSocketOptions;
  readonly factories?: Partial<TransportFactories>;
}

/** Whether a transport is carrying the session right now. */
export type LinkState = 'connecting' | 'open' | 'reconnecting' | 'closed';
/** Who started ending the session, if anyone. */
export type Ending = 'none' | 'local' | 'remote';

const LINK_TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  connecting: ['open', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['open', 'closed'],
  closed: [],
};

interface OutEntry {
  readonly frame: SequencedFrame;
  /** Payload bytes of every frame up to and including this one, for bufferedAmount. */
  readonly cum: number;
}

const now = (): number => Date.now();
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export class Connection {
  private link: LinkState = 'connecting';
  private ending: Ending = 'none';

  // Configuration
  private readonly wsBase: URL;
  private readonly httpBase: URL;
  private readonly chain: TransportName[];
  private readonly fetch: FetchFunction | undefined;
  private readonly factories: TransportFactories;
  private readonly memory: TransportMemory;
  private readonly opt: Required<Pick<BurrowSocketOptions, 'sseTimeout' | 'reconnectDelay' | 'reconnectDelayMax' | 'upgrade' | 'upgradeDelay'>>;

  // Session
  private session: SessionRef | null = null;
  private terms: OpenFrame | null = null;

  // Transports, each with the generation it was started under (0: none)
  private gen = 0;
  private live: Transport | null = null;
  private liveGen = 0;
  private liveName: TransportName | '' = '';
  private attempt: Transport | null = null;
  private attemptGen = 0;
  private handshakeAbort: AbortController | null = null;
  private probe: Transport | null = null;
  private probeGen = 0;

  // Fallback chain and backoff
  private cursor = 0;
  private roundTried = 0;
  private resumeIndex = 0;
  private backoffN = 0;
  private probeFailures = 0;
  /** Why the current attempt's transport is not the one tried before it (sent as hints). */
  private fallbackHint: { readonly from: TransportName; readonly reason: string } | null = null;
  /** "Move" answers (1012) in a row since the last open. */
  private restarts = 0;
  private readonly startedAt = now();

  // Outbound
  private nextSeq = 1;
  private outbox: OutEntry[] = [];
  private outHead = 0;
  private peerAck = 0;
  private totalCum = 0;
  private writtenCum = 0;
  private writtenSeq = 0;
  private echo: { seq: number; code: number; reason: string } | null = null;

  // Inbound
  private delivered = 0;
  private ackSent = 0;
  private ackForce = false;

  // Liveness
  private lastSent = 0;
  private lastRecv = 0;
  private pingAt = 0;
  private rtt: number | undefined;

  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private lostTimer: ReturnType<typeof setTimeout> | undefined;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly config: ConnectionConfig,
    private readonly events: ConnectionEvents,
  ) {
    const o = config.options;
    this.opt = {
      sseTimeout: o.sseTimeout ?? 1500,
      reconnectDelay: o.reconnectDelay ?? 250,
      reconnectDelayMax: o.reconnectDelayMax ?? 10_000,
      upgrade: o.upgrade ?? true,
      upgradeDelay: o.upgradeDelay ?? 1000,
    };
    this.wsBase = new URL(config.url.href);
    this.wsBase.pathname = this.wsBase.pathname.replace(/\/+$/, '');
    this.httpBase = new URL(this.wsBase.href.replace(/^ws/, 'http'));
    this.fetch = resolveFetch(o.fetch);
    const WS = o.WebSocket ?? defaultWebSocket();
    const ES = o.EventSource ?? defaultEventSource();
    const esInit = o.fetch ? { fetch: o.fetch } : undefined;
    this.factories = {
      websocket: (ctx, h) => new WebSocketTransport(WS!, ctx, h),
      sse: (ctx, s, h) => new SseTransport(ES!, esInit, ctx, s, h),
      polling: (ctx, s, h, known) => new PollingTransport(ctx, s, h, known),
      handshake,
      ...config.factories,
    };
    const f = config.factories ?? {};
    const available = (n: TransportName): boolean =>
      n === 'websocket' ? !!(f.websocket ?? WS) : n === 'sse' ? !!(f.sse ?? (ES && this.fetch)) : !!(f.polling ?? this.fetch);
    const wanted = o.transports ?? TRANSPORT_NAMES;
    this.chain = [...new Set(wanted)].filter((n) => TRANSPORT_NAMES.includes(n) && available(n));
    this.memory = new TransportMemory(o.remember, this.wsBase, o.rememberFor ?? 24 * 60 * 60 * 1000);
  }

  /** Starts the first attempt. Separate from the constructor so the socket is wired up first. */
  start(): void {
    if (this.chain.length === 0) {
      queueMicrotask(() => this.fail(CloseCode.Abnormal));
      return;
    }
    this.startRound(this.initialIndex());
  }

  /** Bytes passed to {@link send} that no transport has written yet. */
  get bufferedAmount(): number {
    return this.totalCum - this.writtenCum;
  }

  get transportName(): TransportName | '' {
    return this.liveName;
  }

  get sessionId(): string {
    return this.session?.sid ?? '';
  }

  get state(): LinkState {
    return this.link;
  }

  /** Queues one message; it is sent now if a transport is live, else on the next (re)open. */
  send(data: Payload): void {
    if (this.link === 'closed' || this.ending !== 'none') return;
    this.enqueue({ t: 'd', seq: this.nextSeq++, data });
  }

  /** Starts the closing handshake: a sequenced close frame after everything sent before it. */
  close(code?: number, reason?: string): void {
    if (this.link === 'closed' || this.ending !== 'none') return;
    this.ending = 'local';
    this.enqueue({
      t: 'close',
      seq: this.nextSeq++,
      ...(code !== undefined ? { code } : {}),
      ...(reason ? { reason } : {}),
    });
    this.closeTimer = setTimeout(() => this.fail(CloseCode.Abnormal), CLOSE_TIMEOUT);
  }

  /** Drops everything without reporting: the socket reports the failure itself. */
  abort(): void {
    if (this.link === 'closed') return;
    this.teardown();
    this.setLink('closed');
  }

  // ---- state ---------------------------------------------------------------------------------

  private setLink(next: LinkState): void {
    if (next === this.link) return;
    if (!LINK_TRANSITIONS[this.link].includes(next)) throw new Error(`Burrow: illegal link transition ${this.link} -> ${next}`);
    this.link = next;
  }

  private initialIndex(): number {
    const remembered = this.memory.get();
    const i = remembered ? this.chain.indexOf(remembered) : -1;
    return i >= 0 ? i : 0;
  }

  private connectTimeout(): number {
    const fixed = this.config.options.connectTimeout;
    if (fixed !== undefined) return fixed;
    return this.rtt === undefined ? 1500 : clamp(4 * this.rtt + 500, 1000, 3000);
  }

  private context(openTimeout: number, hints?: Record<string, string>): TransportContext {
    const t = this.terms;
    const maxPayload = t?.maxPayload || undefined;
    return {
      ...(hints && Object.keys(hints).length > 0 ? { hints } : {}),
      wsBase: this.wsBase,
      httpBase: this.httpBase,
      protocols: this.config.protocols,
      session: this.session,
      ack: () => this.delivered,
      maxPayload,
      decode: { from: 'server', ...(maxPayload ? { maxPayload } : {}) },
      openTimeout,
      requestTimeout: t ? Math.max(DEFAULT_REQUEST_TIMEOUT, t.heartbeat + t.heartbeatTimeout) : DEFAULT_REQUEST_TIMEOUT,
      fetch: this.fetch ?? (() => Promise.reject(new Error('no fetch'))),
    };
  }

  private handlersFor(gen: number): TransportHandlers {
    return {
      onOpen: (ack, open) => {
        if (gen === this.attemptGen) this.attemptOpened(gen, ack, open);
        else if (gen === this.probeGen) this.probeOpened(gen, ack, open);
      },
      onFrame: (f) => {
        if (gen === this.liveGen) this.receive(f);
      },
      onAlive: () => {
        if (gen === this.liveGen) this.lastRecv = now();
      },
      onAcked: (ack) => {
        if (gen === this.liveGen) this.acked(ack);
      },
      onWritten: (seq) => {
        if (gen === this.liveGen) this.written(seq);
      },
      onDown: (why) => {
        if (gen === this.liveGen) this.liveLost(why);
        else if (gen === this.attemptGen) this.attemptFailed(why);
        else if (gen === this.probeGen) this.probeFailed(why);
      },
    };
  }

  // ---- attempts and the fallback chain --------------------------------------------------------

  /** Hints for an attempt's first downstream request: why it starts (see docs/PROTOCOL.md). */
  private attemptHints(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.fallbackHint) {
      h.fallback = this.fallbackHint.reason;
      h.from = this.fallbackHint.from;
    }
    if (this.link === 'reconnecting') h.resume = '1';
    return h;
  }

  private startRound(index: number): void {
    this.roundTried = 0;
    this.fallbackHint = null;
    this.tryAt(index);
  }

  private tryAt(index: number): void {
    const n = this.chain.length;
    this.cursor = ((index % n) + n) % n;
    this.roundTried++;
    const name = this.chain[this.cursor]!;
    const gen = ++this.gen;
    this.attemptGen = gen;
    const h = this.handlersFor(gen);
    if (name === 'websocket') {
      this.attempt = this.factories.websocket(this.context(this.connectTimeout(), this.attemptHints()), h);
      return;
    }
    if (this.session) {
      this.attempt = this.startHttp(name, h);
      return;
    }
    const ac = new AbortController();
    this.handshakeAbort = ac;
    void this.factories.handshake(this.context(this.connectTimeout()), ac.signal).then((r) => {
      if (gen !== this.attemptGen) return;
      this.handshakeAbort = null;
      if (!r.ok) return this.attemptFailed(r.why);
      if (r.open.v !== PROTOCOL_VERSION || !this.protocolOk(r.open.protocol)) {
        return this.attemptFailed({ kind: 'fatal', code: CloseCode.Abnormal, detail: 'bad open frame' });
      }
      this.session = { sid: r.open.sid, token: r.open.token };
      this.terms = r.open;
      this.attempt = this.startHttp(name, h);
    });
  }

  private startHttp(name: 'sse' | 'polling', h: TransportHandlers): Transport {
    const session = this.session!;
    const hints = this.attemptHints();
    if (name === 'sse') return this.factories.sse(this.context(this.opt.sseTimeout, hints), session, h);
    // Before the first open nothing sequenced was sent yet, so the server's ack is known to be 0.
    return this.factories.polling(this.context(this.connectTimeout(), hints), session, h, this.link === 'connecting' ? 0 : undefined);
  }

  private protocolOk(p: string): boolean {
    return p === '' || this.config.protocols.includes(p);
  }

  private attemptOpened(gen: number, ack: number, open: OpenFrame | undefined): void {
    const t = this.attempt!;
    if (open) {
      if (open.v !== PROTOCOL_VERSION) return this.attemptRejected(t, { kind: 'fatal', code: CloseCode.Abnormal, detail: 'protocol version' });
      if (this.session) {
        // Asked to resume and got something else: the server no longer knows the session.
        if (open.sid !== this.session.sid || !open.resumed) {
          return this.attemptRejected(t, { kind: 'fatal', code: CloseCode.SessionUnknown, detail: 'resume refused' });
        }
      } else {
        if (!this.protocolOk(open.protocol)) {
          return this.attemptRejected(t, { kind: 'fatal', code: CloseCode.Abnormal, detail: 'subprotocol not offered' });
        }
        this.session = { sid: open.sid, token: open.token };
      }
      this.terms = open;
    }
    this.attempt = null;
    this.attemptGen = 0;
    const first = this.link === 'connecting';
    this.makeLive(gen, t);
    this.resumeIndex = this.cursor;
    this.backoffN = 0;
    this.restarts = 0;
    this.fallbackHint = null;
    clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
    this.setLink('open');
    const previous = this.liveName;
    this.liveName = t.name;
    this.memory.set(t.name);
    // Announce before resending: a send that finds the transport dead must not swallow the `open`.
    if (first) this.events.open(this.terms!, t.name);
    else if (previous !== t.name && previous !== '') this.events.transport(t.name, previous);
    this.resendFrom(ack);
    this.scheduleProbe();
  }

  private attemptRejected(t: Transport, why: DownReason): void {
    t.close();
    this.attemptFailed(why);
  }

  private attemptFailed(why: DownReason): void {
    this.attempt = null;
    this.attemptGen = 0;
    if (why.kind === 'fatal') return this.fail(why.code);
    if (why.kind === 'overloaded') return this.retryLater(why.retryAfter);
    if (why.kind === 'restart') return this.restartSoon(why.retryAfter);
    if (this.roundTried < this.chain.length) {
      const from = this.chain[this.cursor]!;
      this.fallbackHint = { from, reason: fallbackReason(from, why) };
      return this.tryAt(this.cursor + 1);
    }
    // A whole round failed. Before the first open that is a failed connection, as in a browser.
    if (this.link === 'connecting') return this.fail(CloseCode.Abnormal);
    this.retryLater(0);
  }

  /** Next round after the backoff (full jitter), and no sooner than `minDelay`. */
  private retryLater(minDelay: number): void {
    if (this.link === 'connecting' && now() - this.startedAt > INITIAL_RETRY_BUDGET) return this.fail(CloseCode.Abnormal);
    const cap = Math.min(this.opt.reconnectDelayMax, this.opt.reconnectDelay * 2 ** this.backoffN);
    this.backoffN = Math.min(this.backoffN + 1, 30);
    const delay = Math.max(minDelay, Math.random() * cap);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.startRound(this.link === 'connecting' ? this.initialIndex() : this.resumeIndex);
    }, delay);
  }

  /**
   * The server asked us to move (1012 / 503 `service_restart`: a draining node). Not a failure: the
   * next round starts at once (a little jitter spreads a node's clients), with no backoff growth — a
   * few times in a row, then the normal backoff and `Retry-After` (e.g. a single node that drains).
   */
  private restartSoon(retryAfter: number): void {
    if (++this.restarts > QUICK_RESTARTS) return this.retryLater(retryAfter);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.startRound(this.link === 'connecting' ? this.initialIndex() : this.resumeIndex);
      },
      Math.random() * Math.min(this.opt.reconnectDelay, 100),
    );
  }

  private makeLive(gen: number, t: Transport): void {
    this.live = t;
    this.liveGen = gen;
    this.lastRecv = this.lastSent = now();
    this.pingAt = 0;
    this.startHeartbeat();
  }

  /** The live transport died: resume on the same transport first, then along the chain. */
  private liveLost(why: DownReason): void {
    const t = this.live;
    this.live = null;
    this.liveGen = 0;
    t?.close();
    this.stopHeartbeat();
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    if (why.kind === 'fatal') return this.fail(why.code);
    if (this.link !== 'open') return;
    this.setLink('reconnecting');
    this.lostTimer = setTimeout(() => this.fail(CloseCode.Abnormal), this.terms?.resumeWindow ?? 0);
    if (this.probe) {
      // An upgrade probe is already resuming the session (the server may even have dropped the old
      // downstream because of it): let it be this round's first attempt.
      this.attempt = this.probe;
      this.attemptGen = this.probeGen;
      this.probe = null;
      this.probeGen = 0;
      this.probeFailures++;
      this.cursor = this.chain.indexOf('websocket');
      this.roundTried = 1;
      return;
    }
    if (why.kind === 'restart') return this.restartSoon(why.retryAfter);
    this.retryLater(why.kind === 'overloaded' ? why.retryAfter : 0);
  }

  // ---- background upgrade to WebSocket --------------------------------------------------------

  private scheduleProbe(): void {
    if (!this.opt.upgrade || this.link !== 'open' || this.ending !== 'none') return;
    if (this.liveName === 'websocket' || !this.chain.includes('websocket')) return;
    if (this.probeTimer || this.probe || !Number.isFinite(this.probeFailures)) return;
    const delay = Math.min(this.opt.upgradeDelay * 2 ** Math.min(this.probeFailures, 30), PROBE_DELAY_MAX);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.link !== 'open' || this.ending !== 'none' || this.liveName === 'websocket') return;
      const gen = ++this.gen;
      this.probeGen = gen;
      const from = this.liveName;
      this.probe = this.factories.websocket(this.context(this.connectTimeout(), from ? { upgrade: from } : undefined), this.handlersFor(gen));
    }, delay);
  }

  private probeOpened(gen: number, ack: number, open: OpenFrame | undefined): void {
    const t = this.probe!;
    this.probe = null;
    this.probeGen = 0;
    if (!open || !this.session || open.sid !== this.session.sid || !open.resumed || this.ending !== 'none') {
      t.close();
      this.probeFailures++;
      return this.scheduleProbe();
    }
    this.terms = open;
    const old = this.live;
    old?.close();
    this.makeLive(gen, t);
    const previous = this.liveName;
    this.liveName = t.name;
    this.resumeIndex = this.chain.indexOf(t.name);
    this.probeFailures = 0;
    this.memory.set(t.name);
    if (previous !== t.name && previous !== '') this.events.transport(t.name, previous);
    this.resendFrom(ack);
  }

  private probeFailed(why: DownReason): void {
    this.probe = null;
    this.probeGen = 0;
    // 4001 on a probe: the live transport will hear the same soon; stop probing.
    this.probeFailures = why.kind === 'fatal' ? Infinity : this.probeFailures + 1;
    this.scheduleProbe();
  }

  // ---- outbound -------------------------------------------------------------------------------

  private enqueue(frame: SequencedFrame): void {
    this.totalCum += frame.t === 'd' ? payloadSize(frame.data) : 0;
    this.outbox.push({ frame, cum: this.totalCum });
    if (this.live) this.transmit([frame]);
  }

  private transmit(frames: readonly Frame[]): void {
    this.lastSent = now();
    this.live?.send(frames);
  }

  /** A transport opened with the server holding client seqs up to `ack`: resend the rest. */
  private resendFrom(ack: number): void {
    this.acked(ack);
    if (this.outHead < this.outbox.length) this.transmit(this.outbox.slice(this.outHead).map((e) => e.frame));
    if (this.delivered > this.ackSent) this.scheduleAck();
  }

  /** The entry holding `seq`, if still unacknowledged; the outbox holds contiguous seqs. */
  private entry(seq: number): OutEntry | undefined {
    const head = this.outbox[this.outHead];
    return head ? this.outbox[this.outHead + seq - head.frame.seq] : undefined;
  }

  private written(seq: number): void {
    if (seq <= this.writtenSeq) return;
    const e = this.entry(seq);
    if (e) this.writtenCum = Math.max(this.writtenCum, e.cum);
    this.writtenSeq = seq;
    if (this.echo && seq >= this.echo.seq) this.finish(this.echo.code, this.echo.reason, true);
  }

  private acked(ack: number): void {
    // An ack beyond what we sent is a confused peer; trusting it would drop unsent frames.
    if (ack <= this.peerAck || ack >= this.nextSeq) return;
    this.written(ack);
    if (this.link === 'closed') return;
    this.peerAck = ack;
    while (this.outHead < this.outbox.length && this.outbox[this.outHead]!.frame.seq <= ack) this.outHead++;
    if (this.outHead > 1024 && this.outHead * 2 > this.outbox.length) {
      this.outbox = this.outbox.slice(this.outHead);
      this.outHead = 0;
    }
  }

  // ---- inbound --------------------------------------------------------------------------------

  private receive(f: Frame): void {
    this.lastRecv = now();
    switch (f.t) {
      case 'd':
      case 'close':
        if (f.seq <= this.delivered) {
          // A resend: our ack may have been lost, so make sure another goes out.
          this.ackForce = true;
          return this.scheduleAck();
        }
        if (f.seq !== this.delivered + 1) return this.liveLost({ kind: 'failed', detail: `seq gap: ${f.seq} after ${this.delivered}` });
        this.delivered = f.seq;
        if (f.t === 'd') {
          this.events.message(f.data);
          return this.scheduleAck();
        }
        return this.peerClose(f);
      case 'ack':
        return this.acked(f.ack);
      case 'ping':
        return this.transmit([{ t: 'pong' }]);
      case 'pong':
        if (this.pingAt) this.rtt = now() - this.pingAt;
        this.pingAt = 0;
        return;
      case 'open':
        return this.liveLost({ kind: 'failed', detail: 'unexpected open frame' });
    }
  }

  private scheduleAck(): void {
    if (this.link === 'closed') return;
    if (this.delivered - this.ackSent >= ACK_EVERY) return this.sendAck();
    this.ackTimer ??= setTimeout(() => this.sendAck(), ACK_DELAY);
  }

  private sendAck(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (!this.live || (this.delivered <= this.ackSent && !this.ackForce)) return;
    this.ackSent = this.delivered;
    this.ackForce = false;
    this.transmit([{ t: 'ack', ack: this.delivered }]);
  }

  private peerClose(f: Extract<Frame, { t: 'close' }>): void {
    const code = f.code ?? CloseCode.NoStatus;
    const reason = f.reason ?? '';
    this.sendAck();
    if (this.link === 'closed') return;
    // Our close crossed theirs, or this is the echo of ours: either way the handshake is complete.
    if (this.ending === 'local') return this.finish(code, reason, true);
    this.ending = 'remote';
    this.events.closing(code, reason);
    const seq = this.nextSeq++;
    this.echo = { seq, code, reason };
    // Report the close once the echo is written (or after a short wait if no transport takes it).
    this.closeTimer = setTimeout(() => this.finish(code, reason, true), ECHO_TIMEOUT);
    this.enqueue({ t: 'close', seq, ...(f.code !== undefined ? { code: f.code } : {}), ...(f.reason ? { reason: f.reason } : {}) });
  }

  // ---- heartbeat ------------------------------------------------------------------------------

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const t = this.terms;
    if (!t || t.heartbeat <= 0) return;
    const period = clamp(Math.min(t.heartbeat, t.heartbeatTimeout || t.heartbeat) / 4, 25, 1000);
    this.heartbeatTimer = setInterval(() => this.beat(t.heartbeat, t.heartbeatTimeout), period);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private beat(heartbeat: number, timeout: number): void {
    const t = now();
    if (t - this.lastRecv >= heartbeat + timeout) return this.liveLost({ kind: 'timeout', detail: 'heartbeat timeout' });
    // Ping when we sent nothing for a beat (the protocol's rule), and also when nothing came down for
    // a beat: an SSE stream's keep-alive comments are invisible to EventSource, and a busy sender
    // would otherwise never provoke a pong on a quiet downstream.
    const idle = t - this.lastSent >= heartbeat || t - this.lastRecv >= heartbeat;
    if (idle && (this.pingAt === 0 || t - this.pingAt >= heartbeat)) {
      this.pingAt = t;
      this.transmit([{ t: 'ping' }]);
    }
  }

  // ---- the end --------------------------------------------------------------------------------

  /** Unclean end. Before the first open every failure is 1006, as a browser reports a failed handshake. */
  private fail(code: number): void {
    this.finish(this.link === 'connecting' ? CloseCode.Abnormal : code, '', false);
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.link === 'closed') return;
    this.teardown();
    this.setLink('closed');
    this.liveName = '';
    this.events.close(code, reason, wasClean);
  }

  private teardown(): void {
    for (const t of [this.retryTimer, this.lostTimer, this.probeTimer, this.ackTimer, this.closeTimer]) clearTimeout(t);
    this.retryTimer = this.lostTimer = this.probeTimer = this.ackTimer = this.closeTimer = undefined;
    this.stopHeartbeat();
    this.handshakeAbort?.abort();
    this.handshakeAbort = null;
    const ts = [this.live, this.attempt, this.probe];
    this.live = this.attempt = this.probe = null;
    this.liveGen = this.attemptGen = this.probeGen = 0;
    for (const t of ts) t?.close();
  }
}

/** The reason a fallback reports to the server (`fallback=` on the next transport's first request). */
function fallbackReason(from: TransportName, why: DownReason): string {
  if (why.kind !== 'timeout') return 'refused';
  if (from === 'sse') return 'buffered';
  return from === 'websocket' && why.detail === SILENT_DETAIL ? 'silent' : 'timeout';
}
