/**
 * HTTP plumbing of the transports: URLs under the mount path (the WebSocket's too), one request with
 * a timeout, the handshake, the mapping of error answers to what the engine should do, and the
 * upstream of SSE and polling that POSTs batches of client frames one at a time.
 */
import {
  CloseCode,
  decodeError,
  decodeJsonFrame,
  decodeSendResponse,
  encodeHandshakeRequest,
  encodeSendRequest,
  type Frame,
  type OpenFrame,
  payloadSize,
  sessionPath,
} from '@burrow/shared';
import type { FetchFunction } from '../types.js';
import type { DownReason, SessionRef, TransportContext, TransportHandlers } from './transport.js';

/** A finished HTTP exchange. */
export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  /** Retry-After in ms (0 when absent). */
  readonly retryAfter: number;
}

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

function parseRetryAfter(v: string | null): number {
  if (!v) return 0;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 0;
}

/**
 * One request. Rejects on network failure, timeout or `signal`; any HTTP status resolves.
 * `timeout` 0 means none (a held poll is bounded by the engine's liveness check instead).
 */
export async function request(
  fetch: FetchFunction,
  url: string,
  init: RequestInit,
  timeout: number,
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener('abort', onAbort);
  const timer = timeout > 0 ? setTimeout(onAbort, timeout) : undefined;
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    const text = await res.text();
    return { status: res.status, text, retryAfter: parseRetryAfter(res.headers.get('retry-after')) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** What a non-200 answer means for the transport. */
export function downFromAnswer(a: HttpAnswer): DownReason {
  const err = decodeError(a.text, a.status);
  // 1012 service restart: this node is draining; resume now, the balancer picks another node.
  if (err.close === CloseCode.ServiceRestart) return { kind: 'restart', retryAfter: a.retryAfter };
  if (a.status === 503 || err.close === CloseCode.TryAgainLater) return { kind: 'overloaded', retryAfter: a.retryAfter };
  if (a.status === 404) return { kind: 'fatal', code: CloseCode.SessionUnknown, detail: err.error };
  // 410 state_lost: the server's store lost the session (restarted empty); it cannot be resumed.
  if (a.status === 410) return { kind: 'fatal', code: CloseCode.StateLost, detail: err.error };
  // 409 poll_replaced: a newer transport took the downstream; never reaches the app.
  if (a.status === 409 || a.status >= 500 || a.status < 400) return { kind: 'failed', detail: `HTTP ${a.status} ${err.error}` };
  // 400 / 403 / 413: a definitive refusal. 1006 when the body names no code (e.g. no_acceptable_protocol).
  const code = err.close >= 1000 && err.close !== CloseCode.NoStatus ? err.close : CloseCode.Abnormal;
  return { kind: 'fatal', code, detail: err.error };
}

const TEXT_PLAIN = { 'Content-Type': 'text/plain;charset=UTF-8' };

export type HandshakeResult = { readonly ok: true; readonly open: OpenFrame } | { readonly ok: false; readonly why: DownReason };

/** POST P/sessions: a new session over HTTP. Never rejects. */
export async function handshake(ctx: TransportContext, signal: AbortSignal): Promise<HandshakeResult> {
  let a: HttpAnswer;
  try {
    a = await request(
      ctx.fetch,
      // Hints ride on the handshake too: `race=1` makes the session wait for the client's claim.
      endpointUrl(ctx.httpBase, `${ctx.httpBase.pathname}/sessions`, ctx.hints),
      { method: 'POST', headers: TEXT_PLAIN, body: encodeHandshakeRequest(ctx.protocols) },
      ctx.requestTimeout,
      signal,
    );
  } catch {
    return { ok: false, why: { kind: 'failed', detail: 'handshake request failed' } };
  }
  if (a.status !== 200) return { ok: false, why: downFromAnswer(a) };
  const f = decodeJsonFrame(a.text, { from: 'server' });
  if (!f.ok || f.value.t !== 'open') return { ok: false, why: { kind: 'failed', detail: 'handshake answer is not an open frame' } };
  return { ok: true, open: f.value };
}

/**
 * The upstream of the HTTP transports: POST P/sessions/:sid/send, one batch in flight at a time so
 * batches land in seq order even on different nodes. The response's ack confirms the batch.
 */
export class HttpUpstream {
  readonly #ctx: TransportContext;
  readonly #session: SessionRef;
  readonly #handlers: TransportHandlers;
  readonly #standaloneAcks: boolean;
  readonly #onError: (why: DownReason) => void;
  #pending: Frame[] = [];
  #inflight = false;
  /** The engine asked for an ack that no request has carried yet. */
  #ackWanted = false;
  #postedAck = -1;
  #closed = false;
  readonly #abort = new AbortController();

  /**
   * @param standaloneAcks whether an ack with nothing else to send is worth an empty POST (SSE:
   *   yes; polling: no, the next poll carries it).
   * @param onError called once when a POST fails; the owner reports the transport down.
   */
  constructor(
    ctx: TransportContext,
    session: SessionRef,
    handlers: TransportHandlers,
    standaloneAcks: boolean,
    onError: (why: DownReason) => void,
  ) {
    this.#ctx = ctx;
    this.#session = session;
    this.#handlers = handlers;
    this.#standaloneAcks = standaloneAcks;
    this.#onError = onError;
  }

  send(frames: readonly Frame[]): void {
    for (const f of frames) {
      if (f.t === 'ack') this.#ackWanted ||= this.#standaloneAcks;
      else this.#pending.push(f);
    }
    this.#flush();
  }

  /** POSTs an empty batch (to learn the server's ack on a resume); resolves with the ack. */
  async probeAck(): Promise<number | DownReason> {
    try {
      const a = await this.#post([]);
      if (a.status !== 200) return downFromAnswer(a);
      const r = decodeSendResponse(a.text);
      return r.ok ? r.value.ack : { kind: 'failed', detail: 'bad send response' };
    } catch {
      return { kind: 'failed', detail: 'send request failed' };
    }
  }

  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.#abort.abort();
  }

  #post(frames: readonly Frame[]): Promise<HttpAnswer> {
    const ack = this.#ctx.ack();
    this.#postedAck = Math.max(this.#postedAck, ack);
    this.#ackWanted = false;
    return request(
      this.#ctx.fetch,
      sessionUrl(this.#ctx, this.#session, 'send', {}),
      { method: 'POST', headers: TEXT_PLAIN, body: encodeSendRequest({ ack, frames }) },
      this.#ctx.requestTimeout,
      this.#abort.signal,
    );
  }

  #flush(): void {
    if (this.#closed || this.#inflight) return;
    const ackOnly = this.#ackWanted && this.#ctx.ack() > this.#postedAck;
    if (this.#pending.length === 0 && !ackOnly) return;
    const batch = this.#takeBatch();
    let lastSeq = 0;
    for (const f of batch) if (f.t === 'd' || f.t === 'close') lastSeq = f.seq;
    this.#inflight = true;
    this.#post(batch).then(
      (a) => {
        this.#inflight = false;
        if (this.#closed) return;
        if (a.status !== 200) return this.#fail(downFromAnswer(a));
        const r = decodeSendResponse(a.text);
        if (!r.ok) return this.#fail({ kind: 'failed', detail: 'bad send response' });
        this.#handlers.onAcked(r.value.ack);
        if (this.#closed) return;
        if (lastSeq > 0) this.#handlers.onWritten(lastSeq);
        this.#flush();
      },
      () => {
        this.#inflight = false;
        if (!this.#closed) this.#fail({ kind: 'failed', detail: 'send request failed' });
      },
    );
  }

  #fail(why: DownReason): void {
    this.close();
    this.#onError(why);
  }

  /** Frames from the head of the queue: at most 128, and at most max(maxPayload, 64 KiB) of payload (at least one). */
  #takeBatch(): Frame[] {
    const maxBytes = Math.max(this.#ctx.maxPayload ?? 0, MIN_BATCH_BYTES);
    let n = 0;
    let bytes = 0;
    for (const f of this.#pending) {
      if (n === MAX_BATCH_FRAMES) break;
      const size = f.t === 'd' ? payloadSize(f.data) : 16;
      if (n > 0 && bytes + size > maxBytes) break;
      bytes += size;
      n++;
    }
    return this.#pending.splice(0, n);
  }
}
