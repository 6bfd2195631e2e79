/**
 * The contracts of the session layer: what a transport's downstream offers the core, what the core
 * needs from the registry that owns it, and the hooks observability plugs into. Interfaces only, so
 * transports and ops can depend on them without pulling in the core.
 */
import type { AckFrame, PongFrame, ProtocolError } from '@burrow/shared';
import type { ResolvedOptions } from '../options.js';
import type { OutboundFrame, Store } from '../store/store.js';
import type { AppendOrder } from './append-order.js';
import type { MessageInfo, Session, TransportName } from './handle.js';
import type { InboundGate } from './backpressure.js';

/** A transport's downstream half, as the session core drives it. */
export interface Downstream {
  readonly transport: TransportName;
  /** Bounds of one read from the log for this downstream. */
  readonly batchFrames: number;
  readonly batchBytes: number;
  /** Writes sequenced frames, in seq order. */
  write(frames: readonly OutboundFrame[]): void;
  /** Writes an unsequenced frame. */
  control(frame: AckFrame | PongFrame): void;
  /** Ends the transport (replaced, dead, shutting down, session over); the session itself lives on. */
  end(code: number, reason: string): void;
  /**
   * A held poll only: hands over the frames collected for its answer and not yet answered (encoded
   * as JSON), for the answer of a POST from the same polling transport (`carrier`, the `carry` id
   * both carry); undefined when there are none or the carrier is another. The poll stays held.
   */
  take?(carrier: string): string[] | undefined;
  /** A poll only: the `carry` id of the polling transport that sent it (null: the client sent none). */
  readonly carrier?: string | null;
  /** A poll only: its client says it starts a transport after a lost one (the `resume=1` hint). */
  readonly resumed?: boolean;
}

/** Per-message counters, plugged in by the metrics module; absent otherwise. */
export interface Tap {
  /** A new inbound message: `via` is the transport (`'http'` for a POST whose downstream is elsewhere). */
  received(via: string, bytes: number): void;
  /** Sequenced frames written to a downstream (resends included). */
  sent(transport: TransportName, frames: readonly OutboundFrame[]): void;
}

/** What transports report when a downstream attaches (the lifecycle log implements it). */
export interface SessionObserver {
  /** Per-message counters when metrics are on. */
  readonly tap: Tap | undefined;
  /** A downstream of `session` attached here as `to`; `query` carries the client's hints. */
  attached(session: Session, to: TransportName, query: URLSearchParams): void;
}

/**
 * A node-wide list of per-core deadlines (deadlines.ts `DeadlineList`): one timer for all the
 * node's cores rather than one each.
 */
export interface CoreDeadlines {
  /** Starts (or restarts) the core's deadline. */
  arm(core: object): void;
  disarm(core: object): void;
  has(core: object): boolean;
}

/** What a session core needs from the registry that owns it. */
export interface SessionHost {
  readonly options: ResolvedOptions;
  readonly store: Store;
  /** Unique per Burrow instance; prefixes downstream owner ids. */
  readonly nodeId: string;
  /** This node's appends not yet run in a networked store, per session (append-order.ts). */
  readonly appendOrder: AppendOrder;
  /** The store reports itself `down`: calls would fail, so fail fast without making them. */
  readonly storeDown: boolean;
  /**
   * The node is closing (`burrow.close()`) or draining (`burrow.drain()`): a downstream that attaches
   * now (a request that was past the route's check, waiting on `authenticate` or the store) is ended
   * at once, with 1001 or 1012, rather than served by a node that is going.
   */
  readonly closing: boolean;
  readonly draining: boolean;
  emitMessage(session: Session, data: string | Buffer, info: MessageInfo): void;
  emitClose(session: Session, code: number, reason: string): void;
  emitTransport(session: Session, name: TransportName): void;
  emitError(err: unknown): void;
  /** Per-message counters when metrics are on. */
  readonly tap?: Tap | undefined;
  /** The core is done on this node; drop it from the live map. */
  forget(core: object): void;
  /** Cores with no downstream, dropped once their session could have expired (`idleElapsed`). */
  readonly idleCores: CoreDeadlines;
  /** Cores whose downstream has a heartbeat ticking (heartbeat.ts). */
  readonly heartbeats: CoreDeadlines;
  /** Inbound queues owing the client an ack on a WebSocket, sent `ackDelay` after the first frame owed, or sooner riding on a write (inbound.ts). */
  readonly acksOwed: CoreDeadlines & {
    /** The ack delay (ms). */
    readonly ms: number;
    /** How long ago the queue's deadline was armed (ms), or -1. */
    armedFor(queue: object): number;
  };
}

/** Outcome of applying an inbound batch. */
export interface InboundOutcome {
  /** The inbound ack after the batch. */
  readonly ack: number;
  /** Set when the batch broke the protocol or the session is gone. */
  readonly error?: ProtocolError;
}

/** What the inbound queue needs of its core. */
export interface InboundHost {
  readonly id: string;
  readonly host: SessionHost;
  readonly handle: Session;
  readonly closed: boolean;
  readonly transport: TransportName | null;
  readonly downstream: Downstream | undefined;
  readonly gate: InboundGate;
  /** `gate.paused`, without making a gate for a session that never paused. */
  readonly paused: boolean;
  /** The client's close frame, accepted by the store: the close is recorded (held through an outage). */
  clientClose(code: number | undefined, reason: string | undefined): Promise<void>;
  pong(): void;
  /** The client acknowledged outbound frames up to `ack`. */
  clientAcked(ack: number): void;
}
