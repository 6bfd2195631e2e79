/**
 * The fields of a SessionCore that are not plain per-session state: the side object made on first
 * need, and the bits of its one flags field. Apart from core.ts because what an idle session costs
 * (issue #12) is decided here: every field of the core is kept by every session.
 */
import type { InboundGate } from './backpressure.js';
import type { OutageHold } from './outage-hold.js';

/**
 * Per-session state most sessions never need, made on first use (see SessionCore): every field
 * of the core is kept by every idle session, and at 10,000 of them each 8 bytes is 80 KB.
 */
export interface CoreExtras {
  /** See SessionCore's `gate`: made by the first pause. */
  gate: InboundGate | undefined;
  /** Armed in `closing`: ends the downstream if the client never echoes our close. */
  closeTimer: NodeJS.Timeout | undefined;
  /**
   * `send()`s held through a store outage, in order (see outage-hold.ts). Made by the first send
   * that goes through the store's async path: a session on the in-process store never needs one.
   */
  hold: OutageHold | undefined;
  /** See SessionCore's `claimed`. */
  claimed: (() => void) | undefined;
}

/** Bits of the core's `flags` (core-flags.ts). */
export const UNCLAIMED = 1;
export const ANNOUNCED = 2;
/**
 * This node attached the session's latest downstream (no other node's `attach` heard since): the
 * one node that speaks for the session when no store can decide, as when the store lost its state.
 */
export const LAST_OWNER = 4;
/** A ping arrived while no downstream was attached here: answer it on the next one. */
export const PENDING_PONG = 8;
/**
 * Created on this node and `connection` not emitted yet (an SSE handshake's stream attaches first; a
 * raced session waits for its claim): its `transport` event waits for `connection`, and a raced
 * session discarded unclaimed emits neither.
 */
export const UNANNOUNCED = 16;

/** A side object with nothing in it yet, every field present (one shape for all of them). */
export function newExtras(): CoreExtras {
  return { gate: undefined, closeTimer: undefined, hold: undefined, claimed: undefined };
}
