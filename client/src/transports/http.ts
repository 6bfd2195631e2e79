/**
 * HTTP plumbing of the transports: URLs under the mount path (the WebSocket's too), the handshake,
 * the mapping of error answers to what the engine should do, and the base of SSE and polling: their
 * upstream, which POSTs batches of client frames one at a time.
 */
import {
  encodeHandshakeRequest,
  encodeSendRequest,
  type Frame,
  type OpenFrame,
  payloadSize,
  PROTOCOL_VERSION,
  readErrorClose,
  readJsonFrame,
  readSendAck,
  sessionPath,
} from '@burrow/shared';
import { ABNORMAL, NO_STATUS, SERVICE_RESTART, SESSION_UNKNOWN, STATE_LOST, TRY_AGAIN_LATER } from '../close-codes.js';
import { scheduleTask } from '../platform/dom.js';
import type { Cancel, HttpAnswer } from '../platform/http-client.js';
import { TransportBase } from './base.js';
import { DOWN_FATAL, DOWN_OVERLOADED, DOWN_RESTART, type DownReason, FAILED, type SessionRef, type TransportContext, type TransportHandlers } from './transport.js';

export type { HttpAnswer } from '../platform/http-client.js';

/** Most frames in one upstream batch. */
const MAX_BATCH_FRAMES = 128;
/** Payload bytes per batch when the server's maxPayload is unknown or smaller. */
const MIN_BATCH_BYTES = 64 * 1024;

/** A URL under the mount path, keeping the app's own query parameters (they may carry auth). */
export function endpointUrl(base: URL, path: string, params: Record<string, string | number> = {}): string {
  const u = new URL(base.href);
  u.pathname = path;
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  return u.href;
}

export function sessionUrl(ctx: TransportContext, s: SessionRef, what: 'sse' | 'poll' | 'send', params: Record<string, string | number>): string {
  return endpointUrl(ctx.httpBase, sessionPath(ctx.httpBase.pathname, s.sid, what), { token: s.token, ...params });
}

/**
 * A session URL whose last parameter is `name`, given as a prefix to append the value to: the URL is
 * built (and the app's query kept) once per transport, not once per request.
 */
export function sessionUrlPrefix(ctx: TransportContext, s: SessionRef, what: 'sse' | 'poll' | 'send', name: string): string {
  const u = new URL(sessionUrl(ctx, s, what, {}));
  u.searchParams.delete(name);
  return `${u.href}${u.search ? '&' : '?'}${encodeURIComponent(name)}=`;
}

/** What a non-200 answer means for the transport; no answer at all (a failed request) is a plain failure. */
export function downFromAnswer(a: HttpAnswer | null): DownReason {
  if (!a) return FAILED;
  const close = readErrorClose(a.text);
  // 1012 service restart: this node is draining; resume now, the balancer picks another node.
  if (close === SERVICE_RESTART) return { kind: DOWN_RESTART, retryAfter: a.retryAfter };
  if (a.status === 503 || close === TRY_AGAIN_LATER) return { kind: DOWN_OVERLOADED, retryAfter: a.retryAfter };
  if (a.status === 404) return { kind: DOWN_FATAL, code: SESSION_UNKNOWN };
  // 410 state_lost: the server's store lost the session (restarted empty); it cannot be resumed.
  if (a.status === 410) return { kind: DOWN_FATAL, code: STATE_LOST };
  // 409 poll_replaced: a newer transport took the downstream; never reaches the app.
  if (a.status === 409 || a.status >= 500 || a.status < 400) return FAILED;
  // 400 / 403 / 413: a definitive refusal. 1006 when the body names no code (e.g. no_acceptable_protocol).
  return { kind: DOWN_FATAL, code: close >= 1000 && close !== NO_STATUS ? close : ABNORMAL };
}

export type HandshakeResult = { readonly ok: true; readonly open: OpenFrame } | { readonly ok: false; readonly why: DownReason };

/**
 * `GET P/sessions?v=1&protocols=…`: the handshake as an event stream, whose first event is the
 * `open` frame (the SSE transport of a new session). Hints ride on it as on the POST.
 */
export function sseHandshakeUrl(ctx: TransportContext): string {
  const q: Record<string, string | number> = { v: PROTOCOL_VERSION };
  if (ctx.protocols.length > 0) q.protocols = ctx.protocols.join(',');
  return endpointUrl(ctx.httpBase, `${ctx.httpBase.pathname}/sessions`, { ...q, ...ctx.hints });
}

/**
 * POST P/sessions: a new session over HTTP. `done` gets the `open` frame or why not; it is never
 * called synchronously, nor after the returned function cancelled the request.
 */
export function handshake(ctx: TransportContext, done: (r: HandshakeResult) => void): Cancel {
  return ctx.http.request(
    'POST',
    // Hints ride on the handshake too: `race=1` makes the session wait for the client's claim.
    endpointUrl(ctx.httpBase, `${ctx.httpBase.pathname}/sessions`, ctx.hints),
    encodeHandshakeRequest(ctx.protocols),
    ctx.requestTimeout,
    (a) => {
      if (a?.status !== 200) return done({ ok: false, why: downFromAnswer(a) });
      const f = readJsonFrame(a.text);
      done(f?.t === 'open' ? { ok: true, open: f } : { ok: false, why: FAILED });
    },
  );
}

