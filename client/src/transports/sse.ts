/**
 * The `sse` transport: EventSource on `P/sessions/:sid/sse?token&ack` down, POSTed batches up. The
 * server's first event is an `ack` frame; until it arrives the stream is not trusted, because a
 * buffering proxy lets the request through but holds every byte (the engine then moves to polling).
 *
 * The native EventSource reconnects on its own after an error; that would race the engine's resume
 * (and a resumed stream needs a fresh `ack`), so the source is closed on its first error.
 */
import { CloseCode, decodeJsonFrame, type Frame } from '@burrow/shared';
import type { EventSourceConstructor, EventSourceLike } from '../types.js';
import { TransportBase } from './base.js';
import { HttpUpstream, sessionUrl } from './http.js';
import type { SessionRef, TransportContext, TransportHandlers } from './transport.js';

export class SseTransport extends TransportBase {
  readonly name = 'sse' as const;
  readonly #ctx: TransportContext;
  readonly #upstream: HttpUpstream;
  #es: EventSourceLike | undefined;
  #opened = false;
  /** An error is being told apart from a lost session (see #error). */
  #probing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param esInit passed to the EventSource constructor (carries an injected `fetch` for `eventsource`). */
  constructor(
    ES: EventSourceConstructor,
    esInit: Record<string, unknown> | undefined,
    ctx: TransportContext,
    session: SessionRef,
    handlers: TransportHandlers,
  ) {
    super(handlers);
    this.#ctx = ctx;
    this.#upstream = new HttpUpstream(ctx, session, handlers, true, (why) => this.down(why));
    try {
      const url = sessionUrl(ctx, session, 'sse', { ack: ctx.ack(), ...ctx.hints });
      const es = esInit ? new ES(url, esInit) : new ES(url);
      es.onmessage = (ev) => this.#message(ev.data);
      es.onerror = (ev) => this.#error(ev);
      this.#es = es;
    } catch (e) {
      queueMicrotask(() => this.down({ kind: 'failed', detail: `EventSource constructor threw: ${String(e)}` }));
      return;
    }
    this.#timer = setTimeout(() => this.down({ kind: 'timeout', detail: 'no SSE event in time' }), ctx.openTimeout);
  }

  send(frames: readonly Frame[]): void {
    if (!this.done) this.#upstream.send(frames);
  }

  #message(data: string): void {
    if (this.done) return;
    const r = decodeJsonFrame(data, this.#ctx.decode);
    if (!r.ok) return this.down({ kind: 'failed', detail: r.error.message });
    const f = r.value;
    if (!this.#opened) {
      if (f.t !== 'ack') return this.down({ kind: 'failed', detail: 'first SSE event is not an ack' });
      this.#opened = true;
      clearTimeout(this.#timer);
      return this.handlers.onOpen(f.ack);
    }
    if (f.t === 'open') return this.down({ kind: 'failed', detail: 'open frame on SSE' });
    this.handlers.onFrame(f);
  }

  #error(ev: { code?: number } | undefined): void {
    if (this.done || this.#probing) return;
    const status = ev?.code;
    if (status === 404) return this.down({ kind: 'fatal', code: CloseCode.SessionUnknown, detail: 'SSE 404' });
    if (status === 410) return this.down({ kind: 'fatal', code: CloseCode.StateLost, detail: 'SSE 410 state_lost' });
    if (status === 503) return this.down({ kind: 'overloaded', retryAfter: 0 });
    if (status) return this.down({ kind: 'failed', detail: `SSE HTTP ${status}` });
    // A browser's EventSource hides the status, so a session the server no longer knows (404) looks
    // like a network error, and retrying it would go on for the whole resume window. One empty POST
    // on the same session tells them apart in a round trip.
    this.#probing = true;
    this.#es?.close();
    void this.#upstream.probeAck().then((r) => {
      this.down(typeof r !== 'number' && r.kind !== 'failed' ? r : { kind: 'failed', detail: 'SSE error' });
    });
  }

  protected override cleanup(): void {
    clearTimeout(this.#timer);
    this.#upstream.close();
    const es = this.#es;
    if (es) {
      es.onmessage = null;
      es.onerror = null;
      es.close();
    }
  }
}
