/**
 * Node with the `ws` package: the WebSocket sends of one I/O phase leave the socket in one write.
 * `ws` writes each message under a cork of its own and uncorks it at once, so every send was a
 * `writev` of its own: in the bench's closed-loop echo, a quarter of the load process's time
 * (bench/README.md, "The Node client's WebSocket writes"). The first send of a phase corks the socket
 * and one setImmediate for the whole process uncorks every socket corked meanwhile, as the server
 * does per turn (server/src/transports/ws-cork.ts). Corks nest, so `ws`'s own wait for ours.
 *
 * A WebSocket without `ws`'s `_socket` (Node 22's global one, an app's) is left as it is. Node-only:
 * the browser bundle never reaches it (websocket.ts checks BROWSER_BUNDLE).
 */
import { afterSends } from './dom.js';

interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Sockets corked in this phase, each with what its transport does once its writes are out. */
const corked = new Map<Corkable, () => void>();

/**
 * Corks `ws`'s socket until the end of this I/O phase, if it is `ws`'s and not corked yet; then
 * `uncorked` runs, right after the write (a later task than the sends, as a browser has it).
 */
export function corkForPhase(ws: unknown, uncorked: () => void): void {
  const sock = (ws as { _socket?: Corkable | null })._socket;
  // Only `ws`'s socket: an app's WebSocket may have a `_socket` of another kind.
  if (typeof sock?.cork !== 'function' || corked.has(sock)) return;
  sock.cork();
  if (corked.size === 0) afterSends(uncorkAll);
  corked.set(sock, uncorked);
}

function uncorkAll(): void {
  // Every socket is uncorked, and the map emptied (the next phase's first send schedules its own
  // uncork), before any callback runs: one that throws must not leave a socket corked for good.
  const all = [...corked];
  corked.clear();
  for (const [sock] of all) sock.uncork();
  for (const [, uncorked] of all) uncorked();
}
