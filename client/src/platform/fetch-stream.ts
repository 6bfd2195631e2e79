/**
 * A streamed GET over `fetch`, for an app that passes its own `fetch` to the Node client: its SSE
 * stream then goes through that fetch too. Installed by the Node entry only (browsers read SSE with
 * their EventSource), so it stays out of the browser bundle.
 */
import { type HttpAnswer, parseRetryAfter, STREAM_HEADERS, type StreamFunction } from './http-client.js';
import type { FetchFunction } from '../types.js';

export function fetchStream(fetch: FetchFunction): StreamFunction {
  return (url, sink) => {
    const ac = new AbortController();
    let over = false;
    const end = (a: HttpAnswer | null): void => {
      if (over) return;
      over = true;
      sink.end(a);
    };
    void (async () => {
      const res = await fetch(url, { method: 'GET', headers: STREAM_HEADERS, signal: ac.signal });
      if (over) return;
      const body = res.body;
      if (!sink.head(res.status, res.headers.get('content-type') ?? '') || !body) {
        const text = await res.text();
        return end({ status: res.status, text, retryAfter: parseRetryAfter(res.headers.get('retry-after')) });
      }
      const reader = body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (over) return;
        if (done) return end(null);
        const text = decoder.decode(value, { stream: true });
        if (!text) continue;
        sink.chunk(text);
        // Chunks already buffered would each resolve read() in the same microtask checkpoint: a
        // task between them keeps "a handler's microtasks run before the next event" (a message
        // whose socket has nothing waiting is dispatched in a microtask, burrow-socket.ts).
        await new Promise((r) => setImmediate(r));
      }
    })().catch(() => end(null));
    return () => {
      over = true;
      ac.abort();
    };
  };
}
