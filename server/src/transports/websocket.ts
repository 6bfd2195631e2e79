/**
 * The `websocket` transport: `GET {path}/ws` with an upgrade. A new session needs no extra round trip
 * (the first message is `open`); `?sid=&token=&ack=` resumes one. Data frames use the compact
 * WebSocket encoding (no JSON); frames written here come straight from the outbound log.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { CloseCode, decodeWsMessage, encodeJsonFrame, MAX_CLOSE_REASON_BYTES, type AckFrame, type Frame, type PongFrame } from '@burrow/shared';
import { authenticateRequest } from '../http/auth.js';
import { WsHold } from './ws-hold.js';
import { ControlCoalescer } from './control.js';
import { takeHandshake } from '../http/rate-limit.js';
import { wsMessageOf } from './encoding.js';
import { isStoreFailure } from '../errors/burrow-error.js';
import { refusal, wsRefusal, wsRefusalError, type Refusal } from '../errors/refusals.js';
import { destroySocketOnError, parseAck, refusalOf, rejectSocket } from '../http/respond.js';
import type { ProtocolError } from '@burrow/shared';
import type { SessionCore } from '../session/core.js';
import { RESOLVED } from '../session/handle.js';
import type { Downstream } from '../session/types.js';
import type { SessionRegistry } from '../session/registry.js';
import type { OutboundFrame } from '../store/store.js';

/** Longest `"<seq>:"` prefix of a text data message: 16 digits and a colon. */
const MAX_TEXT_PREFIX = 17;

/** Frames per read from the log when catching a socket up. */
const BATCH_FRAMES = 1024;


/** Socket errors are answered by the close that follows them; the listener only keeps them from being fatal. */
function noop(): void {}

/**
 * The socket class `ws` builds for each upgrade, with slots for what its listeners need: they are
 * then the shared functions below, not closures made per socket.
 */
class ServedSocket extends WebSocket {
  /** The accepting transport's open sockets (see WebSocketTransport.close). */
  tracked: Set<ServedSocket> | undefined = undefined;
  /** The connection serving a session on it, once there is one. */
  conn: WsConnection | undefined = undefined;
}

/**
 * `ws` accepted the upgrade. Its socket has `ws`'s error listener now, so the one the upgrade hook
 * added (burrow.ts) goes rather than stay for the life of the connection; and the socket is tracked
 * here rather than by `ws` (clientTracking), which would add a closure and a second close listener
 * per socket.
 */
function adopt(ws: WebSocket, socket: Duplex, tracked: Set<ServedSocket>): void {
  const served = ws as ServedSocket;
  ws.on('error', noop);
  socket.removeListener('error', destroySocketOnError);
  served.tracked = tracked;
  tracked.add(served);
  ws.on('close', onClose);
}

function onMessage(this: WebSocket, raw: Buffer, isBinary: boolean): void {
  (this as ServedSocket).conn?.message(raw, isBinary);
}

function onClose(this: WebSocket): void {
  const ws = this as ServedSocket;
  ws.tracked?.delete(ws);
  ws.conn?.closed();
}

/**
 * One WebSocket serving one session: the session's downstream, and the reader of what the client
 * sends on it. Everything per socket lives in this one object (see ServedSocket).
 */
class WsConnection extends ControlCoalescer implements Downstream {
  readonly #ws: ServedSocket;
  readonly #core: SessionCore;
  readonly #reg: SessionRegistry;
  /** Created by a raced attempt: a socket that closes before the client's claim takes the session with it. */
  readonly #raced: boolean;
  /** A store call failed: this socket is done (1013) and nothing more it sent is applied. */
  #broken = false;
  /** onBufferFull 'pause': frames held while the session's outbound buffer is full (made on first need). */
  #hold: WsHold | undefined;

  constructor(ws: ServedSocket, core: SessionCore, reg: SessionRegistry, raced: boolean) {
    super();
    this.#ws = ws;
    this.#core = core;
    this.#reg = reg;
    this.#raced = raced;
    ws.conn = this;
  }

  get transport(): 'websocket' {
    return 'websocket';
  }

  get batchFrames(): number {
    return BATCH_FRAMES;
  }

  get batchBytes(): number {
    return this.#reg.options.limits.maxPollBytes;
  }

  write(frames: readonly OutboundFrame[]): void {
    for (const f of frames) this.#ws.send(wsMessageOf(f));
  }

  protected writeControl(frame: AckFrame | PongFrame, flushed: () => void): void {
    this.#ws.send(encodeJsonFrame(frame), flushed);
  }

