/**
 * `onBufferFull: 'pause'`: instead of closing a session whose outbound buffer is full (4003), the
 * node stops reading from it until the client's acks drain the buffer below the low-water mark (half
 * of `maxBufferedMessages` and of `maxBufferedBytes`). The `send()` that found the buffer full still
 * rejects with `buffer_overflow` (never a silent drop); the session stays open.
 *
 * - WebSocket: data and close frames arriving while paused are held, unapplied and unacknowledged,
 *   and the socket is paused (`ws.pause()`). Acks share the stream with data, so the socket is read
 *   again now and then to let acks (and pings) in (transports/ws-hold.ts); more data is held. Held bytes past
 *   `maxBatchBytes` end the transport with 1013: the client resumes after backoff and resends what it
 *   sent from the server's ack, so nothing is lost or repeated.
 * - HTTP: a send POST carrying data while paused applies its `ack` only and is answered 503
 *   `overloaded` with `Retry-After`, its frames not applied (the client resends them).
 * The pause is local to the node that saw the overflow.
 */
import type { Frame } from '@burrow/shared';
import type { Store } from '../store/store.js';

export type BufferFullPolicy = 'close' | 'pause';

interface Limits {
  readonly maxBufferedMessages: number;
  readonly maxBufferedBytes: number;
}

/** Per-session pause state (on this node). */
export class InboundGate {
  #paused = false;
  #checking: Promise<void> | undefined;
  /** Made by the first `onOpen`: most sessions never pause. */
  #waiters: Set<() => void> | undefined;

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  /** Called once when the gate opens again. */
  onOpen(fn: () => void): () => void {
    const waiters = (this.#waiters ??= new Set());
    waiters.add(fn);
    return () => waiters.delete(fn);
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
    const waiters = this.#waiters;
    if (!waiters) return;
    const ws = [...waiters];
    waiters.clear();
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
