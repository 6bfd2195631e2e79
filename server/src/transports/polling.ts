/**
 * The `polling` transport's downstream: `GET {path}/sessions/:sid/poll?token=&ack=N`, held until
 * frames exist or `pollTimeout` passes. A poll never removes frames (only acks do), so a response lost
 * on the way costs nothing: the next poll carries the same ack and gets the same frames.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCode, encodeJsonFrame, encodePollResponse, type AckFrame, type PongFrame } from '@burrow/shared';
import { jsonOf } from './encoding.js';
import { refusal } from '../errors/refusals.js';
import { parseAck, sendError, sendJson } from '../http/respond.js';
import type { SessionCore } from '../session/core.js';
import type { Downstream } from '../session/types.js';
import type { SessionRegistry } from '../session/registry.js';
import type { OutboundFrame } from '../store/store.js';

class PollDownstream implements Downstream {
  readonly transport = 'polling' as const;
  readonly batchFrames: number;
  readonly batchBytes: number;
  readonly #res: ServerResponse;
  readonly #core: SessionCore;
  readonly #timer: NodeJS.Timeout;
  #done = false;

  constructor(res: ServerResponse, core: SessionCore, batchFrames: number, batchBytes: number, pollTimeout: number) {
    this.#res = res;
    this.#core = core;
    this.batchFrames = batchFrames;
    this.batchBytes = batchBytes;
    this.#timer = setTimeout(() => this.#answer(200, encodePollResponse([])), pollTimeout);
    this.#timer.unref();
    res.on('close', () => this.#finish());
  }

  /** One batch per poll: answering ends it. */
  write(frames: readonly OutboundFrame[]): void {
    this.#answer(200, encodePollResponse(frames.map(jsonOf)));
  }

  control(frame: AckFrame | PongFrame): void {
    this.#answer(200, encodePollResponse([encodeJsonFrame(frame)]));
  }

  end(code: number): void {
    if (code === CloseCode.TransportReplaced) this.#error(refusal('pollReplaced'));
    else if (code === CloseCode.GoingAway) this.#error(refusal('goingAway'));
    else if (code === CloseCode.SessionUnknown) this.#error(refusal('sessionUnknown'));
    else if (code === CloseCode.StateLost) this.#error(refusal('stateLost'));
    else if (code === CloseCode.TryAgainLater) this.#error(refusal('storeUnavailable'));
    else this.#answer(200, encodePollResponse([]));
  }

  #answer(status: number, body: string): void {
    if (this.#finish()) sendJson(this.#res, status, body);
  }

  #error(err: Parameters<typeof sendError>[1], headers?: Record<string, string>): void {
    if (this.#finish()) sendError(this.#res, err, headers);
  }

  /** Detaches once; true the first time, when the response is still ours to write. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#core.detach(this);
    return !this.#res.writableEnded;
  }
}

export async function handlePoll(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, query: URLSearchParams): Promise<void> {
  const ack = parseAck(query.get('ack'));
  if (ack === undefined) return sendError(res, refusal('badAck'));
  const found = await reg.resume(sid, query.get('token'), true, req.socket);
  if (!found) return sendError(res, refusal('sessionUnknown'));
  if (res.destroyed) return;
  const { core, record } = found;
  const o = reg.options;
  const d = new PollDownstream(res, core, o.limits.maxBatchFrames, o.limits.maxPollBytes, o.pollTimeout);
  reg.lifecycle?.attached(core.handle, 'polling', query);
  await core.attach(d, ack, record.outSeq);
}
