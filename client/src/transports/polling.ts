/**
 * The `polling` transport: long-poll `GET P/sessions/:sid/poll?token&ack` down (one at a time, the
 * next sent as soon as one answers, carrying the new ack), POSTed batches up. A poll never removes
 * frames on the server (only acks do), so a lost poll response loses nothing.
 */
import { readPollBody } from '@burrow/shared';
import type { HttpAnswer } from '../platform/http-client.js';
import { BROWSER_BUNDLE } from '../platform/target.js';
import { downFromAnswer, HttpTransport, sessionUrl, sessionUrlPrefix } from './http.js';
import { FAILED, type SessionRef, type TransportContext, type TransportHandlers } from './transport.js';

export class PollingTransport extends HttpTransport {
  readonly name = 'polling' as const;
  /** Every poll carries the ack: a standalone one is never needed. */
  readonly ackDelay = Infinity;
  readonly #session: SessionRef;
  /** `…/poll?token=…&ack=`, to which each poll appends its ack. */
  #pollUrl = '';
  /** The first poll's hints (why this transport starts); later polls carry none. */
  #hints: Readonly<Record<string, string>> | undefined;
  #cancelPoll: (() => void) | undefined;

  /**
   * @param knownAck the server's ack when already known (a session fresh from the handshake, to
   *   which nothing was sent yet); otherwise an empty POST asks for it first.
   */
  constructor(ctx: TransportContext, session: SessionRef, handlers: TransportHandlers, knownAck: number | undefined) {
    super(ctx, session, handlers, false);
    this.#session = session;
    this.#hints = ctx.hints;
    if (knownAck !== undefined) {
      queueMicrotask(() => this.#opened(knownAck));
    } else {
      this.probeAck((r) => (typeof r === 'number' ? this.#opened(r) : this.down(r)));
    }
  }

  #opened(ack: number): void {
    if (this.done) return;
    if (!BROWSER_BUNDLE) this.#pollUrl = sessionUrlPrefix(this.ctx, this.#session, 'poll', 'ack');
    this.handlers.onOpen(ack);
    this.#poll();
  }

  #poll(): void {
    if (this.done) return;
    const ack = this.ctx.ack();
    const hints = this.#hints;
    this.#hints = undefined;
    // Node builds the URL once per transport (per-request work showed in a loaded client's CPU, issue
    // #12); in a browser a URL per poll costs nothing that shows, and the bundle saves the code.
    const url = BROWSER_BUNDLE || hints ? sessionUrl(this.ctx, this.#session, 'poll', { ack, ...hints }) : `${this.#pollUrl}${ack}`;
    this.ctx.ackCarried(ack);
    // No client-side timeout: the poll is held by design, and the engine drops the transport when
    // nothing arrives for heartbeat + heartbeatTimeout (its pings make the server answer).
    this.#cancelPoll = this.ctx.http.request('GET', url, null, 0, this.#answered);
  }

  readonly #answered = (a: HttpAnswer | null): void => {
    this.#cancelPoll = undefined;
    if (this.done) return;
    if (a?.status !== 200) return this.down(downFromAnswer(a));
    const frames = readPollBody(a.text, this.ctx.maxPayload);
    if (!frames) return this.down(FAILED);
    this.handlers.onAlive();
    for (const f of frames) {
      if (this.done) return;
      this.deliver(f);
    }
    this.#poll();
  };

  protected override cleanup(): void {
    super.cleanup();
    this.#cancelPoll?.();
    this.#cancelPoll = undefined;
  }
}
