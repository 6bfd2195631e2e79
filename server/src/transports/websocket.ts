/**
 * The `websocket` transport: `GET {path}/ws` with an upgrade. A new session needs no extra round trip
 * (the first message is `open`); `?sid=&token=&ack=` resumes one. Data frames use the compact
 * WebSocket encoding (no JSON); frames written here come straight from the outbound log.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode, encodeJsonFrame } from '@burrow/shared';
import { authenticateRequest } from '../http/auth.js';
import { takeHandshake } from '../http/rate-limit.js';
import { isStoreFailure } from '../errors/burrow-error.js';
import { refusal, wsRefusal, wsRefusalError, type Refusal } from '../errors/refusals.js';
import { parseAck, refusalOf, rejectSocket } from '../http/respond.js';
import type { ProtocolError } from '@burrow/shared';
import type { SessionCore } from '../session/core.js';
import { RESOLVED } from '../session/handle.js';
import type { SessionRegistry } from '../session/registry.js';
import { adopt, closeSocket, onMessage, ServedSocket, WsConnection } from './ws-connection.js';

/** Longest `"<seq>:"` prefix of a text data message: 16 digits and a colon. */
const MAX_TEXT_PREFIX = 17;

/** Offered subprotocols, from `Sec-WebSocket-Protocol` (the same parse `ws` does, but lenient). */
function offeredProtocols(req: IncomingMessage): Set<string> {
  const header = req.headers['sec-websocket-protocol'];
  const out = new Set<string>();
  if (typeof header !== 'string') return out;
  for (const p of header.split(',')) {
    const t = p.trim();
    if (t) out.add(t);
  }
  return out;
}

export class WebSocketTransport {
  readonly #registry: SessionRegistry;
  readonly #wss: WebSocketServer;
  /** Every socket accepted and not yet closed. */
  readonly #sockets = new Set<ServedSocket>();
  /** The subprotocol picked for each pending upgrade, handed to `ws` by its `handleProtocols`. */
  readonly #picks = new WeakMap<IncomingMessage, string | false>();

