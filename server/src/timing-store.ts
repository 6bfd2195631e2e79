/**
 * A {@link Store} wrapper that reports how long each call took (`observe(op, seconds)`, failures
 * included). Only installed when metrics are on, so the fast path pays nothing otherwise.
 */
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

export type StoreObserver = (op: string, seconds: number) => void;

export class TimingStore implements Store {
  readonly #inner: Store;
  readonly #observe: StoreObserver;

  constructor(inner: Store, observe: StoreObserver) {
    this.#inner = inner;
    this.#observe = observe;
  }

  #time<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const done = (): void => {
      try {
        this.#observe(op, (performance.now() - t0) / 1000);
      } catch {
        // Metrics never break a store call.
      }
    };
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      done();
      throw err;
    }
    return p.then(
      (v) => {
        done();
        return v;
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
  }

  create(record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#time('create', () => this.#inner.create(record, ttlMs));
  }
  get(sid: string): Promise<SessionRecord | undefined> {
    return this.#time('get', () => this.#inner.get(sid));
  }
  touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    return this.#time('touch', () => this.#inner.touch(sid, ttlMs, activity));
  }
  delete(sid: string): Promise<void> {
    return this.#time('delete', () => this.#inner.delete(sid));
  }
  setData(sid: string, data: unknown): Promise<boolean> {
    return this.#time('setData', () => this.#inner.setData(sid, data));
  }
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits): Promise<AppendResult> {
    return this.#time('append', () => this.#inner.append(sid, frames, limits));
  }
  appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    return this.#time('appendClose', () => this.#inner.appendClose(sid, by, code, reason));
  }
  read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    return this.#time('read', () => this.#inner.read(sid, afterSeq, maxFrames, maxBytes));
  }
  ack(sid: string, ack: number): Promise<boolean> {
    return this.#time('ack', () => this.#inner.ack(sid, ack));
  }
  acceptInbound(sid: string, seq: number, frame?: InboundData, force?: boolean): Promise<InboundResult> {
    return this.#time('acceptInbound', () => this.#inner.acceptInbound(sid, seq, frame, force));
  }
  confirmInbound(sid: string, seq: number): void {
    this.#inner.confirmInbound?.(sid, seq);
  }
  replayInbound(sid: string): Promise<InboundReplay> {
    const inner = this.#inner;
    return inner.replayInbound ? this.#time('replayInbound', () => inner.replayInbound!(sid)) : Promise.resolve({});
  }
  publish(sid: string, event: WakeEvent): Promise<void> {
    return this.#time('publish', () => this.#inner.publish(sid, event));
  }
  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void {
    return this.#inner.subscribe(sid, listener);
  }
  onExpired(listener: (record: SessionRecord) => void): () => void {
    return this.#inner.onExpired(listener);
  }
  join(sid: string, room: string): Promise<boolean> {
    return this.#time('join', () => this.#inner.join(sid, room));
  }
  leave(sid: string, room: string): Promise<void> {
    return this.#time('leave', () => this.#inner.leave(sid, room));
  }
  rooms(sid: string): Promise<readonly string[]> {
    return this.#time('rooms', () => this.#inner.rooms(sid));
  }
  members(room: string | undefined): Promise<readonly string[]> {
    return this.#time('members', () => this.#inner.members(room));
  }
  appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    return this.#time('appendEach', () => this.#inner.appendEach(sids, frame, limits));
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
