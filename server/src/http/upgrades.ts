/**
 * The one `upgrade` listener per `http.Server`, shared by every Burrow attached to it. Each Burrow
 * listening on its own would leave an upgrade to a path none serves unanswered as soon as there are
 * two (each took the other for "another listener" whose business it was), and its socket open for
 * good. Here a WebSocket upgrade goes to the Burrows in the order they were attached, and the first
 * whose mount path holds it answers it. Anything else, when no listener that is not Burrow's is there
 * to take it, gets exactly one answer here:
 * - a WebSocket upgrade under no Burrow's path: 400;
 * - another protocol (`Upgrade: h2c`, which a server may ignore, RFC 9113 §3.2) without a body: the
 *   app's `request` listeners answer it as a plain request, as Node does when no one listens for
 *   upgrades (Burrow's own routes refuse it with 400), then the connection closes (Node has already
 *   let go of its parser);
 * - such an upgrade with a body (it cannot be handed on: Node left the body unparsed): 400.
 */
import { type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { refusal } from '../errors/refusals.js';
import { destroySocketOnError, hasBody, rejectSocket } from './respond.js';

/** One Burrow's part in a server's upgrades. */
export interface UpgradeRoute {
  /** Answers the WebSocket upgrade and returns true when it is under this Burrow's mount path; else false. */
  take(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

type Listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const shared = new WeakMap<Server, { readonly routes: Set<UpgradeRoute>; readonly listener: Listener }>();

/** Does the request ask for WebSocket (`Upgrade` lists it)? */
function isWebSocket(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/** Adds `route` to `server`'s upgrades, installing the shared listener with the first. */
export function addUpgradeRoute(server: Server, route: UpgradeRoute): void {
  let entry = shared.get(server);
  if (!entry) {
    const routes = new Set<UpgradeRoute>();
    const listener: Listener = (req, socket, head) => {
      const ws = isWebSocket(req);
      if (ws) for (const r of routes) if (r.take(req, socket, head)) return;
      // Another listener's upgrade is its own business, its socket included.
      if (server.listenerCount('upgrade') > 1) return;
      // Node hands an upgrade's socket over with no 'error' listener of its own: a reset while the
      // refusal is written would otherwise be an uncaught 'error' that ends the process.
      socket.on('error', destroySocketOnError);
      if (ws) return rejectSocket(socket, refusal('badRequest', 'no WebSocket endpoint here'));
      if (hasBody(req) || server.listenerCount('request') === 0) return rejectSocket(socket, refusal('badRequest', 'upgrade not supported'));
      answerAsRequest(server, req, socket);
    };
    entry = { routes, listener };
    shared.set(server, entry);
    server.on('upgrade', listener);
  }
  entry.routes.add(route);
}

/** Hands an upgrade nobody takes to the app's `request` listeners, on a response that closes the connection. */
function answerAsRequest(server: Server, req: IncomingMessage, socket: Duplex): void {
  const res = new ServerResponse(req);
  // No parser reads the connection any more: one answer, then it closes.
  res.shouldKeepAlive = false;
  res.on('error', () => socket.destroy());
  res.assignSocket(socket as Parameters<ServerResponse['assignSocket']>[0]);
  res.on('finish', () => {
    const s = socket as Duplex & { destroySoon?: () => void };
    if (typeof s.destroySoon === 'function') s.destroySoon();
    else s.end();
  });
  server.emit('request', req, res);
}

/** Removes `route`; the shared listener goes with the last one. */
export function removeUpgradeRoute(server: Server, route: UpgradeRoute): void {
  const entry = shared.get(server);
  if (!entry?.routes.delete(route) || entry.routes.size > 0) return;
  server.off('upgrade', entry.listener);
  shared.delete(server);
}
