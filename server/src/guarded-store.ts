/**
 * A {@link Store} wrapper that turns every failure of a networked store into a
 * `BurrowError('store_unavailable')`, and fails at once (without calling the store) while the store
 * reports itself `down`, so no request ever waits on an unreachable store. The session core and the
 * HTTP layer tell a store failure (503 / 1013, the session lives on) from a bug (500 / 1011) by that
 * error. `MemoryStore` is never wrapped: it cannot be down, and its fast path stays as it is.
 */
import { storeUnavailable } from './errors.js';
import type {
  AppendLimits,
  AppendResult,
  CloseResult,
  InboundData,
  InboundReplay,
  InboundResult,
  NewFrame,
  OutboundFrame,
  SessionRecord,
  Store,
  StoreStatus,
  WakeEvent,
} from './store.js';

export class GuardedStore implements Store {
  readonly #inner: Store;

  constructor(inner: Store) {
    this.#inner = inner;
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inner.status() === 'down') return Promise.reject(storeUnavailable());
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      return Promise.reject(storeUnavailable(err));
    }
    return p.then(undefined, (err: unknown) => {
      throw storeUnavailable(err);
    });
  }

  create(record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#call(() => this.#inner.create(record, ttlMs));
  }
  get(sid: string): Promise<SessionRecord | undefined> {
    return this.#call(() => this.#inner.get(sid));
  }
  touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    return this.#call(() => this.#inner.touch(sid, ttlMs, activity));
  }
  delete(sid: string): Promise<void> {
    return this.#call(() => this.#inner.delete(sid));
  }
  setData(sid: string, data: unknown): Promise<boolean> {
    return this.#call(() => this.#inner.setData(sid, data));
  }
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits): Promise<AppendResult> {
    return this.#call(() => this.#inner.append(sid, frames, limits));
  }
  appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    return this.#call(() => this.#inner.appendClose(sid, by, code, reason));
  }
  read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    return this.#call(() => this.#inner.read(sid, afterSeq, maxFrames, maxBytes));
  }
  ack(sid: string, ack: number): Promise<boolean> {
    return this.#call(() => this.#inner.ack(sid, ack));
  }
  acceptInbound(sid: string, seq: number, frame?: InboundData, force?: boolean): Promise<InboundResult> {
    return this.#call(() => this.#inner.acceptInbound(sid, seq, frame, force));
  }
  confirmInbound(sid: string, seq: number): void {
    this.#inner.confirmInbound?.(sid, seq);
  }
  replayInbound(sid: string): Promise<InboundReplay> {
    const inner = this.#inner;
    return inner.replayInbound ? this.#call(() => inner.replayInbound!(sid)) : Promise.resolve({});
  }
  publish(sid: string, event: WakeEvent): Promise<void> {
    return this.#call(() => this.#inner.publish(sid, event));
  }
  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void {
    return this.#inner.subscribe(sid, listener);
  }
  onExpired(listener: (record: SessionRecord) => void): () => void {
    return this.#inner.onExpired(listener);
  }
  join(sid: string, room: string): Promise<boolean> {
    return this.#call(() => this.#inner.join(sid, room));
  }
  leave(sid: string, room: string): Promise<void> {
    return this.#call(() => this.#inner.leave(sid, room));
  }
  rooms(sid: string): Promise<readonly string[]> {
    return this.#call(() => this.#inner.rooms(sid));
  }
  members(room: string | undefined): Promise<readonly string[]> {
    return this.#call(() => this.#inner.members(room));
  }
  appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    return this.#call(() => this.#inner.appendEach(sids, frame, limits));
  }
  status(): StoreStatus {
    return this.#inner.status();
  }
  onStatus(listener: (status: StoreStatus) => void): () => void {
    return this.#inner.onStatus(listener);
  }
  close(): Promise<void> {
    return this.#inner.close?.() ?? Promise.resolve();
  }
}
