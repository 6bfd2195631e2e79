/**
 * Whether a transport carries the session right now. The only moves: connecting to open or closed,
 * open to reconnecting or closed, reconnecting to open or closed; closed is final. They go through
 * {@link moveLink}, which throws on any other.
 */
export type LinkState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The link state the engine moves and its attempts read. */
export interface Link {
  state: LinkState;
}

/** Moves `link` to `next` (staying put is no move), or throws when the diagram above has no such move. */
export function moveLink(link: Link, next: LinkState): void {
  const from = link.state;
  if (next === from) return;
  if (from === 'closed' || next === 'connecting' || (from === 'connecting' && next === 'reconnecting')) {
    throw new Error(`illegal link move ${from} -> ${next}`);
  }
  link.state = next;
}
