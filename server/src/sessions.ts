/**
 * This node's sessions: creating them, finding them again from an id and token, and the live map of
 * session cores. Transports talk to this, never to the store.
 */
import { randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION, SESSION_ID_RE, type OpenFrame } from '@burrow/shared';
import { hashToken, newSessionId, newToken, tokenMatches } from './ids.js';
import type { ResolvedOptions } from './options.js';
import { type Session, SessionCore, type SessionHost, type TransportName } from './session.js';
import type { SessionRecord, Store } from './store.js';

/** Where the registry reports to (the Burrow's events). */
export interface RegistryEvents {
  connection(session: Session): void;
  message(session: Session, data: string | Buffer): void;
  close(session: Session, code: number, reason: string): void;
  transport(session: Session, name: TransportName): void;
  error(err: unknown): void;
}

export class SessionRegistry implements SessionHost {
  readonly options: ResolvedOptions;
  readonly store: Store;
  readonly nodeId = randomBytes(9).toString('base64url');
  readonly #live = new Map<string, SessionCore>();
  readonly #events: RegistryEvents;
  readonly #stopExpiry: () => void;

  constructor(options: ResolvedOptions, events: RegistryEvents) {
    this.options = options;
    this.store = options.store;
    this.#events = events;
    this.#stopExpiry = this.store.onExpired((record) => this.#expired(record));
  }

  /** Sessions live on this node. */
  get size(): number {
    return this.#live.size;
  }

  /** Is there room for one more session on this node? */
  get full(): boolean {
    return this.#live.size >= this.options.limits.maxSessions;
  }

  /** Creates a session (the caller checked `full`). Emit `connection` with {@link announce}. */
  async create(protocol: string): Promise<{ core: SessionCore; token: string }> {
    const token = newToken();
    const record: SessionRecord = {
      id: newSessionId(),
      tokenHash: hashToken(token),
      protocol,
      data: undefined,
      inAck: 0,
      outSeq: 0,
      outAck: 0,
      activity: 0,
    };
    await this.store.create(record, this.options.resumeWindow);
    const core = new SessionCore(this, record);
    this.#live.set(record.id, core);
    return { core, token };
  }

  announce(core: SessionCore): void {
    this.#safely(() => this.#events.connection(core.handle));
  }

  /**
   * The session named by `sid` if `token` proves it, refreshing its TTL. Unknown, expired and
   * wrong-token all come back `undefined`: callers answer them identically.
   */
  async resume(sid: string, token: string | null | undefined): Promise<{ core: SessionCore; record: SessionRecord } | undefined> {
    if (!SESSION_ID_RE.test(sid)) return undefined;
    const found = await this.store.get(sid);
    if (!found || !tokenMatches(token, found.tokenHash)) return undefined;
    // A closed record keeps its short linger; anything else starts a fresh resume window.
    const record = found.closed ? found : ((await this.store.touch(sid, this.options.resumeWindow, true)) ?? found);
    let core = this.#live.get(sid);
    if (core) core.refresh(record);
    else {
      core = new SessionCore(this, record);
      this.#live.set(sid, core);
    }
    core.seen();
    return { core, record };
  }

  openFrame(core: SessionCore, token: string, resumed: boolean, ack: number): OpenFrame {
    const o = this.options;
    return {
      t: 'open',
      v: PROTOCOL_VERSION,
      sid: core.id,
      token,
      ack,
      resumed,
      protocol: core.protocol,
      heartbeat: o.heartbeat,
      heartbeatTimeout: o.heartbeatTimeout,
      maxPayload: o.limits.maxPayload,
      resumeWindow: o.resumeWindow,
    };
  }

  forget(core: SessionCore): void {
    if (this.#live.get(core.id) === core) this.#live.delete(core.id);
  }

  /** Ends every transport on this node with `code`; the sessions live on in the store. */
  closeAll(code: number, reason: string): void {
    this.#stopExpiry();
    for (const core of [...this.#live.values()]) core.dispose(code, reason);
  }

  emitMessage(session: Session, data: string | Buffer): void {
    this.#safely(() => this.#events.message(session, data));
  }

  emitClose(session: Session, code: number, reason: string): void {
    this.#safely(() => this.#events.close(session, code, reason));
  }

  emitTransport(session: Session, name: TransportName): void {
    this.#safely(() => this.#events.transport(session, name));
  }

  emitError(err: unknown): void {
    this.#events.error(err);
  }

  #expired(record: SessionRecord): void {
    const core = this.#live.get(record.id) ?? new SessionCore(this, record);
    const wasClosed = record.closed !== undefined || core.closed;
    core.closed = true;
    core.dispose(4002, 'resume window elapsed');
    if (!wasClosed) this.emitClose(core.handle, 4002, 'resume window elapsed');
  }

  /** An application handler that throws must not break the session machinery. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#events.error(err);
    }
  }
}
