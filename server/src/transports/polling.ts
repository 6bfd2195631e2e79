/**
 * The `polling` transport's downstream: `GET {path}/sessions/:sid/poll?token=&ack=N`, held until
 * frames exist or `pollTimeout` passes. A poll never removes frames (only acks do), so a response lost
 * on the way costs nothing: the next poll carries the same ack and gets the same frames.
 *
 * Frames collected for a poll may leave in the answer of a POST from the same transport instead
 * (`take`, see send.ts): a later poll answer that reaches the client first leaves a gap, and the
 * client holds such an answer until that POST's answer is in, so order holds; a lost POST answer
 * takes the transport down (the client resumes from its ack).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCode, encodeJsonFrame, encodePollResponse, type AckFrame, type PongFrame } from '@burrow/shared';
import { jsonOf } from './encoding.js';
import { refusal } from '../errors/refusals.js';
import { parseAck, sendError, sendJson } from '../http/respond.js';
import type { SessionCore } from '../session/core.js';
import type { Downstream } from '../session/types.js';
import type { Resumed, SessionRegistry } from '../session/registry.js';
import { type DeadlineLinks, DeadlineList } from '../deadlines.js';
import type { OutboundFrame } from '../store/store.js';

/**
 * One held poll. Frames written to it are collected, not answered one by one: the answer goes out at
 * the end of the tick (or at once when the batch is full), carrying every frame queued by then. A POST
 * of 16 messages whose handler echoes each is one poll answer of 16 frames, not one of 1 followed by a
 * re-poll for the other 15.
 */
class PollDownstream implements Downstream, DeadlineLinks {
  readonly transport = 'polling' as const;
  readonly batchFrames: number;
  readonly batchBytes: number;
  readonly #res: ServerResponse;
  readonly #core: SessionCore;
  readonly #deadlines: DeadlineList<PollDownstream>;
  /** The `carry` id of the polling transport that sent this poll (null: none, nothing is taken). */
  readonly carrier: string | null;
  /** The `resume=1` hint: the first poll of a transport after a lost one. */
  readonly resumed: boolean;
  #done = false;
  /** Encoded frames of the answer being collected (sequenced ones, then any control frame). */
  #frames: string[] = [];
  /** Payload bytes of the sequenced frames collected (the bound the store's reads use). */
  #bytes = 0;
  /** A control frame (a pong) is among those collected: the answer stays the poll's (see take). */
  #control = false;
  #scheduled = false;
  /** @internal Its place on the held polls' list (deadlines.ts). */
  dlList: object | undefined = undefined;
  /** @internal */ dlPrev: DeadlineLinks | undefined = undefined;
  /** @internal */ dlNext: DeadlineLinks | undefined = undefined;
  /** @internal */ dlAt = 0;

