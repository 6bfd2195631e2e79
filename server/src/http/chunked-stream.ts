/**
 * Writes a long-lived chunked response body (the SSE stream): everything written in one turn of the
 * event loop leaves as one chunk, in one write, at the end of the tick.
 *
 * Why: a stream is written once per delivered batch and once per control frame, so a POST of 16
 * echoed messages made 16 writes, and a broadcast to N sessions makes N. `ServerResponse.write` sends
 * each chunk as three buffers (size line, data, CRLF) through its own bookkeeping; a corked socket
 * takes every write of the turn out in one writev, but still pays each write's stream machinery. One
 * string per turn, framed by us, is one plain write: byte for byte a chunk `res.write` would have sent.
 *
 * The direct socket write is safe only while nothing else stands between the response and its
 * socket: the head was written by us with `Transfer-Encoding: chunked` (so the framing is ours to
 * produce), the body is not encoded (no compression middleware rewrote it) and the socket is a plain
 * writable one. Otherwise the turn's text goes through `res.write`, and always for the end of the
 * body: call {@link ChunkWriter.flush} before `res.end()`.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ChunkWriter {
  /** Queues `text` for this turn's chunk; `done` is called once that chunk has left the process. */
  write(text: string, done?: () => void): void;
  /** Writes what this turn queued now (before `res.end()`, so nothing is written after it). */
  flush(): void;
}

/**
 * Call after the head is written; `chunked`: that head said `Transfer-Encoding: chunked` (a head
 * given to `writeHead` as an object is not readable back through `getHeader`).
 */
export function chunkWriter(res: ServerResponse, chunked: boolean, onError: (err: unknown) => void): ChunkWriter {
  const socket = res.socket as Socket | null;
  const direct =
    chunked &&
    socket !== null &&
    typeof socket.write === 'function' &&
    res.getHeader('content-encoding') === undefined &&
    // A response an app (or middleware) has wrapped is written through its wrapper.
    !Object.prototype.hasOwnProperty.call(res, 'write');
  return new TurnWriter(res, direct ? socket : undefined, onError);
}

class TurnWriter implements ChunkWriter {
  readonly #res: ServerResponse;
  readonly #socket: Socket | undefined;
  #text = '';
  /** The callbacks of this turn's writes: none, one, or several. */
  #done: (() => void) | (() => void)[] | undefined;
  #scheduled = false;
  readonly #onError: (err: unknown) => void;

  constructor(res: ServerResponse, socket: Socket | undefined, onError: (err: unknown) => void) {
    this.#res = res;
    this.#socket = socket;
    this.#onError = onError;
  }

  write(text: string, done?: () => void): void {
    this.#text += text;
    if (done) {
      const d = this.#done;
      this.#done = d === undefined ? done : Array.isArray(d) ? (d.push(done), d) : [d, done];
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(flushTurn, this);
  }

  flush(): void {
    try {
      this.#flush();
    } catch (err) {
      // From the tick's end a throw would end the process, from end() the caller's call: reported
      // instead, and the stream cut (the client resumes from its ack).
      this.#scheduled = false;
      this.#onError(err);
      this.#res.destroy();
    }
  }

  #flush(): void {
    if (!this.#scheduled) return;
    this.#scheduled = false;
    const text = this.#text;
    const d = this.#done;
    this.#text = '';
    this.#done = undefined;
    const done = Array.isArray(d) ? () => d.forEach(call) : d;
    const socket = this.#socket;
    // A zero-size chunk would end the body (res.write sends nothing for it), and a write after the
    // end must fail as res.write fails it: both stay with res.
    if (socket === undefined || text.length === 0 || this.#res.writableEnded) return void this.#res.write(text, done);
    socket.write(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`, done);
  }
}

/** The end-of-tick write of a stream (one function for every stream: no closure per write). */
function flushTurn(w: TurnWriter): void {
  w.flush();
}

function call(f: () => void): void {
  f();
}
