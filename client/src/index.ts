/**
 * @packageDocumentation
 * Burrow's browser client: {@link BurrowSocket}, a W3C WebSocket look-alike that falls back to SSE
 * and long polling. Platform pieces come from globalThis; no Node built-ins are imported here.
 */
export { BurrowSocket, type BurrowBinaryType } from './burrow-socket.js';
export {
  ReconnectEvent,
  TransportEvent,
  type BurrowCloseEvent,
  type BurrowMessageEvent,
  type BurrowSocketEventMap,
} from './events.js';
export type { BurrowTestHook } from './engine/test-hook.js';
export type {
  BurrowSocketOptions,
  EventSourceConstructor,
  EventSourceLike,
  FetchFunction,
  RememberStorage,
  TransportName,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
