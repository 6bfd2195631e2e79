/**
 * `onBufferFull: 'pause'`: instead of closing a session whose outbound buffer is full (4003), the
 * node stops reading from it until the client's acks drain the buffer below the low-water mark (half
 * of `maxBufferedMessages` and of `maxBufferedBytes`). The `send()` that found the buffer full still
 * rejects with `buffer_overflow` (never a silent drop); the session stays open.
 *
 * - WebSocket: data and close frames arriving while paused are held, unapplied and unacknowledged,
 *   and the socket is paused (`ws.pause()`). Acks share the stream with data, so the socket is read
 *   again every {@link PROBE_MS} to let acks (and pings) in; more data is held. Held bytes past
 *   `maxBatchBytes` end the transport with 1013: the client resumes after backoff and resends what it
 *   sent from the server's ack, so nothing is lost or repeated.
 * - HTTP: a send POST carrying data while paused applies its `ack` only and is answered 503
 *   `overloaded` with `Retry-After`, its frames not applied (the client resends them).
 * The pause is local to the node that saw the overflow.
 */
import type { WebSocket } from 'ws';
import { CloseCode, type Frame } from '@burrow/shared';
import type { Store } from '../store/store.js';

/** How often a paused WebSocket is read again so acks get in (ms). */
export const PROBE_MS = 100;

export type BufferFullPolicy = 'close' | 'pause';

interface Limits {
  readonly maxBufferedMessages: number;
  readonly maxBufferedBytes: number;
}

/** Per-session pause state (on this node). */
export class InboundGate {
  #paused = false;
  #checking: Promise<void> | undefined;
  readonly #waiters = new Set<() => void>();

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  /** Called once when the gate opens again. */
  onOpen(fn: () => void): () => void {
    this.#waiters.add(fn);
    return () => this.#waiters.delete(fn);
  }

  /** After an ack: reopens when the outbound log is below the low-water mark. */
  async check(store: Store, sid: string, limits: Limits): Promise<void> {
    if (!this.#paused) return;
    this.#checking ??= (async () => {
      try {
        if (await belowLowWater(store, sid, limits)) this.#open();
      } finally {
        this.#checking = undefined;
      }
    })();
    return this.#checking;
  }

  /** Ends the pause (session over, or drained). */
  #open(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) w();
  }

  release(): void {
    this.#open();
  }
}

async function belowLowWater(store: Store, sid: string, limits: Limits): Promise<boolean> {
  const rec = await store.get(sid);
  if (!rec || rec.closed) return true;
  const lowFrames = Math.floor(limits.maxBufferedMessages / 2);
  const lowBytes = Math.floor(limits.maxBufferedBytes / 2);
  const count = rec.outSeq - rec.outAck;
  if (count > lowFrames) return false;
  if (count === 0) return true;
  const frames = await store.read(sid, rec.outAck, count, lowBytes + 1);
  let bytes = 0;
  for (const f of frames) bytes += f.size;
  const last = frames[frames.length - 1];
  return last !== undefined && last.frame.seq >= rec.outSeq && bytes <= lowBytes;
}

/** Does this batch carry anything that would be applied (as opposed to only acks and pings)? */
export function carriesData(frames: readonly Frame[]): boolean {
  return frames.some((f) => f.t === 'd' || f.t === 'close');
}

/**
 * The WebSocket side of a pause: holds sequenced frames while the gate is closed, pauses the
 * socket, probes it for acks, and replays the held frames in order once the gate opens.
 */
export class WsHold {
  readonly #ws: WebSocket;
  readonly #gate: InboundGate;
  readonly #maxHeld: number;
  readonly #apply: (frame: Frame) => void;
  readonly #held: Frame[] = [];
  #heldBytes = 0;
  #probe: NodeJS.Timeout | undefined;
  #off: (() => void) | undefined;

  constructor(ws: WebSocket, gate: InboundGate, maxHeldBytes: number, apply: (frame: Frame) => void) {
    this.#ws = ws;
    this.#gate = gate;
    this.#maxHeld = maxHeldBytes;
    this.#apply = apply;
    ws.once('close', () => this.#stop());
  }

  /** Bytes currently held (unapplied) on this socket. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** True when `frame` was held (the caller must not apply it). */
  hold(frame: Frame, size: number): boolean {
    if (frame.t !== 'd' && frame.t !== 'close') return false;
    if (!this.#gate.paused && this.#held.length === 0) return false;
    this.#held.push(frame);
    this.#heldBytes += size;
    if (this.#heldBytes > this.#maxHeld) {
      // The client keeps sending and never drains: drop the transport, not the session.
      this.#stop();
      this.#ws.close(CloseCode.TryAgainLater, 'overloaded: outbound buffer full, retry later');
      return true;
    }
    if (!this.#off) this.#off = this.#gate.onOpen(() => this.#drain());
    this.#ws.pause();
    this.#probe ??= setInterval(() => {
      // Read again briefly: acks queued behind held data get in (and may open the gate).
      this.#ws.resume();
      setImmediate(() => {
        if (this.#held.length > 0 && this.#gate.paused) this.#ws.pause();
      });
    }, PROBE_MS);
    this.#probe.unref();
    if (!this.#gate.paused) this.#drain();
    return true;
  }

  #drain(): void {
    this.#off = undefined;
    const frames = this.#held.splice(0);
    this.#heldBytes = 0;
    if (this.#probe) clearInterval(this.#probe);
    this.#probe = undefined;
    for (const f of frames) this.#apply(f);
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.resume();
  }

  #stop(): void {
    this.#off?.();
    this.#off = undefined;
    if (this.#probe) clearInterval(this.#probe);
    this.#probe = undefined;
    this.#held.length = 0;
    this.#heldBytes = 0;
  }
}
