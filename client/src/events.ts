/**
 * The events a {@link BurrowSocket} dispatches beyond a plain `Event`, and their types: a WebSocket's
 * `message` and `close`, typed structurally so that projects without the DOM lib compile, and Burrow's
 * `transport`, `reconnecting` and `reconnected`.
 */
import type { TransportName } from './types.js';

/**
 * Fired on a {@link BurrowSocket} as `transport` when the live transport changes: once right after
 * `open` (with `previous` = ''), then on every switch (fallback after a loss, or the background
 * upgrade to WebSocket). Switches never cause `open` or `close` events.
 */
export class TransportEvent extends Event {
  // `declare`d, not class fields: the constructor makes them own properties, in this order, and
  // field definitions before it would only add bytes to the bundle (issue #16).
  /** The transport now carrying the session. */
  declare readonly transport: TransportName;
  /** The transport before, or '' for the first. */
  declare readonly previous: TransportName | '';
  constructor(type: string, transport: TransportName, previous: TransportName | '') {
    super(type);
    this.transport = transport;
    this.previous = previous;
  }
}

/**
 * Burrow's `reconnecting` and `reconnected` events. `reconnecting`: no transport carries the session
 * any more and round `attempt` (1, 2, ...) of attempts to resume it starts in `delay` ms; it fires
 * again before each further round. `reconnected`: a transport carries the session again, after
 * `attempt` rounds (`delay` is 0). Neither changes `readyState`, which stays OPEN, nor loses a message.
 */
export class ReconnectEvent extends Event {
  /** The round of attempts (see above); `declare`d as in {@link TransportEvent}. */
  declare readonly attempt: number;
  /** Ms until the round starts; 0 for `reconnected`. */
  declare readonly delay: number;
  constructor(type: 'reconnecting' | 'reconnected', attempt: number, delay: number) {
    super(type);
    this.attempt = attempt;
    this.delay = Math.round(delay);
  }
}

/**
 * A `message` event, as the DOM's `MessageEvent` (declared here so that projects without the DOM lib,
 * such as Node services, type-check too). `data` is a string, a Blob or an ArrayBuffer (`binaryType`);
 * it is `any` as on the DOM's MessageEvent, so code written for a WebSocket compiles unchanged.
 */
export interface BurrowMessageEvent extends Event {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the DOM's MessageEvent.data is any
  readonly data: any;
  readonly origin: string;
  readonly lastEventId: string;
}

/** A `close` event, as the DOM's `CloseEvent`. */
export interface BurrowCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** The events of a {@link BurrowSocket}: a WebSocket's, and Burrow's `transport`. */
export interface BurrowSocketEventMap {
  open: Event;
  message: BurrowMessageEvent;
  error: Event;
  close: BurrowCloseEvent;
  transport: TransportEvent;
  reconnecting: ReconnectEvent;
  reconnected: ReconnectEvent;
}

/** `addEventListener` options and listeners, typed structurally: the DOM lib's names are not in Node's types. */
export type ListenerOptions = boolean | { readonly capture?: boolean; readonly once?: boolean; readonly passive?: boolean; readonly signal?: AbortSignal };
export type AnyListener = ((ev: Event) => unknown) | { handleEvent(ev: Event): unknown } | null;
