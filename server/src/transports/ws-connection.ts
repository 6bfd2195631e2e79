/**
 * One accepted WebSocket of the `websocket` transport: the socket class `ws` builds for us, its
 * shared listeners, and the connection that serves a session on it (the session's downstream, and
 * the reader of what the client sends). websocket.ts accepts upgrades and opens sessions.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { CloseCode, decodeWsMessage, encodeJsonFrame, MAX_CLOSE_REASON_BYTES, type AckFrame, type DecodeOptions, type Frame, type PongFrame } from '@burrow/shared';
import { WsHold } from './ws-hold.js';
import { ControlCoalescer } from './control.js';
import { corkForTurn, socketOf, type TurnCorked } from './ws-cork.js';
import { wsMessageOf } from './encoding.js';
import { isStoreFailure } from '../errors/burrow-error.js';
import { refusal, wsRefusal } from '../errors/refusals.js';
import { destroySocketOnError } from '../http/respond.js';
import type { SessionCore } from '../session/core.js';
import type { Downstream, InboundOutcome } from '../session/types.js';
import type { SessionRegistry } from '../session/registry.js';
import type { OutboundFrame } from '../store/store.js';

/** Frames per read from the log when catching a socket up. */
const BATCH_FRAMES = 1024;

/** The decode options of client messages, made once per `maxPayload` rather than per message. */
let decodeOpts: DecodeOptions = { from: 'client', maxPayload: 0 };
function clientDecode(maxPayload: number): DecodeOptions {
  if (decodeOpts.maxPayload !== maxPayload) decodeOpts = { from: 'client', maxPayload };
  return decodeOpts;
}

/** Socket errors are answered by the close that follows them; the listener only keeps them from being fatal. */
function noop(): void {}

/**
 * The socket class `ws` builds for each upgrade, with slots for what its listeners need: they are
 * then the shared functions below, not closures made per socket.
 */
export class ServedSocket extends WebSocket {
  /** The accepting transport's open sockets (see WebSocketTransport.close). */
  tracked: Set<ServedSocket> | undefined = undefined;
  /** The connection serving a session on it, once there is one. */
  conn: WsConnection | undefined = undefined;
}

/**
 * `ws` accepted the upgrade. Its socket has `ws`'s error listener now, so the one the upgrade hook
 * added (burrow.ts) goes rather than stay for the life of the connection; and the socket is tracked
 * here rather than by `ws` (clientTracking), which would add a closure and a second close listener
 * per socket.
 */
export function adopt(ws: WebSocket, socket: Duplex, tracked: Set<ServedSocket>): void {
  const served = ws as ServedSocket;
  ws.on('error', noop);
  socket.removeListener('error', destroySocketOnError);
  served.tracked = tracked;
  tracked.add(served);
  ws.on('close', onClose);
}

export function onMessage(this: WebSocket, raw: Buffer, isBinary: boolean): void {
  (this as ServedSocket).conn?.message(raw, isBinary);
}

function onClose(this: WebSocket): void {
  const ws = this as ServedSocket;
  ws.tracked?.delete(ws);
  ws.conn?.closed();
}

/** Created by a raced attempt: a socket that closes before the client's claim takes the session with it. */
const RACED = 1;
/** A store call failed: this socket is done (1013) and nothing more it sent is applied. */
const BROKEN = 2;
/** The socket is corked until the end of this turn (ws-cork.ts). */
const CORKED = 4;
/** Not read: the frames read ahead of the store passed limits.maxInboundPendingBytes (see `apply`). */
const READ_AHEAD_FULL = 8;

/** What a frame read ahead of the store counts against limits.maxInboundPendingBytes: its payload plus 64. */
function pendingCost(frame: Frame): number {
  return frame.t !== 'd' ? 64 : 64 + (typeof frame.data === 'string' ? frame.data.length : frame.data.byteLength);
}

/**
 * One WebSocket serving one session: the session's downstream, and the reader of what the client
 * sends on it. Everything per socket lives in this one object (see ServedSocket). Its helper methods
 * are TypeScript `private`, not `#`: V8 gives every instance of a class with `#` methods a brand
 * field, 8 bytes per session.
 */
