/**
 * The client's sequenced frames (data and close), from the moment they are queued until the server
 * acknowledges them: their seqs, what a resume must resend, and the byte counts behind
 * `bufferedAmount`. Seqs are contiguous, so a frame's place follows from its seq.
 */
import type { SequencedFrame } from '@burrow/shared';

interface OutEntry {
  readonly frame: SequencedFrame;
  /** Payload bytes of every frame up to and including this one, for bufferedAmount. */
  readonly cum: number;
}

export class Outbox {
  #nextSeq = 1;
  #entries: OutEntry[] = [];
  /** Index of the first entry the server has not acknowledged. */
  #head = 0;
  #peerAck = 0;
  #totalCum = 0;
  #writtenCum = 0;
  #writtenSeq = 0;

  /** Payload bytes queued that no transport has written yet. */
  get bufferedAmount(): number {
    return this.#totalCum - this.#writtenCum;
  }

  /** Takes the seq of the next sequenced frame. */
  nextSeq(): number {
    return this.#nextSeq++;
  }

  /** Queues a sequenced frame whose payload is `size` bytes (0 for a close frame). */
  push(frame: SequencedFrame, size: number): void {
    this.#totalCum += size;
    this.#entries.push({ frame, cum: this.#totalCum });
  }

  /** Every frame the server has not acknowledged, in order: what a resume sends again. */
  unacked(): SequencedFrame[] {
    return this.#entries.slice(this.#head).map((e) => e.frame);
  }

  /** Frames up to `seq` have left; false when that was known already. */
  written(seq: number): boolean {
    if (seq <= this.#writtenSeq) return false;
    const e = this.#entry(seq);
    if (e) this.#writtenCum = Math.max(this.#writtenCum, e.cum);
    this.#writtenSeq = seq;
    return true;
  }

  /** Whether `ack` acknowledges more than before. One beyond what we sent is a confused peer: trusting it would drop unsent frames. */
  isNewAck(ack: number): boolean {
    return ack > this.#peerAck && ack < this.#nextSeq;
  }

  /** The server holds every frame up to `ack`: they need never be sent again. */
  release(ack: number): void {
    this.#peerAck = ack;
    while ((this.#entries[this.#head]?.frame.seq ?? Infinity) <= ack) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The entry holding `seq`, if still unacknowledged. */
  #entry(seq: number): OutEntry | undefined {
    const head = this.#entries[this.#head];
    return head ? this.#entries[this.#head + seq - head.frame.seq] : undefined;
  }
}
