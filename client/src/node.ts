/**
 * @packageDocumentation
 * Burrow's Node client: the same exports as the browser entry, with `ws` and `eventsource` as the
 * default WebSocket and EventSource (Node 20 has neither as a global), and node:http with keep-alive
 * agents for the HTTP requests. `fetch` passed in the options still wins.
 */
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { setPlatformDefaults } from './platform/globals.js';
import { nodeHttpClient } from './platform/node-http.js';
import type { EventSourceConstructor, WebSocketConstructor } from './types.js';

setPlatformDefaults({
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  EventSource: EventSource as unknown as EventSourceConstructor,
  http: nodeHttpClient,
});

export * from './index.js';