  constructor(res: ServerResponse, core: SessionCore, batchFrames: number, batchBytes: number, deadlines: DeadlineList<PollDownstream>, query: URLSearchParams) {
    this.#res = res;
    this.carrier = query.get('carry');
    this.resumed = query.get('resume') === '1';
    this.#core = core;
    this.batchFrames = batchFrames;
    this.batchBytes = batchBytes;
    this.#deadlines = deadlines;
    deadlines.arm(this);
    res.on('close', () => this.#finish());
  }

  /**
   * Collects `frames` for this poll's one answer. A frame that would take the answer past its bounds
   * answers the poll with what came before it; it and those after stay in the log (a poll never
   * removes frames) and go with the next poll, which starts after the client's ack.
   */
  write(frames: readonly OutboundFrame[]): void {
    if (this.#done) return;
    const out = this.#frames;
    for (const f of frames) {
      if (out.length > 0 && (out.length >= this.batchFrames || this.#bytes + f.size > this.batchBytes)) return this.flush();
      out.push(jsonOf(f));
      this.#bytes += f.size;
    }
    if (out.length >= this.batchFrames) this.flush();
    else this.#schedule();
  }

  control(frame: AckFrame | PongFrame): void {
    if (this.#done) return;
    this.#frames.push(encodeJsonFrame(frame));
    this.#control = true;
    this.#schedule();
  }

  end(code: number): void {
    if (code === CloseCode.TransportReplaced) this.#error(refusal('pollReplaced'));
    else if (code === CloseCode.GoingAway) this.#error(refusal('goingAway'));
    else if (code === CloseCode.SessionUnknown) this.#error(refusal('sessionUnknown'));
    else if (code === CloseCode.StateLost) this.#error(refusal('stateLost'));
    else if (code === CloseCode.TryAgainLater) this.#error(refusal('storeUnavailable'));
    // The session's end (its close frame just written): the answer carries what was collected.
    else this.flush();
  }

  /**
   * Never with a control frame among them: a pong answers a ping the client sent because nothing came
   * down its poll for a beat, and only a poll answer proves the poll alive to it (frames on a POST's
   * answer do not: a dead poll beside working POSTs would strand what is written to it).
   */
  take(carrier: string): string[] | undefined {
    if (this.#done || this.#control || carrier !== this.carrier || this.#frames.length === 0) return undefined;
    const frames = this.#frames;
    this.#frames = [];
    this.#bytes = 0;
    return frames;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(tickPoll, this);
  }

  /** The end of the tick in which frames were collected: answers unless a POST took them all. */
  tick(): void {
    this.#scheduled = false;
    if (this.#frames.length > 0) this.flush();
  }

  /** Answers the poll with every frame collected (none: an empty batch). */
  flush(): void {
    if (!this.#finish()) return;
    const frames = this.#frames;
    this.#frames = [];
    try {
      sendJson(this.#res, 200, encodePollResponse(frames));
    } catch (err) {
      // From a tick's end or a timer a throw would end the process, from a write the caller's call:
      // reported instead, and the request cut (the next poll gets the same frames).
      this.#core.host.emitError(err);
      this.#res.destroy();
    }
  }

  #error(err: Parameters<typeof sendError>[1], headers?: Record<string, string>): void {
    if (this.#finish()) sendError(this.#res, err, headers);
  }

  /** Detaches once; true the first time, when the response is still ours to write. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.#deadlines.disarm(this);
    this.#core.detach(this);
    return !this.#res.writableEnded;
  }
}

/**
 * The held polls of each server, on one timer (see deadlines.ts): a `setTimeout` per poll cost a
 * Timeout and a timer-list insert and removal per request. At `pollTimeout` a poll answers empty.
 */
const heldPolls = new WeakMap<SessionRegistry, DeadlineList<PollDownstream>>();

function pollDeadlines(reg: SessionRegistry): DeadlineList<PollDownstream> {
  let list = heldPolls.get(reg);
  if (!list) heldPolls.set(reg, (list = new DeadlineList(reg.options.pollTimeout, flushPoll)));
  return list;
}

/** The deadline's answer of a poll (one function for every poll: no closure per write). */
function flushPoll(d: PollDownstream): void {
  d.flush();
}

function tickPoll(d: PollDownstream): void {
  d.tick();
}

export function handlePoll(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, query: URLSearchParams): Promise<void> | void {
  const ack = parseAck(query.get('ack'));
  if (ack === undefined) return sendError(res, refusal('badAck'));
  const token = query.get('token');
  // On the in-process store a poll is proven and attached within the call: no promise hop per poll.
  if (reg.store.sync) return hold(reg, res, reg.resumeNow(sid, token, true, req.socket), ack, query);
  return reg.resume(sid, token, true, req.socket).then((found) => hold(reg, res, found, ack, query));
}

function hold(
  reg: SessionRegistry,
  res: ServerResponse,
  found: Resumed | undefined,
  ack: number,
  query: URLSearchParams,
): Promise<void> | void {
  if (!found) return sendError(res, refusal('sessionUnknown'));
  if (res.destroyed) return;
  const { core, record } = found;
  const o = reg.options;
  const d = new PollDownstream(res, core, o.limits.maxBatchFrames, o.limits.maxPollBytes, pollDeadlines(reg), query);
  reg.lifecycle?.attached(core.handle, 'polling', query);
  return core.attach(d, ack, record.outSeq);
}