  constructor(registry: SessionRegistry) {
    this.#registry = registry;
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      WebSocket: ServedSocket,
      clientTracking: false,
      // Room for the seq prefix; the payload itself is checked exactly per message. `ws` closes 1009
      // on a larger declared length before allocating anything.
      maxPayload: registry.options.limits.maxPayload + MAX_TEXT_PREFIX,
      handleProtocols: (_protocols, req) => this.#picks.get(req) ?? false,
    });
  }

  /**
   * Handles an upgrade to `{path}/ws` (origin and path already checked). A new session with nothing to
   * wait for (no `authenticate` hook, an in-process store) is accepted, created and served within the
   * call, and a settled promise comes back: no async frames per handshake, whose garbage alone made a
   * server opening thousands of sessions grow its young generation.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#route(req, socket, head, query);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (pending === undefined) return RESOLVED;
    return pending.catch((err: unknown) => {
      if (!isStoreFailure(err)) throw err;
      this.#registry.emitError(err);
      this.#storeUnavailable(req, socket, head);
    });
  }

  /** Undefined when the upgrade was answered in this call. */
  #route(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> | undefined {
    const reg = this.#registry;
    const offered = offeredProtocols(req);
    const sid = query.get('sid');
    if (sid !== null && reg.isLost(sid)) return void this.#acceptAndClose(req, socket, head, refusal('stateLost'));
    // Draining (ops/drain.ts): the client resumes at once on another node, no fallback, no backoff.
    if (reg.draining) return void this.#acceptAndClose(req, socket, head, refusal('serviceRestart'));
    // The store is unreachable: the client retries later (1013), the session, if any, is intact.
    if (reg.storeDown) return void this.#storeUnavailable(req, socket, head);
    if (sid !== null) return this.#resume(req, socket, head, query, offered, sid);

    let pick: string | false = false;
    if (offered.size > 0) {
      pick = reg.options.handleProtocols(offered, req);
      if (pick === false || !offered.has(pick)) return void rejectSocket(socket, refusal('noProtocol'));
    }
    if (reg.full) return void this.#acceptAndClose(req, socket, head, refusal('overloaded'));
    if (reg.options.authenticate) return this.#authenticate(req, socket, head, query, pick);
    this.#accept(req, socket, head, query, pick, undefined);
    return undefined;
  }

  /**
   * Runs the `authenticate` hook. Accept-then-close 1008, unlike a refused upgrade (which a browser
   * cannot tell from a proxy refusing WebSocket, and which makes the client fall back): the client
   * sees the code and reason.
   */
  async #authenticate(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams, pick: string | false): Promise<void> {
    const reg = this.#registry;
    let auth: Awaited<ReturnType<typeof authenticateRequest>>;
    try {
      auth = await authenticateRequest(reg.options.authenticate, req, reg.options.authenticateTimeout);
    } catch (err) {
      // A hook that throws is the app's bug: reported, and the client told 1011 as documented.
      reg.emitError(err);
      return this.#acceptAndClose(req, socket, head, refusal('internal'));
    }
    if (socket.destroyed) return;
    if (this.#late(req, socket, head)) return;
    if (!auth.ok) {
      return this.#acceptAndClose(req, socket, head, auth.error);
    }
    this.#accept(req, socket, head, query, pick, auth.user);
  }

  /** A new session's upgrade, authenticated: `ws` accepts it and the session is opened on it. */
  #accept(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams, pick: string | false, user: unknown): void {
    if (!takeHandshake(this.#registry)) return this.#acceptAndClose(req, socket, head, refusal('handshakeRate'));
    this.#picks.set(req, pick);
    // The session is created only once `ws` has accepted the upgrade: a handshake `ws` refuses (bad
    // key, version, subprotocol list) never reaches this callback, so it leaves no session behind.
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      adopt(ws, socket, this.#sockets);
      this.#open(ws, pick || '', user, query);
    });
  }

  /** A new session on an accepted WebSocket: created in this call on an in-process store. */
  #open(ws: WebSocket, protocol: string, user: unknown, query: URLSearchParams): void {
    const reg = this.#registry;
    // Again, after `authenticate` and the upgrade: other handshakes may have filled the node meanwhile.
    if (reg.full) {
      const { code, reason } = wsRefusal(refusal('overloaded'));
      return closeSocket(ws, code, reason);
    }
    const raced = query.get('race') === '1';
    let created: ReturnType<SessionRegistry['createNow']>;
    try {
      created = reg.createNow(protocol, user, raced);
    } catch (err) {
      if (!isStoreFailure(err)) return reg.emitError(err);
      reg.emitError(err);
      const { code, reason } = wsRefusal(refusal('storeUnavailable'));
      return closeSocket(ws, code, reason);
    }
    if (created) return this.#opened(ws, created.core, created.token, raced, query);
    void this.#openAsync(ws, protocol, user, query, raced).catch((err: unknown) => reg.emitError(err));
  }

  /**
   * {@link #open} on a networked store. The socket is paused while the store creates the record, so
   * nothing the client sends early is read before the session exists; a client gone by then takes its
   * never-announced session with it.
   */
  async #openAsync(ws: WebSocket, protocol: string, user: unknown, query: URLSearchParams, raced: boolean): Promise<void> {
    const reg = this.#registry;
    ws.pause();
    let created: Awaited<ReturnType<SessionRegistry['create']>>;
    try {
      created = await reg.create(protocol, user, raced);
    } catch (err) {
      if (!isStoreFailure(err)) throw err;
      reg.emitError(err);
      const { code, reason } = wsRefusal(refusal('storeUnavailable'));
      closeSocket(ws, code, reason);
      return;
    }
    this.#opened(ws, created.core, created.token, raced, query);
    ws.resume();
  }

  /** The session exists: announced (or left for the client's claim) and served. */
  #opened(ws: WebSocket, core: SessionCore, token: string, raced: boolean, query: URLSearchParams): void {
    const reg = this.#registry;
    if (ws.readyState !== ws.OPEN) return reg.discard(core);
    const announce = (): void => {
      // `connection` first, so the app hears of the session before any `transport` or `message`.
      reg.announce(core);
      reg.lifecycle?.attached(core.handle, 'websocket', query);
    };
    if (!raced) announce();
    else {
      // A raced attempt (docs/PROTOCOL.md, "Racing transports"): the client's first frame on this
      // socket claims the session; a socket that closes before it (the client chose the other
      // attempt, code 4010, or vanished) takes the never-announced session with it.
      core.claimed = () => {
        if (!core.unclaimed) return;
        core.unclaimed = false;
        core.claimed = undefined;
        announce();
        // Recorded in the store (activity 0 -> 1, and the full resume window instead of the claim
        // window), so that no later request of the session, on any node, counts as its claim again.
        reg.store.touch(core.id, reg.options.resumeWindow, true).catch((err: unknown) => reg.emitError(err));
      };
    }
    this.#serve(ws, core, token, false, 0, 0, raced);
  }

  /**
   * The node began to close or drain while this upgrade waited (`authenticate`, the store): refused
   * as the upgrade route refuses then. Closing, `ws` takes no more upgrades, so it is an HTTP 503
   * with the JSON body; draining, accepted and closed 1012 so the client resumes elsewhere at once.
   */
  #late(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const shut = this.#registry.shutRefusal();
    if (shut === 'goingAway') rejectSocket(socket, refusal(shut));
    else if (shut) this.#acceptAndClose(req, socket, head, refusal(shut));
    return shut !== undefined;
  }

  #storeUnavailable(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (socket.destroyed) return;
    this.#acceptAndClose(req, socket, head, refusal('storeUnavailable'));
  }

  async #resume(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams, offered: Set<string>, sid: string): Promise<void> {
    const reg = this.#registry;
    const ack = parseAck(query.get('ack'));
    if (ack === undefined) return this.#acceptAndClose(req, socket, head, refusal('badAck'));
    const found = await reg.resume(sid, query.get('token'));
    if (socket.destroyed || this.#late(req, socket, head)) return;
    if (!found) return this.#acceptAndClose(req, socket, head, refusal('sessionUnknown'));
    const { core, record } = found;
    this.#picks.set(req, record.protocol !== '' && offered.has(record.protocol) ? record.protocol : false);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      adopt(ws, socket, this.#sockets);
      reg.lifecycle?.attached(core.handle, 'websocket', query);
      this.#serve(ws, core, query.get('token') ?? '', true, ack, record.outSeq);
    });
  }

  /**
   * Refusals that the client must tell apart from a refused upgrade (which means "try another
   * transport") complete the upgrade and close with a code.
   */
  #acceptAndClose(req: IncomingMessage, socket: Duplex, head: Buffer, err: ProtocolError | Refusal): void {
    const { code, reason } = wsRefusal(err);
    this.#picks.set(req, false);
    refusalOf.set(socket, { code: wsRefusalError(code, reason) as ProtocolError['code'], message: reason, status: 101, close: code, ...('limit' in err && err.limit ? { limit: err.limit } : {}) });
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      // `ws` keeps reading until the client answers our close; a frame it rejects meanwhile (reserved
      // bits, invalid UTF-8, an over-long length) is an 'error' event, which must never go unheard.
      adopt(ws, socket, this.#sockets);
      closeSocket(ws, code, reason);
    });
  }

  #serve(ws: WebSocket, core: SessionCore, token: string, resumed: boolean, clientAck: number, outSeq: number, raced = false): void {
    const reg = this.#registry;
    const conn = new WsConnection(ws as ServedSocket, core, reg, raced);
    // `open` first, then whatever the client has not acknowledged, then live frames: in one write.
    conn.cork();
    ws.send(encodeJsonFrame(reg.openFrame(core, token, resumed, core.inAck)));
    void core.attach(conn, clientAck, outSeq).catch((err: unknown) => reg.emitError(err));
    ws.on('message', onMessage);
  }

  /** Closes every socket (the sessions were already told) and waits for them to go. */
  async close(): Promise<void> {
    const pending = [...this.#sockets].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          // A peer that never answers the close handshake is cut. Not unref()'d: close() waits on
          // it, and an unref()'d timer would let the process idle out with close() never settling.
          const cut = setTimeout(() => ws.terminate(), 1000);
          ws.once('close', () => {
            clearTimeout(cut);
            resolve();
          });
          if (ws.readyState === ws.OPEN) ws.close(CloseCode.GoingAway, 'server going away');
        }),
    );
    await Promise.all(pending);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