  end(code: number, reason: string): void {
    this.#core.detach(this);
    closeSocket(this.#ws, code, reason);
  }

  /** The socket closed. */
  closed(): void {
    const core = this.#core;
    if (this.#raced && core.unclaimed) this.#reg.discard(core);
    core.detach(this);
  }

  message(raw: Buffer, isBinary: boolean): void {
    if (this.#broken) return;
    const core = this.#core;
    if (core.unclaimed) core.claimed?.();
    core.seen();
    const maxPayload = this.#reg.options.limits.maxPayload;
    const msg = isBinary ? raw : raw.toString('utf8');
    const r = decodeWsMessage(msg, { from: 'client', maxPayload });
    if (!r.ok) return this.#fail(r.error.close, `${r.error.code}: ${r.error.message}`);
    const frame = r.value;
    if (!isBinary && frame.t === 'd' && raw.length - (String(frame.seq).length + 1) > maxPayload) {
      return this.#fail(CloseCode.TooBig, `payload_too_large: payload exceeds ${maxPayload} bytes`);
    }
    if (this.#held(frame, raw.length)) return;
    this.apply(frame);
  }

  /** onBufferFull 'pause': true when `frame` was held, to be applied once the gate opens (ws-hold.ts). */
  #held(frame: Frame, size: number): boolean {
    let hold = this.#hold;
    if (!hold) {
      // Nothing can be held before the gate first closes.
      if (!this.#core.paused) return false;
      hold = this.#hold = new WsHold(this.#ws, this.#core.gate, this.#reg.options.limits.maxBatchBytes, this);
    }
    return hold.hold(frame, size);
  }

  /** Applies one client frame, in order (held frames first, see ws-hold.ts). */
  apply(frame: Frame): void {
    if (this.#broken) return;
    const core = this.#core;
    const batch = [frame];
    const now = core.inboundNow(batch, false);
    if (now) {
      if (now.error) this.#fail(now.error.close, `${now.error.code}: ${now.error.message}`);
      return;
    }
    core.inbound(batch, false).then(
      (out) => {
        if (out.error) this.#fail(out.error.close, `${out.error.code}: ${out.error.message}`);
      },
      (err: unknown) => {
        if (isStoreFailure(err)) {
          if (this.#broken) return;
          this.#broken = true;
          // The session lives on: the client resumes (with backoff) and resends from our ack.
          core.transportFailed(this, err);
          const ws = this.#ws;
          if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) closeSocket(ws, CloseCode.TryAgainLater, 'store unavailable');
          return;
        }
        this.#reg.emitError(err);
        const internal = wsRefusal(refusal('internal'));
        this.#fail(internal.code, internal.reason);
      },
    );
  }

  #fail(code: number, reason: string): void {
    if (this.#broken) return;
    const reg = this.#reg;
    void this.#core.fail(code, reason).catch((err: unknown) => reg.emitError(err));
  }
}

/** Closes a socket with a code and a reason trimmed to the wire limit; a dead link is just cut. */
function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (code === CloseCode.Abnormal || code === CloseCode.NoStatus) {
    ws.terminate();
    return;
  }
  let r = reason;
  while (Buffer.byteLength(r) > MAX_CLOSE_REASON_BYTES) r = r.slice(0, -1);
  ws.close(code, r);
}

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
      auth = await authenticateRequest(reg.options.authenticate, req);
    } catch (err) {
      // A hook that throws is the app's bug: reported, and the client told 1011 as documented.
      reg.emitError(err);
      return this.#acceptAndClose(req, socket, head, refusal('internal'));
    }
    if (socket.destroyed) return;
    if (!auth.ok) {
      return this.#acceptAndClose(req, socket, head, auth.error.status >= 500 ? refusal('internal') : auth.error);
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

  #storeUnavailable(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (socket.destroyed) return;
    this.#acceptAndClose(req, socket, head, refusal('storeUnavailable'));
  }

  async #resume(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams, offered: Set<string>, sid: string): Promise<void> {
    const reg = this.#registry;
    const ack = parseAck(query.get('ack'));
    if (ack === undefined) return this.#acceptAndClose(req, socket, head, refusal('badAck'));
    const found = await reg.resume(sid, query.get('token'));
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
    refusalOf.set(socket, { code: wsRefusalError(code, reason) as ProtocolError['code'], message: reason, status: 101, close: code });
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
    // `open` first, then whatever the client has not acknowledged, then live frames.
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
