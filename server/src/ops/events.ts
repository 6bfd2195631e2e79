/**
 * The events a Burrow emits. Here rather than in burrow.ts so that observers (metrics) can listen to
 * a Burrow without importing it.
 */
import type { MessageInfo, Session, TransportName } from '../session/handle.js';
import type { FallbackInfo, LimitInfo, ResumeInfo, UpgradeInfo } from './lifecycle.js';

/** Events of a Burrow. */
export interface BurrowEvents {
  /** A new session (not a resume or a transport switch). */
  connection: [session: Session];
  /**
   * A message from a client, on whichever node received it; binary arrives as a Buffer. Exactly once,
   * in order, per session — across transport switches, reconnects and node switches. `info.seq` is the
   * message's seq in its session; `info.redelivered` is true only when the node that accepted it was
   * killed while handling it: the message is then delivered again, on the next node, with the same seq,
   * never lost (a handler with durable effects makes itself idempotent with `(session.id, info.seq)`).
   * Handlers that take two arguments keep working.
   */
  message: [session: Session, data: string | Buffer, info: MessageInfo];
  /** The session ended: closed by either side (1005 when the client gave no code), expired (4002) or over a limit. */
  close: [session: Session, code: number, reason: string];
  /** The session moved to another transport on this node. */
  transport: [session: Session, name: TransportName];
  /** The client fell back from one transport to another (it says why on its first request there). */
  fallback: [session: Session, info: FallbackInfo];
  /** A session on SSE or polling upgraded to WebSocket (the client's background probe). */
  upgrade: [session: Session, info: UpgradeInfo];
  /** A client resumed its session after losing its transport (on this node). */
  resume: [session: Session, info: ResumeInfo];
  /** A bound was hit: `maxSessions` (no session), `maxPayload`, `maxBatchBytes`, `maxBuffered` (4003). */
  limit: [session: Session | undefined, info: LimitInfo];
  /** An error no request could be told about (store failure, a throwing handler). */
  error: [err: Error];
}

