/**
 * The `polling` transport: long-poll `GET P/sessions/:sid/poll?token&ack` down (one at a time, the
 * next sent as soon as one answers, carrying the new ack), POSTed batches up. A poll never removes
 * frames on the server (only acks do), so a lost poll response loses nothing.
 *
 * Polls and POSTs carry the transport's `carry` id: the server may then answer a POST with the frames
 * collected for the held poll (a message answered by its handler costs one request, not three). A
 * poll answer that comes while a POST is in flight waits for it, since it may hold later frames.
 */
import { readPollBody } from '@burrow/shared';
import type { HttpAnswer } from '../platform/http-client.js';
import { BROWSER_BUNDLE } from '../platform/target.js';
import { transportEnd } from './base.js';
import { downFromAnswer, httpUpstream, sessionUrl, sessionUrlPrefix } from './http.js';
import { FAILED, type SessionRef, type Transport, type TransportContext, type TransportHandlers } from './transport.js';

/** `carry` ids, one per polling transport: they only have to tell apart the transports of one session. */
let carriers = 0;

/**
 * @param knownAck the server's ack when already known (a session fresh from the handshake, to
 *   which nothing was sent yet); otherwise an empty POST asks for it first.
 */
export function pollingTransport(ctx: TransportContext, session: SessionRef, handlers: TransportHandlers, knownAck: number | undefined): Transport {
  /** `…/poll?token=…&ack=`, to which each poll appends its ack. */
  let pollUrl = '';
  /** The first poll's hints (why this transport starts); later polls carry none. */
  let hints: Readonly<Record<string, string>> | undefined = ctx.hints;
  let cancelPoll: (() => void) | undefined;
  const end = transportEnd(handlers, () => {
    up.cleanup();
    cancelPoll?.();
    cancelPoll = undefined;
  });
  const { done, down } = end;
  const carrier = ++carriers;
  const up = httpUpstream(ctx, session, handlers, carrier, end);

  const opened = (ack: number): void => {
    if (done()) return;
    if (!BROWSER_BUNDLE) pollUrl = sessionUrlPrefix(ctx, session, 'poll', 'ack', { carry: carrier });
    handlers.onOpen(ack);
    poll();
  };

  const poll = (): void => {
    if (done()) return;
    const ack = ctx.ack();
    const first = hints;
    hints = undefined;
    // Node builds the URL once per transport (per-request work showed in a loaded client's CPU, issue
    // #12); in a browser a URL per poll costs nothing that shows, and the bundle saves the code.
    const url = BROWSER_BUNDLE || first ? sessionUrl(ctx, session, 'poll', { ack, carry: carrier, ...first }) : `${pollUrl}${ack}`;
    ctx.ackCarried(ack);
    // No client-side timeout: the poll is held by design, and the engine drops the transport when
    // nothing arrives for heartbeat + heartbeatTimeout (its pings make the server answer).
    cancelPoll = ctx.http.request('GET', url, null, 0, (a) => up.whenIdle(() => answered(a)));
  };

  const answered = (a: HttpAnswer | null): void => {
    cancelPoll = undefined;
    if (done()) return;
    if (a?.status !== 200) return down(downFromAnswer(a));
    const frames = readPollBody(a.text, ctx.maxPayload);
    if (!frames) return down(FAILED);
    handlers.onAlive();
    for (const f of frames) {
      if (done()) return;
      up.deliver(f);
    }
    poll();
  };

  if (knownAck !== undefined) queueMicrotask(() => opened(knownAck));
  else up.probeAck((r) => (typeof r === 'number' ? opened(r) : down(r)));
  // Every poll carries the ack: a standalone one is never needed (ackDelay Infinity).
  return { name: 'polling', ackDelay: Infinity, send: up.send, close: end.close };
}