export class WsConnection extends ControlCoalescer implements Downstream, TurnCorked {
  readonly #ws: ServedSocket;
  readonly #core: SessionCore;
  readonly #reg: SessionRegistry;
  /** The booleans of the connection (see the bits below), one field rather than three. */
  #flags: number;
  /** onBufferFull 'pause': frames held while the session's outbound buffer is full (made on first need). */
  #hold: WsHold | undefined;
  /**
   * Made with the first queued batch (a socket on MemoryStore makes none): the outcome `apply` listens
   * to last, and the one pair of listeners that answers for every frame that joined it (not a promise
   * and two closures per frame). One field while idle rather than three.
   */
  #watch: OutcomeWatch | undefined;

  constructor(ws: ServedSocket, core: SessionCore, reg: SessionRegistry, raced: boolean) {
    super();
    this.#ws = ws;
    this.#core = core;
    this.#reg = reg;
    this.#flags = raced ? RACED : 0;
    ws.conn = this;
  }

  get transport(): 'websocket' {
    return 'websocket';
  }

  get batchFrames(): number {
    return BATCH_FRAMES;
  }

  get batchBytes(): number {
    return this.#reg.options.limits.maxPollBytes;
  }

  write(frames: readonly OutboundFrame[]): void {
    this.cork();
    for (const f of frames) this.#ws.send(wsMessageOf(f));
  }

  protected writeControl(frame: AckFrame | PongFrame, flushed: () => void): void {
    this.cork();
    this.#ws.send(encodeJsonFrame(frame), flushed);
  }

