/**
 * Unsequenced control frames (acks and pongs) on a streaming downstream. They are not in the session's
 * outbound log, so nothing there bounds them: a client that floods pings and never reads its stream
 * would otherwise have a pong per ping pile up in the socket's buffer (BAD-INPUTS 33). Each kind has
 * at most one frame written but not yet flushed to the socket; later ones while it waits are merged
 * into one owed frame (a pong answers any number of pings, a cumulative ack supersedes older ones) and
 * written when the first is flushed. A reader that keeps up sees no difference.
 *
 * A base class of the downstreams rather than an object of their own: its state is four fields in the
 * downstream, and an idle session keeps no callback for it (one is made per control write, and
 * dropped once the socket flushed it).
 */
import type { AckFrame, PongFrame } from '@burrow/shared';

export abstract class ControlCoalescer {
  #pongWaiting = false;
  #pongOwed = false;
  #ackWaiting = false;
  /** Highest ack owed, or -1. */
  #ackOwed = -1;

  /** Writes one control frame and calls `flushed` once it has left the process's buffers. */
  protected abstract writeControl(frame: AckFrame | PongFrame, flushed: () => void): void;

  /** Writes an unsequenced frame, or merges it into the one owed (see above). */
  control(frame: AckFrame | PongFrame): void {
    if (frame.t === 'pong') {
      if (this.#pongWaiting) {
        this.#pongOwed = true;
        return;
      }
      this.#pongWaiting = true;
      this.writeControl(frame, () => this.#pongFlushed());
      return;
    }
    if (this.#ackWaiting) {
      if (frame.ack > this.#ackOwed) this.#ackOwed = frame.ack;
      return;
    }
    this.#ackWaiting = true;
    this.writeControl(frame, () => this.#ackFlushed());
  }

  #pongFlushed(): void {
    this.#pongWaiting = false;
    if (!this.#pongOwed) return;
    this.#pongOwed = false;
    this.control({ t: 'pong' });
  }

  #ackFlushed(): void {
    this.#ackWaiting = false;
    const owed = this.#ackOwed;
    if (owed < 0) return;
    this.#ackOwed = -1;
    this.control({ t: 'ack', ack: owed });
  }
}
