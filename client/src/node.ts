/**
 * @packageDocumentation
 * Burrow's Node client: the same exports as the browser entry, with `ws` and `eventsource` as the
 * default WebSocket and EventSource (Node 20 has neither as a global; it has fetch).
 */
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { setPlatformDefaults } from './platform/globals.js';
import type { EventSourceConstructor, WebSocketConstructor } from './types.js';

setPlatformDefaults({
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  EventSource: EventSource as unknown as EventSourceConstructor,
});

export * from './index.js';