  /** Holds what is written to the socket in this turn for one write at its end (ws-cork.ts). */
  cork(): void {
    if (this.#flags & CORKED) return;
    const ws = this.#ws;
    if (ws.readyState !== ws.OPEN) return;
    const socket = socketOf(ws);
    if (!socket) return;
    this.#flags |= CORKED;
    corkForTurn(socket, this);
  }

  uncorkTurn(): void {
    // Still corked: an ack written now joins this turn's write.
    this.#core.flushing(this);
    this.#flags &= ~CORKED;
    socketOf(this.#ws)?.uncork();
  }

  turnFailed(err: unknown): void {
    this.#reg.emitError(err);
    // What reached the socket is unknown: cut it; the client resumes from its ack, nothing is lost.
    this.#ws.terminate();
  }

  end(code: number, reason: string): void {
    this.#core.detach(this);
    closeSocket(this.#ws, code, reason);
  }

  /** The socket closed. */
  closed(): void {
    const core = this.#core;
    if ((this.#flags & RACED) !== 0 && core.unclaimed) this.#reg.discard(core);
    core.detach(this);
  }

  message(raw: Buffer, isBinary: boolean): void {
    if (this.#flags & BROKEN) return;
    const core = this.#core;
    if (core.unclaimed) core.claimed?.();
    // Corked means this socket's read already answered a message in this turn, which was seen then:
    // one clock read per read, not per message (the heartbeat judges in seconds).
    if (!(this.#flags & CORKED)) core.seen();
    const maxPayload = this.#reg.options.limits.maxPayload;
    const msg = isBinary ? raw : raw.toString('utf8');
    const r = decodeWsMessage(msg, clientDecode(maxPayload));
    if (!r.ok) return this.fail(r.error.close, `${r.error.code}: ${r.error.message}`);
    const frame = r.value;
    if (!isBinary && frame.t === 'd' && raw.length - (String(frame.seq).length + 1) > maxPayload) {
      return this.fail(CloseCode.TooBig, `payload_too_large: payload exceeds ${maxPayload} bytes`);
    }
    if (this.held(frame, raw.length)) return;
    this.apply(frame);
  }

  /** onBufferFull 'pause': true when `frame` was held, to be applied once the gate opens (ws-hold.ts). */
  private held(frame: Frame, size: number): boolean {
    let hold = this.#hold;
    if (!hold) {
      // Nothing can be held before the gate first closes.
      if (!this.#core.paused) return false;
      hold = this.#hold = new WsHold(this.#ws, this.#core.gate, this.#reg.options.limits.maxBatchBytes, this);
    }
    return hold.hold(frame, size);
  }

  /** Applies one client frame, in order (held frames first, see ws-hold.ts). */
  apply(frame: Frame): void {
    if (this.#flags & BROKEN) return;
    const core = this.#core;
    const batch = [frame];
    const now = core.inboundNow(batch, false);
    if (now) {
      if (now.error) this.fail(now.error.close, `${now.error.code}: ${now.error.message}`);
      return;
    }
    const outcome = core.inbound(batch, false);
    const w = (this.#watch ??= {
      outcome: undefined,
      run: undefined,
      pending: 0,
      answered: (out) => {
        if (out.error) this.fail(out.error.close, `${out.error.code}: ${out.error.message}`);
      },
      failed: (err) => this.failed(err),
    });
    // Frames wait here while the store applies the run before them: without a bound, a client that
    // sends faster than the store answers (any burst on Redis) grows the heap by all it sends, and
    // every frame outlives a few scavenges on its way. Past the bound the socket is not read, so TCP
    // holds the rest back; it is read again once half of that is applied.
    const cost = pendingCost(frame);
    w.pending += cost;
    if (w.pending > this.#reg.options.limits.maxInboundPendingBytes) {
      this.#flags |= READ_AHEAD_FULL;
      this.#ws.pause();
    }
    if (outcome === w.outcome) {
      w.run!.bytes += cost;
      return;
    }
    w.outcome = outcome;
    const run = (w.run = { bytes: cost });
    outcome.then(
      (out) => {
        this.applied(run.bytes);
        w.answered(out);
      },
      (err: unknown) => {
        this.applied(run.bytes);
        w.failed(err);
      },
    );
  }

  /** See HoldTarget (ws-hold.ts). */
  readingHeldBack(): boolean {
    return (this.#flags & READ_AHEAD_FULL) !== 0;
  }

  /** `bytes` of frames read ahead were applied (or failed): the socket is read again below half the bound. */
  private applied(bytes: number): void {
    const w = this.#watch!;
    w.pending -= bytes;
    if (!(this.#flags & READ_AHEAD_FULL) || w.pending > this.#reg.options.limits.maxInboundPendingBytes / 2) return;
    this.#flags &= ~READ_AHEAD_FULL;
    // A pause of onBufferFull 'pause' (ws-hold.ts) is that one's to end.
    if (!this.#hold || this.#hold.heldBytes === 0) this.#ws.resume();
  }

  /** A queued batch of this socket's frames failed in the store or the app. */
  private failed(err: unknown): void {
    if (isStoreFailure(err)) {
      if (this.#flags & BROKEN) return;
      this.#flags |= BROKEN;
      // The session lives on: the client resumes (with backoff) and resends from our ack.
      this.#core.transportFailed(this, err);
      const ws = this.#ws;
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) closeSocket(ws, CloseCode.TryAgainLater, 'store unavailable');
      return;
    }
    this.#reg.emitError(err);
    const internal = wsRefusal(refusal('internal'));
    this.fail(internal.code, internal.reason);
  }

  private fail(code: number, reason: string): void {
    if (this.#flags & BROKEN) return;
    const reg = this.#reg;
    void this.#core.fail(code, reason).catch((err: unknown) => reg.emitError(err));
  }
}

/** See WsConnection's `#watch`. */
interface OutcomeWatch {
  outcome: Promise<InboundOutcome> | undefined;
  /** The frames that got `outcome`, by what they count against limits.maxInboundPendingBytes. */
  run: { bytes: number } | undefined;
  /** What every frame read ahead of the store and not yet applied counts (see `apply`). */
  pending: number;
  readonly answered: (out: InboundOutcome) => void;
  readonly failed: (err: unknown) => void;
}

/** Closes a socket with a code and a reason trimmed to the wire limit; a dead link is just cut. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (code === CloseCode.Abnormal || code === CloseCode.NoStatus) {
    ws.terminate();
    return;
  }
  let r = reason;
  while (Buffer.byteLength(r) > MAX_CLOSE_REASON_BYTES) r = r.slice(0, -1);
  ws.close(code, r);
}
