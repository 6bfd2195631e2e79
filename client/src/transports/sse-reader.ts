/**
 * Burrow's own SSE reader, the Node entry's default for the `sse` transport (browsers use their
 * EventSource, and this module stays out of their bundle).
 */
import type { HttpClient } from '../platform/http-client.js';
import { downFromAnswer } from './http.js';
import type { OpenEventFeed } from './sse.js';
import { SseParser } from './sse-parser.js';
import { type DownReason, FAILED } from './transport.js';

const EVENT_STREAM = /^text\/event-stream\b/i;

/**
 * An event feed over a streamed GET through `http`, parsed by {@link SseParser}. Costs no more than
 * the stream it reads (no EventSource, no WHATWG streams on Node), sees keep-alive comments, reads an
 * error answer's body (so a 503 `service_restart` is a move, not an overload), and bounds an event's
 * size. It never reconnects by itself (the engine resumes with a fresh `ack`), so it sends no
 * `Last-Event-ID`: the `ack` of the new stream's URL says the same, and a reader's last ID could
 * even be past a frame the engine refused.
 */
export function httpEventFeed(http: HttpClient): OpenEventFeed {
  const stream = http.stream;
  if (!stream) throw new TypeError('httpEventFeed needs an HttpClient that streams');
  return (url, maxEventChars, h) => {
    let down = false;
    const fail = (why: DownReason): void => {
      if (down) return;
      down = true;
      cancel();
      h.down(why);
    };
    const parser = new SseParser({ event: (data) => !down && h.message(data), comment: () => !down && h.alive() }, maxEventChars);
    const cancel = stream(url, {
      head: (status, type) => status === 200 && EVENT_STREAM.test(type),
      chunk: (text) => {
        if (!parser.push(text)) fail(FAILED);
      },
      end: (a) => {
        if (down) return;
        down = true;
        // Ended, broken, or a 200 that is not an event stream: failed; an error status says more.
        h.down(a && a.status !== 200 ? downFromAnswer(a) : FAILED);
      },
    });
    return {
      close() {
        down = true;
        cancel();
      },
    };
  };
}
