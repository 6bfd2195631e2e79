/**
 * @packageDocumentation
 * Burrow server: one ordered, exactly-once session per client over WebSocket, SSE or long polling,
 * sticky-free across nodes through a shared store.
 */
export { Burrow, createBurrow, type BurrowHealth, type RequestHandler, type RoomTarget } from './burrow.js';
export type { BurrowEvents } from './ops/events.js';
export { burrowExpress } from './express.js';
export { createMetrics, type BurrowMetrics, type MetricsOptions, type MetricsRegistry } from './ops/metrics.js';
export type { DrainOptions, DrainResult } from './ops/drain.js';
export type { FallbackInfo, FallbackReason, LimitInfo, ResumeInfo, UpgradeInfo } from './ops/lifecycle.js';
export { Session, type MessageInfo, type TransportName } from './session/handle.js';
export type { SendData } from './session/payload.js';
export { MemoryStore } from './store/memory-store.js';
export type {
  Store,
  SessionRecord,
  OutboundFrame,
  NewFrame,
  AppendLimits,
  AppendResult,
  CloseResult,
  InboundResult,
  InboundData,
  InboundReplay,
  JournalEntry,
  WakeEvent,
  StoreStatus,
} from './store/store.js';
export { DEFAULT_LIMITS, type BurrowOptions, type BurrowLimits, type HandleProtocols } from './options.js';
export { BurrowError, type BurrowErrorCode } from './errors/burrow-error.js';
export type { Authenticate, AuthenticateResult } from './http/auth.js';
export type { BufferFullPolicy } from './session/backpressure.js';
export { CloseCode } from '@burrow/shared';
