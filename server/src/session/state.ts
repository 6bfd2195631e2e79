/**
 * The state of one session as this node sees it, and the only moves it may make. `SessionCore`
 * changes state through {@link transition} alone, so an illegal move throws at the line that tried it
 * instead of leaving a core half closed.
 *
 * The close handshake (RFC 6455 style: each side sends one close frame; the store's `appendClose`
 * decides which one was first, across nodes):
 *
 *   open ── server close()/fail(), ours first ──► closing ── client's echo (here) ──► closed
 *    │      our close frame queued; a timer            │      or fail()                  ▲
 *    │      ends the downstream after closeLinger      │                                 │
 *    │      if no echo comes (state stays closing)     └─────────────────────────────────┘
 *    │
 *    ├── client's close frame, first: emit `close`, queue our echo ─────────────────────► closed
 *    │
 *    └── the store says it is over: another node closed it, it expired, the store lost
 *        it or never had it ──► ended ── our close turns out first ──► closing
 *                                 └───── client's echo of our close, or fail() ──► closed
 *
 * - `closing`: our close frame is out; the client's echo completes the handshake.
 * - `closed`: both close frames exchanged here; the downstream ends once our last frame is written.
 * - `ended`: closed, but not by a handshake this node runs; the node that runs it ends the transport.
 * `closed` is final. Disposal (timers stopped, core forgotten) is node-local housekeeping and no state:
 * a draining node disposes open sessions that live on elsewhere.
 */

export type SessionState = 'open' | 'closing' | 'closed' | 'ended';

/** Legal moves. Staying in a state is not a move (callers check first). */
export const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  open: ['closing', 'closed', 'ended'],
  closing: ['closed'],
  // Our local view lagged the store: the store, which decides, may still call our close the first.
  ended: ['closing', 'closed'],
  closed: [],
};

/** Returns `to` if `from -> to` is legal; throws otherwise (a bug, never a peer's doing). */
export function transition(from: SessionState, to: SessionState): SessionState {
  if (!TRANSITIONS[from].includes(to)) throw new Error(`burrow: illegal session state change ${from} -> ${to}`);
  return to;
}
