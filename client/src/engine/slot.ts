/**
 * A transport in one of the engine's roles (live, attempt, upgrade probe) with the generation it was
 * started under. Every start takes a fresh generation and its callbacks carry it; a callback counts
 * only while its generation still holds a role, so a replaced transport's late events are ignored.
 * Moving a transport to another role (a probe that becomes live) keeps its generation.
 */
import type { Transport } from '../transports/transport.js';

export interface Slot {
  readonly gen: number;
  readonly carrier: Transport;
}

/** Whether `slot` holds the transport of generation `gen`. */
export function holds(slot: Slot | null, gen: number): slot is Slot {
  return slot?.gen === gen;
}
