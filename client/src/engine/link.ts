/**
 * Whether a transport carries the session right now. The only moves: connecting to open or closed,
 * open to reconnecting or closed, reconnecting to open or closed; closed is final. The engine checks
 * the state it leaves before each move.
 */
export type LinkState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The link state the engine moves and its attempts read. */
export interface Link {
  state: LinkState;
}
