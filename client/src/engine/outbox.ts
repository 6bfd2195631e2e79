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

/** See {@link createOutbox}. */
export type Outbox = ReturnType<typeof createOutbox>;

/** A closure rather than a class, for the bundle size: see docs/ARCHITECTURE.md, "Closures, not classes". */
export function createOutbox() {
  let next = 1;
  let queue: OutEntry[] = [];
  /** Index of the first entry the server has not acknowledged. */
  let first = 0;
  let peerAck = 0;
  let totalCum = 0;
  let writtenCum = 0;
  let writtenSeq = 0;

  /** Payload bytes queued that no transport has written yet. */
  const bufferedAmount = (): number => {
    return totalCum - writtenCum;
  };

  /** Takes the seq of the next sequenced frame. */
  const nextSeq = (): number => {
    return next++;
  };

  /** Queues a sequenced frame whose payload is `size` bytes (0 for a close frame). */
  const push = (frame: SequencedFrame, size: number): void => {
    totalCum += size;
    queue.push({ frame, cum: totalCum });
  };

  /** Every frame the server has not acknowledged, in order: what a resume sends again. */
  const unacked = (): SequencedFrame[] => {
    return queue.slice(first).map((e) => e.frame);
  };

  /** Frames up to `seq` have left; false when that was known already. */
  const written = (seq: number): boolean => {
    if (seq <= writtenSeq) return false;
    const e = entryOf(seq);
    if (e) writtenCum = Math.max(writtenCum, e.cum);
    writtenSeq = seq;
    return true;
  };

  /** Whether `ack` acknowledges more than before. One beyond what we sent is a confused peer: trusting it would drop unsent frames. */
  const isNewAck = (ack: number): boolean => {
    return ack > peerAck && ack < next;
  };

  /** The server holds every frame up to `ack`: they need never be sent again. */
  const release = (ack: number): void => {
    peerAck = ack;
    while ((queue[first]?.frame.seq ?? Infinity) <= ack) first++;
    if (first > 1024 && first * 2 > queue.length) {
      queue = queue.slice(first);
      first = 0;
    }
  };

  /** The entry holding `seq`, if still unacknowledged. */
  const entryOf = (seq: number): OutEntry | undefined => {
    const head = queue[first];
    return head ? queue[first + seq - head.frame.seq] : undefined;
  };
  // Functions only, no getter: see acks.ts.
  return { bufferedAmount, nextSeq, push, unacked, written, isNewAck, release };
}
