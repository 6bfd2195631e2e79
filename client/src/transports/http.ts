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
  readSendAnswer,
  sessionPath,
} from '@burrow/shared';
import { ABNORMAL, NO_STATUS, SERVICE_RESTART, SESSION_UNKNOWN, STATE_LOST, TOO_BIG, TRY_AGAIN_LATER } from '../close-codes.js';
import { afterSends } from '../platform/dom.js';
import type { Cancel, HttpAnswer } from '../platform/http-client.js';
import type { TransportEnd } from './base.js';
import { DOWN_FATAL, DOWN_OVERLOADED, DOWN_RESTART, type DownReason, FAILED, type SessionRef, SINGLE_FRAME_CUTS, type TransportContext, type TransportHandlers } from './transport.js';

export type { HttpAnswer } from '../platform/http-client.js';

/** Most frames in one upstream batch. */
const MAX_BATCH_FRAMES = 128;
/** Payload bytes per batch when the server's maxPayload is unknown or smaller. */
const MIN_BATCH_BYTES = 64 * 1024;

/** The URL of `path` under the mount path `base`, keeping the app's own query parameters (they may carry auth). */
export function endpointUrl(base: URL, path: string, params: Record<string, string | number> = {}): string {
  const u = new URL(base.href);
  u.pathname += path;
  // URLSearchParams converts a number itself (WebIDL USVString).
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v as string);
  return u.href;
}

export function sessionUrl(ctx: TransportContext, s: SessionRef, what: 'sse' | 'poll' | 'send', params: Record<string, string | number>): string {
  return endpointUrl(ctx.httpBase, sessionPath('', s.sid, what), { token: s.token, ...params });
}

/**
 * A session URL whose last parameter is `name`, given as a prefix to append the value to: the URL is
 * built (and the app's query kept) once per transport, not once per request.
 */
export function sessionUrlPrefix(ctx: TransportContext, s: SessionRef, what: 'sse' | 'poll' | 'send', name: string, params: Record<string, string | number> = {}): string {
  const u = new URL(sessionUrl(ctx, s, what, params));
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
  // 409 poll_replaced: a newer transport took the downstream; never reaches the app. 408: a body
  // too slow for the server (bodyMinRate), a state of the link, not of the session: resume.
  if (a.status === 409 || a.status === 408 || a.status >= 500 || a.status < 400) return FAILED;
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
  return endpointUrl(ctx.httpBase, '/sessions', { ...q, ...ctx.hints });
}

/**
 * POST P/sessions: a new session over HTTP. `done` gets the `open` frame or why not; it is never
 * called synchronously, nor after the returned function cancelled the request.
 */
export function handshake(ctx: TransportContext, done: (r: HandshakeResult) => void): Cancel {
  return ctx.http.request(
    'POST',
    // Hints ride on the handshake too: `race=1` makes the session wait for the client's claim.
    endpointUrl(ctx.httpBase, '/sessions', ctx.hints),
    encodeHandshakeRequest(ctx.protocols),
    ctx.requestTimeout,
    (a) => {
      if (a?.status !== 200) return done({ ok: false, why: downFromAnswer(a) });
      const f = readJsonFrame(a.text);
      done(f?.t === 'open' ? { ok: true, open: f } : { ok: false, why: FAILED });
    },
  );
}

/**
 * The timeout of a send POST whose body is `length` UTF-16 units: the timeout is the whole request's
 * (as `fetch` with a signal has it), so a big batch on a slow link would be cut while its bytes still
 * flow, resent whole by the next transport and cut again, for ever. Each 256 Ki of body adds one
 * more `timeout` (at least 10 s): an upload is cut only below ~25 KB/s. Whole steps keep the Node
 * client's deadline lists few.
 */
export function postTimeout(timeout: number, length: number): number {
  return timeout * (1 + (length >> 18));
}

/** What the server's answer to a send POST says: its ack and the frames it carries, or why the transport is down. */
function sendAnswer(a: HttpAnswer | null, max: number | undefined): { ack: number; frames: Frame[] } | DownReason {
  return a?.status !== 200 ? downFromAnswer(a) : (readSendAnswer(a.text, max) ?? FAILED);
}

/** What SSE and polling share: see {@link httpUpstream}. */
export interface HttpUpstream {
  /** The session whose upstream this is (an SSE handshake learns it from its first event). */
  bind(session: SessionRef): void;
  send(frames: readonly Frame[]): void;
  /** A downstream frame goes to the engine; an `open` has no place on a downstream and fails the transport. */
  deliver(f: Frame): void;
  /**
   * POSTs an empty batch, beside any batch in flight (it carries no frames, so order is not at stake):
   * to learn the server's ack on a resume, or whether the session still exists. `done` gets the ack
   * or why not, unless the transport ended meanwhile.
   */
  probeAck(done: (r: number | DownReason) => void): void;
  /**
   * Runs `fn` once no batch POST is in flight (at once when none is). A polling POST's answer may
   * carry downstream frames: a poll answer that arrives meanwhile with later ones waits for it.
   */
  whenIdle(fn: () => void): void;
  /** A request beside the POSTs (a poll) carries `ack`: no ack POST is owed for it. */
  carried(ack: number): void;
  /** Cancels the requests in flight; part of the transport's cleanup. */
  cleanup(): void;
}

