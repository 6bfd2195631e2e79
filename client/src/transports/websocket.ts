/**
 * The `websocket` transport: `GET P/ws` with upgrade (`?sid&token&ack` to resume). The first server
 * message must be `open`; until it arrives the transport is not up, so a proxy that accepts the
 * upgrade but never delivers a frame is caught by the open timeout.
 */
import { ACK_DELAY, encodeWsFrame, type Frame, readWsMessage, type WsMessage } from '@burrow/shared';
import { ABNORMAL, INVALID_PAYLOAD, POLICY, PROTOCOL_ERROR, SERVICE_RESTART, SESSION_UNKNOWN, STATE_LOST, TOO_BIG, TRY_AGAIN_LATER, UNSUPPORTED, UNSUPPORTED_VERSION } from '../close-codes.js';
import type { WebSocketConstructor, WebSocketLike } from '../types.js';
import { TransportBase } from './base.js';
import { endpointUrl } from './http.js';
import { DOWN_FATAL, DOWN_OVERLOADED, DOWN_RESTART, DOWN_TIMEOUT, type DownReason, FAILED, TIMEOUT, type TransportContext, type TransportHandlers } from './transport.js';

/** Close codes that end the session rather than just this transport (resuming would only repeat them). */
const FATAL_CODES = new Set<number>([
  PROTOCOL_ERROR,
  UNSUPPORTED,
  INVALID_PAYLOAD,
  POLICY,
  TOO_BIG,
  SESSION_UNKNOWN,
  UNSUPPORTED_VERSION,
  STATE_LOST,
]);

const noop = (): void => {};

/** A timeout where the socket opened but no `open` frame came (the fallback reason `silent`). */
const SILENT: DownReason = { kind: DOWN_TIMEOUT, silent: true };

export class WebSocketTransport extends TransportBase {
  readonly name = 'websocket' as const;
  readonly ackDelay = ACK_DELAY;
  readonly #ctx: TransportContext;
  readonly #ws: WebSocketLike;
  #opened = false;
  /** The ack this socket's URL carried (a resume), else -1. */
  #ack = -1;
  /** The platform socket opened (the upgrade was answered 101). */
  #socketOpen = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Highest seq handed to the socket but not yet reported written, and the timer that checks it. */
  #unflushed = 0;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(WS: WebSocketConstructor, ctx: TransportContext, handlers: TransportHandlers) {
    super(handlers);
    this.#ctx = ctx;
    const s = ctx.session;
    const ack = ctx.ack();
    const params: Record<string, string | number> = { ...(s ? { sid: s.sid, token: s.token, ack } : {}), ...ctx.hints };
    const url = endpointUrl(ctx.wsBase, `${ctx.wsBase.pathname}/ws`, params);
    // Constructing can throw synchronously (bad URL for this platform, blocked port...): report it
    // as a failure, asynchronously like every other callback.
    let ws: WebSocketLike | undefined;
    try {
      ws = ctx.protocols.length > 0 ? new WS(url, [...ctx.protocols]) : new WS(url);
    } catch {
      queueMicrotask(() => this.down(FAILED));
    }
    this.#ws = ws ?? ({ close: noop } as unknown as WebSocketLike);
    if (!ws) return;
    this.#ack = s ? ack : -1;
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => this.#message(ev.data);
    // The close event that follows carries the code; an error alone (ws's unexpected-response) still ends it.
    ws.onerror = () => this.down(FAILED);
    ws.onclose = (ev) => this.#closed(ev.code);
    // The upgrade went through but no `open` frame follows: a proxy that swallows frames ("silent").
    ws.onopen = () => {
      this.#socketOpen = true;
    };
    this.#timer = setTimeout(() => this.down(this.#socketOpen ? SILENT : TIMEOUT), ctx.openTimeout);
  }

  send(frames: readonly Frame[]): void {
    if (this.done) return;
    let last = 0;
    try {
      for (const f of frames) {
        this.#ws.send(encodeWsFrame(f));
        if (f.t === 'd' || f.t === 'close') last = f.seq;
      }
    } catch {
      return this.down(FAILED);
    }
    if (last > 0) {
      this.#unflushed = last;
      this.#flushTimer ??= setTimeout(this.#flush, 0);
    }
  }

  /**
   * Reports frames written only once the platform socket has let go of them, and never in the task
   * that sent them: Chromium's bufferedAmount still counts a message right after send(), and
   * BurrowSocket's must say the same.
   */
  readonly #flush = (): void => {
    this.#flushTimer = undefined;
    if (this.done || this.#unflushed === 0) return;
    if ((this.#ws.bufferedAmount ?? 0) > 0) {
      this.#flushTimer = setTimeout(this.#flush, 10);
      return;
    }
    const seq = this.#unflushed;
    this.#unflushed = 0;
    this.handlers.onWritten(seq);
  };

  #message(data: unknown): void {
    if (this.done) return;
    // Anything arriving is a later task than our send: settle bufferedAmount before the app hears it.
    if (this.#unflushed !== 0) {
      clearTimeout(this.#flushTimer);
      this.#flush();
    }
    let msg: WsMessage;
    if (typeof data === 'string') msg = data;
    else if (data instanceof ArrayBuffer) msg = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) msg = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return this.down(FAILED);
    const f = readWsMessage(msg, this.#ctx.maxPayload);
    if (!f) return this.down(FAILED);
    if (!this.#opened) {
      if (f.t !== 'open') return this.down(FAILED);
      this.#opened = true;
      clearTimeout(this.#timer);
      // A server that picked a subprotocol we never offered: a browser fails such a socket.
      const p = this.#ws.protocol;
      if (p && !this.#ctx.protocols.includes(p)) {
        return this.down({ kind: DOWN_FATAL, code: ABNORMAL });
      }
      if (this.#ack >= 0) this.#ctx.ackCarried(this.#ack);
      return this.handlers.onOpen(f.ack, f);
    }
    if (f.t === 'open') return this.down(FAILED);
    this.handlers.onFrame(f);
  }

  #closed(code: number): void {
    if (this.done) return;
    if (code === TRY_AGAIN_LATER) return this.down({ kind: DOWN_OVERLOADED, retryAfter: 0 });
    // 1012 service restart (a draining node): resume at once, on whatever node; not a fallback.
    if (code === SERVICE_RESTART) return this.down({ kind: DOWN_RESTART, retryAfter: 0 });
    // 4001 / 4006 answer a resume even before `open`: the session is gone, no transport can help.
    if (code === SESSION_UNKNOWN || code === STATE_LOST || (this.#opened && FATAL_CODES.has(code))) {
      return this.down({ kind: DOWN_FATAL, code });
    }
    // Before `open` anything else is a refused or broken upgrade: the engine falls back at once.
    this.down(FAILED);
  }

  protected override cleanup(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#flushTimer);
    const ws = this.#ws;
    // No-op handlers rather than null: `ws` emits 'error' when closed while connecting, and an
    // EventEmitter 'error' with no listener throws.
    ws.onmessage = ws.onerror = ws.onclose = ws.onopen = noop;
    try {
      ws.close(this.closeCode ?? 1000);
    } catch {
      // Already closed, or a platform that rejects close() in this state: nothing to do.
    }
  }
}
