/**
 * Unsequenced control frames (acks and pongs) on a streaming downstream. They are not in the session's
 * outbound log, so nothing there bounds them: a client that floods pings and never reads its stream
 * would otherwise have a pong per ping pile up in the socket's buffer (BAD-INPUTS 33). Each kind has
 * at most one frame written but not yet flushed to the socket; later ones while it waits are merged
 * into one owed frame (a pong answers any number of pings, a cumulative ack supersedes older ones) and
 * written when the first is flushed. A reader that keeps up sees no difference.
 */
import type { AckFrame, PongFrame } from '@burrow/shared';

/** Writes one control frame and calls `flushed` once it has left the process's buffers. */
export type ControlWriter = (frame: AckFrame | PongFrame, flushed: () => void) => void;

export class ControlCoalescer {
  readonly #write: ControlWriter;
  #pongWaiting = false;
  #pongOwed = false;
  #ackWaiting = false;
  /** Highest ack owed, or -1. */
  #ackOwed = -1;

  constructor(write: ControlWriter) {
    this.#write = write;
  }

  send(frame: AckFrame | PongFrame): void {
    if (frame.t === 'pong') {
      if (this.#pongWaiting) {
        this.#pongOwed = true;
        return;
      }
      this.#pongWaiting = true;
      this.#write(frame, this.#pongFlushed);
      return;
    }
    if (this.#ackWaiting) {
      if (frame.ack > this.#ackOwed) this.#ackOwed = frame.ack;
      return;
    }
    this.#ackWaiting = true;
    this.#write(frame, this.#ackFlushed);
  }

  readonly #pongFlushed = (): void => {
    this.#pongWaiting = false;
    if (!this.#pongOwed) return;
    this.#pongOwed = false;
    this.send({ t: 'pong' });
  };

  readonly #ackFlushed = (): void => {
    this.#ackWaiting = false;
    const owed = this.#ackOwed;
    if (owed < 0) return;
    this.#ackOwed = -1;
    this.send({ t: 'ack', ack: owed });
  };
}
