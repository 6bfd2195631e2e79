/**
 * `Session`: the handle application code holds. It has no state of its own; everything goes to the
 * node's session core (see core.ts), which applies the rules.
 */
import { isAppCloseCode, MAX_CLOSE_REASON_BYTES } from '@burrow/shared';
import type { BurrowError } from '../errors/burrow-error.js';
import type { SendData } from './payload.js';

/** How bytes move right now. */
export type TransportName = 'websocket' | 'sse' | 'polling';

/**
 * Third argument of the `message` event.
 * - `seq`: the client's sequence number of the message in its session (1, 2, ...): with `session.id`,
 *   a key that names the message on every node.
 * - `redelivered`: `true` when the message is delivered again on this node because the node that
 *   accepted it was killed (or lost its reply) while handling it: it may or may not have run the
 *   handler there. A handler with durable effects makes itself idempotent with `(session.id, seq)`.
 *   Always `false` in normal operation, across transport switches, reconnects and node switches.
 */
export interface MessageInfo {
  readonly seq: number;
  readonly redelivered: boolean;
}

/** What a handle needs of its core (implemented by `SessionCore`; an interface so this file imports no core). */
export interface HandleTarget {
  readonly id: string;
  readonly protocol: string;
  readonly transport: TransportName | null;
  readonly closed: boolean;
  readonly user: unknown;
  readonly data: unknown;
  setData(value: unknown): void;
  send(data: SendData): Promise<void>;
  join(room: string): Promise<void>;
  leave(room: string): Promise<void>;
  rooms(): Promise<readonly string[]>;
  closeBy(by: 'server', code: number | undefined, reason: string | undefined): Promise<void>;
}

/** Returns `p` with a no-op rejection handler attached: an unawaited failure never crashes the process,
 * and a caller who awaits it still sees the rejection. */
export function handled<T>(p: Promise<T>): Promise<T> {
  if (p !== RESOLVED) p.catch(() => {});
  return p;
}

/**
 * What a call that completed synchronously returns (a send on the in-process fast path): already
 * fulfilled, shared, so it costs no allocation and needs no rejection handler.
 */
export const RESOLVED: Promise<undefined> = Promise.resolve(undefined);

/** Longest close reason on the wire, in bytes (RFC 6455: 125 minus the code). */

/**
 * One logical, ordered, bidirectional channel with one client. The same session survives transport
 * switches, reconnects and moves between nodes; register handlers on the Burrow, not on a session.
 */
export class Session {
  readonly #core: HandleTarget;

  /** @internal Created by the server. */
  constructor(core: HandleTarget) {
    this.#core = core;
  }

  /** Session id (public; appears in URLs). */
  get id(): string {
    return this.#core.id;
  }

  /** The subprotocol picked at the handshake, or ''. */
  get protocol(): string {
    return this.#core.protocol;
  }

  /** The transport this node is serving the session on, or null when none is attached here. */
  get transport(): TransportName | null {
    return this.#core.transport;
  }

  /** True once either side closed the session. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /** What the `authenticate` hook attached at the handshake (`undefined` without one); the same on every node. */
  get user(): unknown {
    return this.#core.user;
  }

  /** Application data, persisted in the store (so it must survive JSON when the store is networked). */
  get data(): unknown {
    return this.#core.data;
  }

  set data(value: unknown) {
    this.#core.setData(value);
  }

  /**
   * Queues a message. Resolves once it is in the session's outbound log (delivery follows, exactly
   * once, on whatever transport the client has). Rejects with a {@link BurrowError}:
   * `payload_too_large`, `buffer_overflow` (the session is then closed with 4003), `session_closed`,
   * `store_unavailable` (the store stayed unreachable past `storeOutageBuffer`: until then a send is
   * held on this node, in order, and written when the store is back; the session is intact).
   * An unawaited rejection is handled and never crashes the process.
   */
  send(data: SendData): Promise<void> {
    return handled(this.#core.send(data));
  }

  /**
   * Adds the session to `room` (across nodes: membership lives in the store and dies with the
   * session), so `burrow.to(room).send()` on any node reaches it. Rejects with a TypeError for a bad
   * room name (empty, not a string, over 256 characters) and a {@link BurrowError}: `session_closed`,
   * `session_unknown`, `store_unavailable`.
   */
  join(room: string): Promise<void> {
    return handled(this.#core.join(room));
  }

  /** Removes the session from `room` (a no-op when it is not in it). */
  leave(room: string): Promise<void> {
    return handled(this.#core.leave(room));
  }

  /** The rooms the session is in. */
  rooms(): Promise<readonly string[]> {
    return handled(this.#core.rooms());
  }

  /**
   * Closes the session: emits `close` once and sends a close frame, which the client echoes. Without
   * a code the frame carries none and both sides report 1005, as `ws.close()` and browsers do.
   */
  close(code?: number, reason = ''): Promise<void> {
    if (code === undefined) return handled(this.#core.closeBy('server', undefined, undefined));
    if (!Number.isInteger(code) || !isAppCloseCode(code)) {
      return handled(Promise.reject(new RangeError('close code must be 1000 or 3000-4999')));
    }
    if (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) {
      return handled(Promise.reject(new RangeError(`close reason over ${MAX_CLOSE_REASON_BYTES} bytes`)));
    }
    return handled(this.#core.closeBy('server', code, reason));
  }
}
