/**
 * `onBufferFull: 'pause'` on a WebSocket (see session/backpressure.ts for the policy): frames that
 * arrive while the session's gate is closed are held here, unapplied, and replayed in order when it
 * opens.
 */
import type { WebSocket } from 'ws';
import { CloseCode, type Frame } from '@burrow/shared';
import type { InboundGate } from '../session/backpressure.js';

/** How often a paused WebSocket is read again so acks get in (ms). */
export const PROBE_MS = 100;

/** Where held frames go once the gate opens: the connection that read them. */
export interface HoldTarget {
  apply(frame: Frame): void;
  /** The socket is paused for frames read ahead of the store (limits.maxInboundPendingBytes): not ours to resume. */
  readingHeldBack(): boolean;
}

/**
 * The WebSocket side of a pause: holds sequenced frames while the gate is closed, pauses the
 * socket, probes it for acks, and replays the held frames in order once the gate opens. Made the
 * first time a session's gate is found closed, so a session that never pauses has none.
 */
export class WsHold {
  readonly #ws: WebSocket;
  readonly #gate: InboundGate;
  readonly #maxHeld: number;
  readonly #target: HoldTarget;
  readonly #held: Frame[] = [];
  #heldBytes = 0;
  #probe: NodeJS.Timeout | undefined;
  #off: (() => void) | undefined;

  constructor(ws: WebSocket, gate: InboundGate, maxHeldBytes: number, target: HoldTarget) {
    this.#ws = ws;
    this.#gate = gate;
    this.#maxHeld = maxHeldBytes;
    this.#target = target;
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
      // Read again briefly: acks queued behind held data get in (and may open the gate). Not while
      // the store is behind on what was read already: its answers resume the socket.
      if (this.#target.readingHeldBack()) return;
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
    for (const f of frames) this.#target.apply(f);
    if (this.#ws.readyState === this.#ws.OPEN && !this.#target.readingHeldBack()) this.#ws.resume();
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
