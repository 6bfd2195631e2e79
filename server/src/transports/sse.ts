/**
 * The `sse` transport's downstream: `GET {path}/sessions/:sid/sse?token=&ack=N`, an EventSource
 * stream (or, for a new session, `GET {path}/sessions`: see handshake.ts). `id:` carries the seq of
 * sequenced frames so `Last-Event-ID` resumes; the upstream is the POST `send` endpoint.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeJsonFrame, type AckFrame, type OpenFrame, type PongFrame } from '@burrow/shared';
import { ControlCoalescer } from './control.js';
import { jsonOf } from './encoding.js';
import { refusal } from '../errors/refusals.js';
import { chunkWriter, type ChunkWriter } from '../http/chunked-stream.js';
import { parseAck, sendError } from '../http/respond.js';
import type { SessionCore } from '../session/core.js';
import type { Downstream } from '../session/types.js';
import type { SessionRegistry } from '../session/registry.js';
import type { OutboundFrame } from '../store/store.js';

/** Defeats proxies that buffer the first few KiB of a response before passing anything on. */
const PADDING = `:${' '.repeat(2048)}\n\n`;

const HEARTBEAT_COMMENT = ':hb\n\n';

class SseDownstream extends ControlCoalescer implements Downstream {
  readonly transport = 'sse' as const;
  /**
   * Frames the pump reads from the store and writes per step: a stream has no answer to bound, so
   * this is only the step's size (a networked store's read), not a limit any client meets.
   */
  readonly batchFrames = 1024;
  readonly batchBytes: number;
  readonly #res: ServerResponse;
  readonly #write: ChunkWriter;
  readonly #core: SessionCore;
  /** Something was written since the heartbeat check last looked. */
  #wrote = true;
  readonly #timer: NodeJS.Timeout;
  #ended = false;
  /** The stream that created a raced session: closing before the client's claim takes the session with it. */
  readonly #reg: SessionRegistry | undefined;
  constructor(res: ServerResponse, chunked: boolean, core: SessionCore, batchBytes: number, heartbeat: number, racedBy: SessionRegistry | undefined) {
    super();
    this.#res = res;
    this.#write = chunkWriter(res, chunked, (err) => core.host.emitError(err));
    this.#core = core;
    this.#reg = racedBy;
    this.batchBytes = batchBytes;
    // Checked lazily: a write only sets a flag (no clock read, no timer reset); a check that finds a
    // whole half-period without one sends the comment, so the stream is never silent a period long.
    this.#timer = setInterval(() => {
      if (this.#wrote) this.#wrote = false;
      else this.#send(HEARTBEAT_COMMENT);
    }, Math.max(10, heartbeat / 2));
    this.#timer.unref();
    res.on('close', () => this.#finish());
  }

  write(frames: readonly OutboundFrame[]): void {
    let out = '';
    for (const f of frames) out += `id: ${f.frame.seq}\ndata: ${jsonOf(f)}\n\n`;
    this.#send(out);
  }

  protected writeControl(frame: AckFrame | PongFrame, flushed: () => void): void {
    this.#send(`data: ${encodeJsonFrame(frame)}\n\n`, flushed);
  }

  end(): void {
    this.#finish();
    // What this turn queued (our close frame, say) goes before the end of the body.
    this.#write.flush();
    this.#res.end();
  }

  #send(text: string, flushed?: () => void): void {
    if (this.#ended) return;
    this.#wrote = true;
    this.#write.write(text, flushed);
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    this.#core.detach(this);
    if (this.#reg && this.#core.unclaimed) this.#reg.discardUnclaimed(this.#core);
  }
}

export async function handleSse(reg: SessionRegistry, req: IncomingMessage, res: ServerResponse, sid: string, query: URLSearchParams): Promise<void> {
  let ack = parseAck(query.get('ack'));
  if (ack === undefined) return sendError(res, refusal('badAck'));
  const lastEventId = req.headers['last-event-id'];
  if (typeof lastEventId === 'string') {
    const fromHeader = parseAck(lastEventId);
    if (fromHeader !== undefined && fromHeader > ack) ack = fromHeader;
  }
  const found = await reg.resume(sid, query.get('token'));
  if (!found) return sendError(res, refusal('sessionUnknown'));
  const { core, record } = found;
  if (res.destroyed) return;
  // The node began to close or drain while the store proved the session: answered as the route does
  // then (503), so the client resumes at once elsewhere rather than after a stream that ends at once.
  const shut = reg.shutRefusal();
  if (shut) return sendError(res, refusal(shut));
  // The first event proves the stream works end to end; its ack is the inbound ack.
  await streamSse(reg, res, core, { t: 'ack', ack: core.inAck }, ack, record.outSeq, query, false);
}

/**
 * Starts the event stream of `core` on `res`: headers, the padding, `first` (the handshake's `open`
 * frame, or an `ack` on a resume) with the headers, then the session's frames after `ack`. `raced`:
 * the stream created an unclaimed session, which it discards if it closes before the claim.
 */
export function streamSse(
  reg: SessionRegistry,
  res: ServerResponse,
  core: SessionCore,
  first: AckFrame | OpenFrame,
  ack: number,
  outSeq: number,
  query: URLSearchParams,
  raced: boolean,
): Promise<void> {
  const req = res.req;
  const chunked = req.httpVersionMajor > 1 || req.httpVersionMinor >= 1;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
    // Said outright so the body's framing is known to be ours to write (chunked-stream.ts); an
    // HTTP/1.0 peer (a proxy speaking 1.0 upstream) gets Node's default, a body ended by the close.
    ...(chunked ? { 'Transfer-Encoding': 'chunked' } : {}),
  });
  res.socket?.setNoDelay(true);
  res.write(PADDING);
  res.write(`data: ${encodeJsonFrame(first)}\n\n`);
  const o = reg.options;
  const d = new SseDownstream(res, chunked, core, o.limits.maxPollBytes, o.heartbeat, raced ? reg : undefined);
  reg.lifecycle?.attached(core.handle, 'sse', query);
  return core.attach(d, ack, outSeq);
}
