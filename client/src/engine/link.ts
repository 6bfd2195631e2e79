/**
 * Whether a transport carries the session right now. The only moves: connecting to open or closed,
 * open to reconnecting or closed, reconnecting to open or closed; closed is final. They go through
 * {@link moveLink}, which throws on any other.
 *
 * The states are numbers, not strings: every comparison with one ships in the browser bundle, and a
 * digit is shorter than a word (issue #16). {@link LINK_STATE_NAMES} names them for people.
 */
export const CONNECTING = 0;
export const OPEN = 1;
export const RECONNECTING = 2;
export const CLOSED = 3;
export type LinkState = typeof CONNECTING | typeof OPEN | typeof RECONNECTING | typeof CLOSED;

/** The states' names, by number: for tests and messages outside the bundle. */
export const LINK_STATE_NAMES = ['connecting', 'open', 'reconnecting', 'closed'] as const;

/** The link state the engine moves and its attempts read. */
export interface Link {
  state: LinkState;
}

/**
 * Moves `link` to `next` (staying put is no move), or throws when the diagram above has no such move.
 * The message gives the states' numbers (see {@link LINK_STATE_NAMES}): it reports an engine bug.
 */
export function moveLink(link: Link, next: LinkState): void {
  const from = link.state;
  if (next === from) return;
  if (from === CLOSED || next === CONNECTING || (from === CONNECTING && next === RECONNECTING)) {
    throw new Error(`illegal link move ${from} -> ${next}`);
  }
  link.state = next;
}