/** What the server's answer to a send POST says: its ack, or why the transport is down. */
function sendAnswer(a: HttpAnswer | null): number | DownReason {
  return a?.status !== 200 ? downFromAnswer(a) : (readSendAck(a.text) ?? FAILED);
}

/**
 * What SSE and polling share: the context, the upstream, and the rule for downstream frames.
 *
 * The upstream is POST P/sessions/:sid/send, one batch in flight at a time so batches land in seq
 * order even on different nodes. The response's ack confirms the batch. Frames are not posted from
 * inside `send()`: the POST goes out at the end of the event-loop turn (a task later), carrying
 * everything sent in that turn, or, while one is in flight, everything sent until it is answered.
 * Every POST carries the client's current ack; an ack alone is only worth a POST on SSE, whose
 * downstream cannot carry it (polling's next GET does). A failed POST takes the transport down.
 */
export abstract class HttpTransport extends TransportBase {
  protected readonly ctx: TransportContext;
  readonly #standaloneAcks: boolean;
  /** `…/send?token=…`: set once the session is known (an SSE handshake learns it from its first event). */
  #url = '';
  #pending: Frame[] = [];
  /** Cancels the POST in flight, if one is. */
  #inflight: (() => void) | null = null;
  /** Cancels the empty POST of probeAck, if one is in flight. */
  #probe: (() => void) | null = null;
  #scheduled = false;
  /** The highest ack the engine asked to send (-1: none); a POST is owed while no POST carried it. */
  #ackWanted = -1;
  #postedAck = -1;

  /**
   * @param standaloneAcks whether an ack with nothing else to send is worth an empty POST (SSE:
   *   yes; polling: no, the next poll carries it).
   */
  constructor(ctx: TransportContext, session: SessionRef | null, handlers: TransportHandlers, standaloneAcks: boolean) {
    super(handlers);
    this.ctx = ctx;
    this.#standaloneAcks = standaloneAcks;
    if (session) this.bind(session);
  }

  /** The session whose upstream this is. */
  protected bind(session: SessionRef): void {
    this.#url = sessionUrl(this.ctx, session, 'send', {});
  }

  send(frames: readonly Frame[]): void {
    if (this.done) return;
    for (const f of frames) {
      if (f.t !== 'ack') this.#pending.push(f);
      else if (this.#standaloneAcks && f.ack > this.#ackWanted) this.#ackWanted = f.ack;
    }
    this.#schedule();
  }

  /** A downstream frame goes to the engine; an `open` has no place on a downstream and fails the transport. */
  protected deliver(f: Frame): void {
    if (f.t === 'open') return this.down(FAILED);
    this.handlers.onFrame(f);
  }

  /**
   * POSTs an empty batch, beside any batch in flight (it carries no frames, so order is not at stake):
   * to learn the server's ack on a resume, or whether the session still exists. `done` gets the ack
   * or why not, unless the transport ended meanwhile.
   */
  protected probeAck(done: (r: number | DownReason) => void): void {
    this.#probe?.();
    this.#probe = this.#post([], (a) => {
      this.#probe = null;
      if (!this.done) done(sendAnswer(a));
    });
  }

  protected cleanup(): void {
    this.#pending = [];
    for (const cancel of [this.#inflight, this.#probe]) cancel?.();
    this.#inflight = this.#probe = null;
  }

  #post(frames: readonly Frame[], done: (a: HttpAnswer | null) => void): () => void {
    const ctx = this.ctx;
    const ack = ctx.ack();
    this.#postedAck = Math.max(this.#postedAck, ack);
    ctx.ackCarried(ack);
    return ctx.http.request('POST', this.#url, encodeSendRequest({ ack, frames }), ctx.requestTimeout, done);
  }

  #schedule(): void {
    if (this.done || this.#inflight || this.#scheduled) return;
    this.#scheduled = true;
    scheduleTask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.done || this.#inflight) return;
    // An ack alone is posted only when no POST carried it yet (one in flight may well have).
    if (this.#pending.length === 0 && this.#ackWanted <= this.#postedAck) return;
    const batch = this.#takeBatch();
    let lastSeq = 0;
    for (const f of batch) if (f.t === 'd' || f.t === 'close') lastSeq = f.seq;
    this.#inflight = this.#post(batch, (a) => {
      this.#inflight = null;
      if (this.done) return;
      const r = sendAnswer(a);
      if (typeof r !== 'number') return this.down(r);
      this.handlers.onAcked(r);
      if (this.done) return;
      if (lastSeq > 0) this.handlers.onWritten(lastSeq);
      this.#schedule();
    });
  };

  /** Frames from the head of the queue: at most 128, and at most max(maxPayload, 64 KiB) of payload (at least one). */
  #takeBatch(): Frame[] {
    const pending = this.#pending;
    const maxBytes = Math.max(this.ctx.maxPayload ?? 0, MIN_BATCH_BYTES);
    let n = 0;
    let bytes = 0;
    for (const f of pending) {
      if (n === MAX_BATCH_FRAMES) break;
      let size = 16;
      if (f.t === 'd') {
        // Text: 3 bytes per UTF-16 unit bounds its UTF-8 size; counted exactly only near the limit.
        size = typeof f.data === 'string' ? f.data.length * 3 : f.data.byteLength;
        if (bytes + size > maxBytes) size = payloadSize(f.data);
      }
      if (n > 0 && bytes + size > maxBytes) break;
      bytes += size;
      n++;
    }
    if (n === pending.length) {
      this.#pending = [];
      return pending;
    }
    return pending.splice(0, n);
  }
}
