/**
 * What dispatching W3C events takes: a task scheduler, and `CloseEvent` (a shim where the platform has
 * none, as Node 20). `MessageEvent` needs none: every supported browser and Node has it.
 */
import { BROWSER_BUNDLE } from './target.js';

const g = globalThis as unknown as { setImmediate?: (fn: () => void) => unknown };

/**
 * Queues `fn` as a macrotask, FIFO. W3C events are dispatched as tasks, so microtasks a handler
 * queues run before the next event. setImmediate in Node; a MessageChannel in browsers, which,
 * unlike setTimeout, is not clamped to 4 ms after nesting.
 */
export const scheduleTask: (fn: () => void) => void = (() => {
  if (!BROWSER_BUNDLE && typeof g.setImmediate === 'function') {
    const si = g.setImmediate;
    return (fn: () => void) => void si(fn);
  }
  if (BROWSER_BUNDLE || typeof MessageChannel === 'function') {
    const queue: Array<() => void> = [];
    const ch = new MessageChannel();
    ch.port1.onmessage = () => queue.shift()?.();
    return (fn: () => void) => {
      queue.push(fn);
      ch.port2.postMessage(null);
    };
  }
  return (fn: () => void) => void setTimeout(fn, 0);
})();

/**
 * Queues the upstream's flush (transports/http.ts), which gathers the sends made until it runs. In
 * Node a setImmediate costs no wait (it runs once the current I/O phase is done) and gathers every
 * send of that phase: a burst's handlers echoing each message share one POST (in the bench's closed
 * loop a microtask made twice the POSTs: SSE server CPU per echo 5.6 -> 9.0 µs). In a browser a task
 * waits behind every other task of the page (~200 ms in the bench's saturated Chromium), so a
 * microtask: the sends of the current script, and of whatever arrives while a POST is in flight.
 */
export const afterSends: (fn: () => void) => void =
  // queueMicrotask itself: a global's operation called without a `this` runs on the global.
  !BROWSER_BUNDLE && typeof g.setImmediate === 'function' ? scheduleTask : queueMicrotask;

/** Init of {@link CloseEvent}, as in the DOM. */
export interface BurrowCloseEventInit extends EventInit {
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

/** The DOM `CloseEvent`, for platforms without one (Node 20). */
class CloseEventShim extends Event {
  readonly wasClean: boolean;
  readonly code: number;
  readonly reason: string;
  constructor(type: string, init: BurrowCloseEventInit = {}) {
    super(type, init);
    this.wasClean = init.wasClean ?? false;
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
  }
}

/** `CloseEvent`: the platform's when it has one, else a compatible class. */
export const CloseEventImpl: new (type: string, init?: BurrowCloseEventInit) => CloseEvent =
  BROWSER_BUNDLE || typeof (globalThis as { CloseEvent?: unknown }).CloseEvent === 'function'
    ? CloseEvent
    : (CloseEventShim as unknown as new (type: string, init?: BurrowCloseEventInit) => CloseEvent);
