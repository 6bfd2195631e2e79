/**
 * @packageDocumentation
 * Burrow's Node client: the same exports as the browser entry, with `ws` as the default WebSocket
 * (Node 20 has none as a global) and node:http with keep-alive agents for the HTTP transports, whose
 * SSE streams Burrow reads itself. `fetch` and `EventSource` passed in the options still win.
 */
import WebSocket from 'ws';
import { fetchStream } from './platform/fetch-stream.js';
import { setPlatformDefaults } from './platform/globals.js';
import { nodeHttpClient } from './platform/node-http.js';
import { useSseReader } from './transports/sse.js';
import { httpEventFeed } from './transports/sse-reader.js';
import type { WebSocketConstructor } from './types.js';

setPlatformDefaults({
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  http: nodeHttpClient,
  fetchStream,
});
useSseReader(httpEventFeed);

export * from './index.js';
