/**
 * Unsequenced control frames (acks and pongs) on a streaming downstream. They are not in the session's
 * outbound log, so nothing there bounds them: a client that floods pings and never reads its stream
 * would otherwise have a pong per ping pile up in the socket's buffer (BAD-INPUTS 33). Each kind has
 * at most one frame written but not yet flushed to the socket; later ones while it waits are merged
 * into one owed frame (a pong answers any number of pings, a cumulative ack supersedes older ones) and
 * written when the first is flushed. A reader that keeps up sees no difference.
 *
 * A base class of the downstreams rather than an object of their own: its state is two fields in the
 * downstream (the three booleans share one), and an idle session keeps no callback for it (one is made
 * per control write, and dropped once the socket flushed it). Its helper methods are TypeScript
 * `private`, not `#`: V8 gives every instance of a class with `#` methods a brand field, 8 bytes per
 * session.
 */
import type { AckFrame, PongFrame } from '@burrow/shared';

/** Bits of `ControlCoalescer.#waits`: a pong (an ack) written and not yet flushed; a pong owed after it. */
const PONG_WAITING = 1;
const PONG_OWED = 2;
const ACK_WAITING = 4;

export abstract class ControlCoalescer {
  /** See the bits above. */
  #waits = 0;
  /** Highest ack owed, or -1. */
  #ackOwed = -1;

  /** Writes one control frame and calls `flushed` once it has left the process's buffers. */
  protected abstract writeControl(frame: AckFrame | PongFrame, flushed: () => void): void;

  /** Writes an unsequenced frame, or merges it into the one owed (see above). */
  control(frame: AckFrame | PongFrame): void {
    if (frame.t === 'pong') {
      if (this.#waits & PONG_WAITING) {
        this.#waits |= PONG_OWED;
        return;
      }
      this.#waits |= PONG_WAITING;
      this.writeControl(frame, () => this.pongFlushed());
      return;
    }
    if (this.#waits & ACK_WAITING) {
      if (frame.ack > this.#ackOwed) this.#ackOwed = frame.ack;
      return;
    }
    this.#waits |= ACK_WAITING;
    this.writeControl(frame, () => this.ackFlushed());
  }

  private pongFlushed(): void {
    const owed = (this.#waits & PONG_OWED) !== 0;
    this.#waits &= ~(PONG_WAITING | PONG_OWED);
    if (!owed) return;
    this.control({ t: 'pong' });
  }

  private ackFlushed(): void {
    this.#waits &= ~ACK_WAITING;
    const owed = this.#ackOwed;
    if (owed < 0) return;
    this.#ackOwed = -1;
    this.control({ t: 'ack', ack: owed });
  }
}