/**
 * What SSE and polling share: the context, the upstream, and the rule for downstream frames.
 *
 * The upstream is POST P/sessions/:sid/send, one batch in flight at a time so batches land in seq
 * order even on different nodes. The response's ack confirms the batch. Frames are not posted from
 * inside `send()`: the POST goes out once the current script is done (browsers) or the current I/O
 * phase (Node; see `afterSends`), carrying everything sent by then, or, while one is in flight,
 * everything sent until it is answered.
 * Every POST carries the client's current ack; an ack alone is worth a POST when the engine asks for
 * one and no request carried it: on SSE, whose downstream cannot carry it, and on polling for frames
 * that came on a POST's answer (every poll carries the ack). A failed POST takes the transport down.
 *
 * @param carrier polling's `carry` id, which its polls carry too: the answer of a batch POST may then
 *   carry downstream frames collected for the held poll (docs/PROTOCOL.md, "Frames on a POST's
 *   answer"). Undefined on SSE.
 */
export function httpUpstream(
  ctx: TransportContext,
  session: SessionRef | null,
  handlers: TransportHandlers,
  carrier: number | undefined,
  end: TransportEnd,
): HttpUpstream {
  const { done, down } = end;
  /** `…/send?token=…`: set once the session is known. */
  let url = '';
  let pending: Frame[] = [];
  /** Cancels the POST in flight, if one is. */
  let inflight: (() => void) | null = null;
  /** Cancels the empty POST of probeAck, if one is in flight. */
  let probe: (() => void) | null = null;
  let scheduled = false;
  /** A poll answer waiting for the POST in flight (see whenIdle). */
  let waiting: (() => void) | null = null;
  /** The highest ack the engine asked to send (-1: none); a POST is owed while no request carried it. */
  let ackWanted = -1;
  /** The highest ack a request of this transport carried (a POST, or a poll: see `carried`). */
  let postedAck = -1;

  const bind = (s: SessionRef): void => {
    url = sessionUrl(ctx, s, 'send', carrier ? { carry: carrier } : {});
  };

  const carried = (ack: number): void => {
    postedAck = Math.max(postedAck, ack);
    ctx.ackCarried(ack);
  };

  const post = (frames: readonly Frame[], answered: (a: HttpAnswer | null) => void): (() => void) => {
    const ack = ctx.ack();
    carried(ack);
    const body = encodeSendRequest({ ack, frames });
    return ctx.http.request('POST', url, body, postTimeout(ctx.requestTimeout, body.length), answered);
  };

  const schedule = (): void => {
    if (done() || inflight || scheduled) return;
    scheduled = true;
    afterSends(flush);
  };

  const flush = (): void => {
    scheduled = false;
    if (done() || inflight) return;
    // An ack alone is posted only when no request carried it yet (a POST in flight may well have).
    if (pending.length === 0 && ackWanted <= postedAck) return;
    const [batch, bytes] = takeBatch();
    const sentAt = Date.now();
    let lastSeq = 0;
    for (const f of batch) if ('seq' in f) lastSeq = f.seq;
    inflight = post(batch, (a) => {
      inflight = null;
      if (done()) return;
      const { upload } = ctx;
      // Cut for slowness: the server's 408, or no answer for as long as a request may take. A failure
      // sooner (refused, reset: a node restarting) says nothing of the link's speed; nor does an
      // answered batch the cap did not limit (an ack alone, a few small messages), so neither moves it.
      if (bytes && (a ? a.status === 408 : Date.now() - sentAt >= ctx.requestTimeout)) {
        upload.cap = bytes / 2;
        if (batch.length === 1 && batch[0]!.t === 'd' && ++upload.cuts >= SINGLE_FRAME_CUTS) return down({ kind: DOWN_FATAL, code: TOO_BIG });
      } else if (a?.status === 200 && bytes) {
        upload.cuts = 0;
        if (bytes * 2 >= upload.cap) upload.cap = Math.max(upload.cap, bytes) * 1.25;
      }
      const r = sendAnswer(a, ctx.maxPayload);
      if (!('ack' in r)) return down(r);
      for (const f of r.frames) {
        deliver(f, true);
        if (done()) return;
      }
      handlers.onAcked(r.ack);
      if (done()) return;
      if (lastSeq > 0) handlers.onWritten(lastSeq);
      const w = waiting;
      waiting = null;
      w?.();
      schedule();
    });
  };

  /**
   * Frames from the head of the queue, and their payload bytes as counted here: at most 128 frames,
   * and at most max(maxPayload, 64 KiB) of payload or the link's upload cap (at least one frame).
   */
  const takeBatch = (): [Frame[], number] => {
    const maxBytes = Math.min(ctx.upload.cap, Math.max(ctx.maxPayload ?? 0, MIN_BATCH_BYTES));
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
    return [pending.splice(0, n), bytes];
  };

  /** A downstream frame goes to the engine; an `open` has no place on a downstream and fails the transport. */
  const deliver = (f: Frame, carried?: boolean): void => {
    if (f.t === 'open') return down(FAILED);
    handlers.onFrame(f, carried);
  };

  if (session) bind(session);
  return {
    bind,
    send(frames) {
      if (done()) return;
      for (const f of frames) {
        if (f.t !== 'ack') pending.push(f);
        else if (f.ack > ackWanted) ackWanted = f.ack;
      }
      schedule();
    },
    deliver,
    probeAck(answered) {
      probe?.();
      probe = post([], (a) => {
        probe = null;
        if (done()) return;
        const r = sendAnswer(a, ctx.maxPayload);
        answered('ack' in r ? r.ack : r);
      });
    },
    whenIdle(fn) {
      if (inflight) waiting = fn;
      else fn();
    },
    carried,
    cleanup() {
      waiting = null;
      pending = [];
      for (const cancel of [inflight, probe]) cancel?.();
      inflight = probe = null;
    },
  };
}
