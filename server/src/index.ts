/**
 * @packageDocumentation
 * Burrow server: one ordered, exactly-once session per client over WebSocket, SSE or long polling,
 * sticky-free across nodes through a shared store.
 */
export { Burrow, createBurrow, type BurrowEvents, type BurrowHealth, type RequestHandler, type RoomTarget } from './burrow.js';
export { burrowExpress } from './express.js';
export { Session, type SendData, type TransportName } from './session.js';
export { MemoryStore } from './memory-store.js';
export type {
  Store,
  SessionRecord,
  OutboundFrame,
  NewFrame,
  AppendLimits,
  AppendResult,
  CloseResult,
  InboundResult,
  WakeEvent,
  StoreStatus,
} from './store.js';
export { DEFAULT_LIMITS, type BurrowOptions, type BurrowLimits, type HandleProtocols } from './options.js';
export { BurrowError, type BurrowErrorCode } from './errors.js';
export { CloseCode } from '@burrow/shared';
