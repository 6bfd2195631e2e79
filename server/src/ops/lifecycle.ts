/**
 * Lifecycle events beyond connection/message/close: fallbacks, upgrades and resumes (learnt from the
 * client's optional hints on its first downstream request), limits hit, and request refusals; plus the
 * debug log (`debug` option or `BURROW_DEBUG=1`), one line per event. Nothing here is on the message
 * path unless metrics are on (the `tap`).
 */
import type { Session, TransportName } from '../session/handle.js';
import type { SessionObserver, Tap } from '../session/types.js';

/** Why the client left the transport it tried first (query parameter `fallback`). */
export type FallbackReason = 'refused' | 'timeout' | 'silent' | 'buffered';

export interface FallbackInfo {
  readonly from: TransportName;
  readonly to: TransportName;
  readonly reason: FallbackReason;
}
export interface UpgradeInfo {
  readonly from: TransportName;
  readonly to: TransportName;
}
export interface ResumeInfo {
  readonly transport: TransportName;
}
/** Which bound was hit: `maxSessions`, `maxPayload`, `maxBatchBytes`, `maxBuffered` (4003)... */
export interface LimitInfo {
  readonly limit: string;
  readonly code: number;
}
/** A request or upgrade answered with an error. */
export interface Refusal {
  /** HTTP status; 101 for an upgrade that was accepted only to be closed with `close`. */
  readonly status: number;
  readonly error: string;
  readonly close: number;
  /** The option whose bound was hit, when the refusal enforces one (the refusal table's `limit`). */
  readonly limit?: string | undefined;
  readonly method: string;
  /** Path without the query (which may carry a token). */
  readonly path: string;
}

export const FALLBACK_REASONS: ReadonlySet<string> = new Set<FallbackReason>(['refused', 'timeout', 'silent', 'buffered']);
const TRANSPORTS: ReadonlySet<string> = new Set<TransportName>(['websocket', 'sse', 'polling']);

function transportOf(v: string | null): TransportName | undefined {
  return v !== null && TRANSPORTS.has(v) ? (v as TransportName) : undefined;
}

export type DebugOption = boolean | ((line: string) => void) | undefined;

/** `debug` option, else `BURROW_DEBUG=1` (or `true`), to a line sink. */
export function resolveDebug(opt: DebugOption): ((line: string) => void) | undefined {
  if (typeof opt === 'function') return opt;
  const env = process.env.BURROW_DEBUG;
  const on = opt ?? (env === '1' || env === 'true');
  return on ? (line) => process.stderr.write(`${line}\n`) : undefined;
}

/** What the lifecycle needs from its Burrow. */
export interface LifecycleHost {
  emit(event: 'fallback', session: Session, info: FallbackInfo): boolean;
  emit(event: 'upgrade', session: Session, info: UpgradeInfo): boolean;
  emit(event: 'resume', session: Session, info: ResumeInfo): boolean;
  emit(event: 'limit', session: Session | undefined, info: LimitInfo): boolean;
  listenerCount(event: string): number;
}

export class Lifecycle implements SessionObserver {
  /** Set by the metrics module. */
  tap: Tap | undefined;
  /** Refusal observers (the metrics module). */
  readonly refusalListeners = new Set<(r: Refusal) => void>();
  readonly log: ((line: string) => void) | undefined;
  readonly #host: LifecycleHost;
  readonly #node: string;

  constructor(host: LifecycleHost, log: ((line: string) => void) | undefined, node: string) {
    this.#host = host;
    this.log = log;
    this.#node = node;
  }

  /** Worth watching request outcomes (a finish listener per request) at all? */
  get watching(): boolean {
    return this.log !== undefined || this.refusalListeners.size > 0 || this.#host.listenerCount('limit') > 0;
  }

  #line(text: string): void {
    if (!this.log) return;
    try {
      this.log(`burrow[${this.#node}] ${text}`);
    } catch {
      // A broken log sink must not break a request.
    }
  }

  /**
   * A downstream (or a WebSocket) of `session` attached here as `to`, with the client's hints:
   * `fallback=<reason>&from=<transport>`, `upgrade=<transport>` (a background WebSocket probe),
   * `resume=1` (a reconnect after a lost transport).
   */
  attached(session: Session, to: TransportName, query: URLSearchParams): void {
    const reason = query.get('fallback');
    if (reason !== null && FALLBACK_REASONS.has(reason)) {
      const from = transportOf(query.get('from')) ?? (reason === 'buffered' ? 'sse' : 'websocket');
      if (from !== to) this.fallback(session, { from, to, reason: reason as FallbackReason });
    }
    const up = transportOf(query.get('upgrade'));
    if (up !== undefined && up !== to) this.upgrade(session, { from: up, to });
    else if (query.get('resume') === '1') this.resume(session, { transport: to });
  }

  fallback(session: Session, info: FallbackInfo): void {
    this.#line(`fallback sid=${session.id} ${info.from}->${info.to} reason=${info.reason}`);
    this.#emit(() => this.#host.emit('fallback', session, info));
  }

  upgrade(session: Session, info: UpgradeInfo): void {
    this.#line(`upgrade sid=${session.id} ${info.from}->${info.to}`);
    this.#emit(() => this.#host.emit('upgrade', session, info));
  }

  resume(session: Session, info: ResumeInfo): void {
    this.#line(`resume sid=${session.id} transport=${info.transport}`);
    this.#emit(() => this.#host.emit('resume', session, info));
  }

  limit(session: Session | undefined, info: LimitInfo): void {
    this.#line(`limit ${session ? `sid=${session.id} ` : ''}limit=${info.limit} code=${info.code}`);
    this.#emit(() => this.#host.emit('limit', session, info));
  }

  connection(session: Session): void {
    if (this.log) this.#line(`connection sid=${session.id}`);
  }

  transport(session: Session, name: TransportName): void {
    if (this.log) this.#line(`transport sid=${session.id} transport=${name}`);
  }

  /** A session ended; a limit-violating end is also a `limit` event. */
  closed(session: Session, code: number, reason: string): void {
    if (this.log) this.#line(`close sid=${session.id} code=${code} reason=${JSON.stringify(reason)}`);
    if (code === 4003) this.limit(session, { limit: 'maxBuffered', code });
    else if (code === 1009) this.limit(session, { limit: 'maxPayload', code });
  }

  drain(text: string): void {
    if (this.log) this.#line(`drain ${text}`);
  }

  /** A request or an upgrade was answered with an error. */
  refused(r: Refusal): void {
    // A replaced poll is routine, not a refusal.
    if (r.close === 4004) return;
    this.#line(`refused ${r.method} ${r.path} status=${r.status} error=${r.error} close=${r.close}`);
    for (const l of this.refusalListeners) {
      try {
        l(r);
      } catch {
        // Observers never break requests.
      }
    }
    const limit = limitOf(r);
    if (limit) this.limit(undefined, { limit, code: r.close });
  }

  /** App listeners that throw must not break the transport that reported the event. */
  #emit(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      process.emitWarning(`burrow: a lifecycle listener threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
}

function limitOf(r: Refusal): string | undefined {
  // The table names its bound; a frame's own size check (shared's decoders) is maxPayload's.
  return r.limit ?? (r.error === 'payload_too_large' ? 'maxPayload' : undefined);
}
