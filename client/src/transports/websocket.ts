/**
 * The `websocket` transport: `GET P/ws` with upgrade (`?sid&token&ack` to resume). The first server
 * message must be `open`; until it arrives the transport is not up, so a proxy that accepts the
 * upgrade but never delivers a frame is caught by the open timeout.
 */
import { encodeWsFrame, type Frame, readWsMessage, type WsMessage } from '@burrow/shared';
import { ABNORMAL, INVALID_PAYLOAD, POLICY, PROTOCOL_ERROR, SERVICE_RESTART, SESSION_UNKNOWN, STATE_LOST, TOO_BIG, TRY_AGAIN_LATER, UNSUPPORTED, UNSUPPORTED_VERSION } from '../close-codes.js';
import type { WebSocketConstructor, WebSocketLike } from '../types.js';
import { BROWSER_BUNDLE } from '../platform/target.js';
import { corkForPhase } from '../platform/ws-cork.js';
import { transportEnd } from './base.js';
import { endpointUrl } from './http.js';
import { DOWN_FATAL, DOWN_OVERLOADED, DOWN_RESTART, DOWN_TIMEOUT, type DownReason, FAILED, LAZY_ACK_DELAY, TIMEOUT, type Transport, type TransportContext, type TransportHandlers } from './transport.js';

/** Close codes that end the session rather than just this transport (resuming would only repeat them). */
const FATAL_CODES: readonly number[] = [PROTOCOL_ERROR, UNSUPPORTED, INVALID_PAYLOAD, POLICY, TOO_BIG, SESSION_UNKNOWN, UNSUPPORTED_VERSION, STATE_LOST];

const noop = (): void => {};

/** A timeout where the socket opened but no `open` frame came (the fallback reason `silent`). */
const SILENT: DownReason = { kind: DOWN_TIMEOUT, silent: true };

export function webSocketTransport(WS: WebSocketConstructor, ctx: TransportContext, handlers: TransportHandlers): Transport {
  let opened = false;
  /** The ack this socket's URL carried (a resume), else -1. */
  let urlAck = -1;
  /** The platform socket opened (the upgrade was answered 101). */
  let socketOpen = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Highest seq handed to the socket but not yet reported written, and the timer that checks it. */
  let unflushed = 0;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let ws: WebSocketLike = { close: noop } as unknown as WebSocketLike;
  const { done, close, down } = transportEnd(handlers, (code) => {
    clearTimeout(timer);
    clearTimeout(flushTimer);
    // No-op handlers rather than null: `ws` emits 'error' when closed while connecting, and an
    // EventEmitter 'error' with no listener throws.
    ws.onmessage = ws.onerror = ws.onclose = ws.onopen = noop;
    try {
      ws.close(code ?? 1000);
    } catch {
      // Already closed, or a platform that rejects close() in this state: nothing to do.
    }
  });

  /**
   * Reports frames written only once the platform socket has let go of them, and never in the task
   * that sent them: Chromium's bufferedAmount still counts a message right after send(), and
   * BurrowSocket's must say the same.
   */
  const flush = (): void => {
    flushTimer = undefined;
    if (done() || unflushed === 0) return;
    if ((ws.bufferedAmount ?? 0) > 0) {
      flushTimer = setTimeout(flush, 10);
      return;
    }
    const seq = unflushed;
    unflushed = 0;
    handlers.onWritten(seq);
  };

  /** The corked socket's writes went out: what they wrote can be reported (see flush). */
  const uncorked = (): void => {
    if (unflushed === 0 || done()) return;
    clearTimeout(flushTimer);
    flush();
  };

  const message = (data: unknown): void => {
    if (done()) return;
    // Anything arriving is a later task than our send: settle bufferedAmount before the app hears it.
    if (unflushed !== 0) {
      clearTimeout(flushTimer);
      flush();
    }
    let msg: WsMessage;
    if (typeof data === 'string') msg = data;
    else if (data instanceof ArrayBuffer) msg = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) msg = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return down(FAILED);
    const f = readWsMessage(msg, ctx.maxPayload);
    if (!f) return down(FAILED);
    if (!opened) {
      if (f.t !== 'open') return down(FAILED);
      opened = true;
      clearTimeout(timer);
      // A server that picked a subprotocol we never offered: a browser fails such a socket.
      const p = ws.protocol;
      if (p && !ctx.protocols.includes(p)) {
        return down({ kind: DOWN_FATAL, code: ABNORMAL });
      }
      if (urlAck >= 0) ctx.ackCarried(urlAck);
      return handlers.onOpen(f.ack, f);
    }
    if (f.t === 'open') return down(FAILED);
    handlers.onFrame(f);
  };

  const closed = (code: number): void => {
    if (done()) return;
    if (code === TRY_AGAIN_LATER) return down({ kind: DOWN_OVERLOADED, retryAfter: 0 });
    // 1012 service restart (a draining node): resume at once, on whatever node; not a fallback.
    if (code === SERVICE_RESTART) return down({ kind: DOWN_RESTART, retryAfter: 0 });
    // 4001 / 4006 answer a resume even before `open`: the session is gone, no transport can help.
    if (code === SESSION_UNKNOWN || code === STATE_LOST || (opened && FATAL_CODES.includes(code))) {
      return down({ kind: DOWN_FATAL, code });
    }
    // Before `open` anything else is a refused or broken upgrade: the engine falls back at once.
    down(FAILED);
  };

  const s = ctx.session;
  const ack = ctx.ack();
  const params: Record<string, string | number> = { ...(s ? { sid: s.sid, token: s.token, ack } : {}), ...ctx.hints };
  const url = endpointUrl(ctx.wsBase, '/ws', params);
  // Constructing can throw synchronously (bad URL for this platform, blocked port...): report it
  // as a failure, asynchronously like every other callback.
  let socket: WebSocketLike | undefined;
  try {
    socket = ctx.protocols.length > 0 ? new WS(url, [...ctx.protocols]) : new WS(url);
  } catch {
    queueMicrotask(() => down(FAILED));
  }
  if (socket) {
    ws = socket;
    urlAck = s ? ack : -1;
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (ev) => message(ev.data);
    // The close event that follows carries the code; an error alone (ws's unexpected-response) still ends it.
    socket.onerror = () => down(FAILED);
    socket.onclose = (ev) => closed(ev.code);
    // The upgrade went through but no `open` frame follows: a proxy that swallows frames ("silent").
    socket.onopen = () => {
      socketOpen = true;
    };
    timer = setTimeout(() => down(socketOpen ? SILENT : TIMEOUT), ctx.openTimeout);
  }

  return {
    name: 'websocket',
    ackDelay: LAZY_ACK_DELAY,
    send(frames) {
      if (done()) return;
      let last = 0;
      // Node with `ws`: every send of this I/O phase in one write (platform/ws-cork.ts).
      if (!BROWSER_BUNDLE) corkForPhase(ws, uncorked);
      try {
        for (const f of frames) {
          ws.send(encodeWsFrame(f));
          // Data and close frames are sequenced, and only they.
          if ('seq' in f) last = f.seq;
        }
      } catch {
        return down(FAILED);
      }
      if (last > 0) {
        unflushed = last;
        flushTimer ??= setTimeout(flush, 0);
      }
    },
    close,
  };
}
