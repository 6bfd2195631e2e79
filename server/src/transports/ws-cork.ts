/**
 * One write per socket per turn. Whatever the server writes to a WebSocket in one turn of the event
 * loop (the app's answers to every message of one read, the ack after them, a resume's backlog) goes
 * out in one `writev` at the end of that turn, not one per frame: the syscall was the largest cost
 * per echo in a server profile (issue #12). `ws` writes each frame's header and payload under its own
 * cork/uncork; corks nest, so those frames wait for ours, and each frame keeps its own opcode (a
 * binary message stays binary). Nothing is delayed past the turn: the flush is a `process.nextTick`,
 * which runs once the callback that wrote (a socket read, a timer) returns, before any I/O.
 */

/** The part of `net.Socket` (Writable) this needs. */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Something whose socket is corked until the end of the turn. */
export interface TurnCorked {
  /** Uncorks the socket it corked (called once per {@link corkForTurn} that returned true). */
  uncorkTurn(): void;
  /**
   * `uncorkTurn` threw: this connection alone is cut (and the error reported); every other socket
   * of the turn still goes out, and the process, which runs this from `process.nextTick`, lives on.
   */
  turnFailed(err: unknown): void;
}

/** Corked this turn, in the order they were corked. */
let pending: TurnCorked[] = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  // A write made while flushing (a write callback's control frame) corks for a turn of its own.
  const list = pending;
  pending = [];
  // An app 'error' listener that throws must not leave the turn's later sockets corked: its throw
  // goes on once every socket is uncorked.
  let rethrow: { err: unknown } | undefined;
  for (let i = 0; i < list.length; i++) {
    const owner = list[i]!;
    try {
      owner.uncorkTurn();
    } catch (err) {
      try {
        owner.turnFailed(err);
      } catch (listenerErr) {
        rethrow ??= { err: listenerErr };
      }
    }
  }
  if (rethrow) throw rethrow.err;
}

/**
 * Corks `socket` until the end of this turn; `owner.uncorkTurn()` is then called once, and must
 * uncork it. The caller keeps its own "corked" flag and calls this only when it is clear, so each
 * socket is corked at most once per turn.
 */
export function corkForTurn(socket: Corkable, owner: TurnCorked): void {
  socket.cork();
  pending.push(owner);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flush);
  }
}

/** `ws` keeps the accepted socket on `_socket` (not in its types). */
export function socketOf(ws: object): Corkable | undefined {
  return (ws as { _socket?: Corkable | null })._socket ?? undefined;
}
