/**
 * Writes a long-lived chunked response body (the SSE stream) straight to its socket, one `write` per
 * chunk, when it is safe to.
 *
 * Why: `ServerResponse.write` sends each chunk as three buffers (size line, data, CRLF) through its
 * own bookkeeping, and an SSE stream writes once per delivered batch: a broadcast to N sessions makes N
 * such calls per message. A chunk framed by us is one string, byte for byte what `res.write` would
 * have sent. The socket stays corked until the end of the tick, as `res.write` keeps it: without that,
 * the chunks of one turn (echo batches, acks) left in separate syscalls and an echo cost 2× the CPU.
 *
 * Safe only while nothing else stands between the response and its socket: the head was written by
 * us with `Transfer-Encoding: chunked` (so the framing is ours to produce), the body is not encoded
 * (no compression middleware rewrote it) and the socket is a plain writable one. Otherwise, and
 * always for the end of the body, `res` does the work, so `res.end()` still writes the last chunk.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const uncork = (socket: Socket): void => {
  socket.uncork();
};

export type ChunkWriter = (text: string, done?: () => void) => void;

/**
 * Call after the head is written; `chunked`: that head said `Transfer-Encoding: chunked` (a head
 * given to `writeHead` as an object is not readable back through `getHeader`).
 */
export function chunkWriter(res: ServerResponse, chunked: boolean): ChunkWriter {
  const socket = res.socket as Socket | null;
  const direct =
    chunked &&
    socket !== null &&
    typeof socket.write === 'function' &&
    res.getHeader('content-encoding') === undefined &&
    // A response an app (or middleware) has wrapped is written through its wrapper.
    !Object.prototype.hasOwnProperty.call(res, 'write');
  if (!direct) return (text, done) => void res.write(text, done);
  return (text, done) => {
    // A zero-size chunk would end the body (res.write sends nothing for it), and a write after the
    // end must fail as res.write fails it: both stay with res.
    if (text.length === 0 || res.writableEnded) return void res.write(text, done);
    // Corked until the end of the tick, as res.write does: every chunk written in one turn (a batch
    // of echoes, an ack) leaves in one writev.
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(uncork, socket);
    }
    socket.write(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`, done);
  };
}
