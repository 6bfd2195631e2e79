/**
 * The `polling` transport: long-poll `GET P/sessions/:sid/poll?token&ack` down (one at a time, the
 * next sent as soon as one answers, carrying the new ack), POSTed batches up. A poll never removes
 * frames on the server (only acks do), so a lost poll response loses nothing.
 *
 * Polls and POSTs carry the transport's `carry` id: the server may then answer a POST with the frames
 * collected for the held poll (a message answered by its handler costs one request, not three). A
 * poll answer that does not follow on from what was delivered, while a POST is in flight, waits for
 * that POST's answer, which carries what comes between. Frames on a POST's answer are acknowledged
 * by the next request, or by an ack POST after the ack delay (as on SSE): the poll that used to carry
 * their ack stays held.
 */
import { readPollBody } from '@burrow/shared';
import type { HttpAnswer } from '../platform/http-client.js';
import { BROWSER_BUNDLE } from '../platform/target.js';
import { transportEnd } from './base.js';
import { downFromAnswer, httpUpstream, sessionUrl, sessionUrlPrefix } from './http.js';
import { FAILED, LAZY_ACK_DELAY, type SessionRef, type Transport, type TransportContext, type TransportHandlers } from './transport.js';
import type { Frame } from '@burrow/shared';

/** `carry` ids, one per polling transport: they only have to tell apart the transports of one session. */
let carriers = 0;

/**
 * A held poll answered within this many ms with nothing new is a wasted one: the server holds a poll
 * until it has frames or its pollTimeout, so a run of them is a cache or proxy answering for it.
 */
export const QUICK_POLL_MS = 1000;
/** The first wait before the next poll after two wasted ones in a row (ms); it doubles up to MAX_POLL_WAIT. */
export const POLL_WAIT = 100;
export const MAX_POLL_WAIT = 10_000;

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
  /** When the poll in flight left (ms epoch), and how many answers in a row were wasted (see QUICK_POLL_MS). */
  let polledAt = 0;
  let wasted = 0;
  let waitTimer: ReturnType<typeof setTimeout> | undefined;
  const end = transportEnd(handlers, () => {
    up.cleanup();
    cancelPoll?.();
    cancelPoll = undefined;
    clearTimeout(waitTimer);
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
    up.carried(ack);
    polledAt = Date.now();
    // No client-side timeout: the poll is held by design, and the engine drops the transport when
    // nothing arrives for heartbeat + heartbeatTimeout (its pings make the server answer).
    cancelPoll = ctx.http.request('GET', url, null, 0, answered);
  };

  const answered = (a: HttpAnswer | null): void => {
    cancelPoll = undefined;
    if (done()) return;
    if (a?.status !== 200) return down(downFromAnswer(a));
    const frames = readPollBody(a.text, ctx.maxPayload);
    if (!frames) return down(FAILED);
    // Wasted: quick and with nothing in it, or only frames delivered already (a cache serving an old
    // answer; a control frame, an ack or a pong, is something). Polling again at once would spin for
    // as long as that goes on, and such an answer proves nothing about the poll: the engine's
    // heartbeat then drops a transport that only ever gets them.
    const before = ctx.ack();
    wasted = Date.now() - polledAt < QUICK_POLL_MS && frames.every((f) => 'seq' in f && f.seq <= before) ? wasted + 1 : 0;
    // The poll is alive whether or not its frames can go yet.
    if (!wasted) handlers.onAlive();
    // Only an answer that leaves a gap waits for the POST in flight (whose answer may fill it): one
    // that follows on goes at once, so a POST refused meanwhile (503 while the server's buffer is
    // full and paused) cannot strand frames that the client's ack must move past.
    const seq = frames.find((f) => 'seq' in f)?.seq;
    if (seq !== undefined && seq > ctx.ack() + 1) up.whenIdle(() => take(frames));
    else take(frames);
  };

  const take = (frames: readonly Frame[]): void => {
    for (const f of frames) {
      if (done()) return;
      up.deliver(f);
    }
    if (wasted < 2) return poll();
    waitTimer = setTimeout(poll, Math.min(MAX_POLL_WAIT, POLL_WAIT * 2 ** (wasted - 2)));
  };

  if (knownAck !== undefined) queueMicrotask(() => opened(knownAck));
  else up.probeAck((r) => (typeof r === 'number' ? opened(r) : down(r)));
  // Every poll carries the ack; frames on a POST's answer need one of their own when no request
  // follows (the lazy delay of SSE).
  return { name: 'polling', ackDelay: LAZY_ACK_DELAY, send: up.send, close: end.close };
}
