/**
 * The `polling` transport: long-poll `GET P/sessions/:sid/poll?token&ack` down (one at a time, the
 * next sent as soon as one answers, carrying the new ack), POSTed batches up. A poll never removes
 * frames on the server (only acks do), so a lost poll response loses nothing.
 */
import { decodePollResponse, type Frame } from '@burrow/shared';
import { TransportBase } from './base.js';
import { downFromAnswer, HttpUpstream, request, sessionUrl } from './http.js';
import type { DownReason, SessionRef, TransportContext, TransportHandlers } from './transport.js';

export class PollingTransport extends TransportBase {
  readonly name = 'polling' as const;
  readonly #ctx: TransportContext;
  readonly #session: SessionRef;
  readonly #upstream: HttpUpstream;
  readonly #abort = new AbortController();

  /**
   * @param knownAck the server's ack when already known (a session fresh from the handshake, to
   *   which nothing was sent yet); otherwise an empty POST asks for it first.
   */
  constructor(ctx: TransportContext, session: SessionRef, handlers: TransportHandlers, knownAck: number | undefined) {
    super(handlers);
    this.#ctx = ctx;
    this.#session = session;
    this.#upstream = new HttpUpstream(ctx, session, handlers, false, (why) => this.down(why));
    if (knownAck !== undefined) {
      queueMicrotask(() => this.#opened(knownAck));
    } else {
      void this.#upstream.probeAck().then((r) => (typeof r === 'number' ? this.#opened(r) : this.down(r)));
    }
  }

  send(frames: readonly Frame[]): void {
    if (!this.done) this.#upstream.send(frames);
  }

  #opened(ack: number): void {
    if (this.done) return;
    this.handlers.onOpen(ack);
    void this.#loop();
  }

  async #loop(): Promise<void> {
    // The first poll carries the engine's hints (why this transport starts); later ones do not.
    let hints = this.#ctx.hints;
    while (!this.done) {
      let status: number;
      let text: string;
      let why: DownReason | undefined;
      try {
        // No client-side timeout: the poll is held by design, and the engine drops the transport
        // when nothing arrives for heartbeat + heartbeatTimeout (its pings make the server answer).
        const a = await request(
          this.#ctx.fetch,
          sessionUrl(this.#ctx, this.#session, 'poll', { ack: this.#ctx.ack(), ...hints }),
          { method: 'GET' },
          0,
          this.#abort.signal,
        );
        hints = undefined;
        status = a.status;
        text = a.text;
        if (status !== 200) why = downFromAnswer(a);
      } catch {
        return this.down({ kind: 'failed', detail: 'poll request failed' });
      }
      if (this.done) return;
      if (why) return this.down(why);
      const r = decodePollResponse(text, this.#ctx.decode);
      if (!r.ok) return this.down({ kind: 'failed', detail: r.error.message });
      this.handlers.onAlive();
      for (const f of r.value) {
        if (this.done) return;
        if (f.t === 'open') return this.down({ kind: 'failed', detail: 'open frame in a poll' });
        this.handlers.onFrame(f);
      }
    }
  }

  protected override cleanup(): void {
    this.#upstream.close();
    this.#abort.abort();
  }
}
