/**
 * The pure pieces of the inbound path (inbound.ts): the runs of data frames offered to the store in
 * one call (group commit), and the error a frame that breaks the protocol ends its batch with.
 */
import { CloseCode, type Frame, type ProtocolError, type SequencedFrame } from '@burrow/shared';
import { protocolError } from '../errors/refusals.js';

/** A client frame that breaks the protocol: the batch stops here (400 / close 1002). */
export function badFrame(code: 'bad_seq' | 'bad_frame', message: string): ProtocolError {
  return protocolError(code, message, 400, CloseCode.ProtocolError);
}

/** Most frames offered to the store in one `acceptInboundBatch` (one script's arguments). */
export const ACCEPT_RUN_MAX = 256;

/** The data frames from `frames[i]` on, up to the first other frame or ACCEPT_RUN_MAX. */
export function dataRun(frames: readonly Frame[], i: number): Extract<SequencedFrame, { t: 'd' }>[] {
  const run: Extract<SequencedFrame, { t: 'd' }>[] = [];
  for (let j = i; j < frames.length && run.length < ACCEPT_RUN_MAX; j++) {
    const f = frames[j]!;
    if (f.t !== 'd') break;
    run.push(f);
  }
  return run;
}
