/**
 * The base of {@link Store} decorators: every async call goes through one `around(op, call)`, and the
 * synchronous parts (subscriptions, status, the journal's confirm) go straight to the inner store. A
 * decorator says what it adds in `around` and nothing else.
 */
import type {
  AppendLimits,
  AppendResult,
  CloseResult,
  InboundBatchResult,
  InboundData,
  InboundFrame,
  InboundReplay,
  InboundResult,
  NewFrame,
  OutboundFrame,
  SessionRecord,
  Store,
  StoreStatus,
  WakeEvent,
} from './store.js';

export abstract class WrappedStore implements Store {
  /** Present exactly when the inner store has it (the session core tells by its presence). */
  readonly touchProven?: (sid: string, tokenHash: string, ttlMs: number, claim: boolean) => Promise<SessionRecord | undefined>;

  protected constructor(protected readonly inner: Store) {
    if (inner.touchProven) {
      const touchProven = inner.touchProven.bind(inner);
      this.touchProven = (sid, tokenHash, ttlMs, claim) => this.around('touchProven', () => touchProven(sid, tokenHash, ttlMs, claim));
    }
  }

  /** Runs one call of the inner store; `op` names the Store method. */
  protected abstract around<T>(op: string, call: () => Promise<T>): Promise<T>;

  create(record: SessionRecord, ttlMs: number): Promise<void> {
    return this.around('create', () => this.inner.create(record, ttlMs));
  }
  get(sid: string): Promise<SessionRecord | undefined> {
    return this.around('get', () => this.inner.get(sid));
  }
  touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    return this.around('touch', () => this.inner.touch(sid, ttlMs, activity));
  }
  delete(sid: string): Promise<void> {
    return this.around('delete', () => this.inner.delete(sid));
  }
  setData(sid: string, data: unknown): Promise<boolean> {
    return this.around('setData', () => this.inner.setData(sid, data));
  }
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token?: string, after?: string): Promise<AppendResult> {
    return this.around('append', () => this.inner.append(sid, frames, limits, token, after));
  }
  appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    return this.around('appendClose', () => this.inner.appendClose(sid, by, code, reason));
  }
  read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    return this.around('read', () => this.inner.read(sid, afterSeq, maxFrames, maxBytes));
  }
  ack(sid: string, ack: number): Promise<boolean> {
    return this.around('ack', () => this.inner.ack(sid, ack));
  }
  acceptInbound(sid: string, seq: number, frame?: InboundData, force?: boolean): Promise<InboundResult> {
    return this.around('acceptInbound', () => this.inner.acceptInbound(sid, seq, frame, force));
  }
  acceptInboundBatch(sid: string, frames: readonly InboundFrame[]): Promise<InboundBatchResult> {
    const inner = this.inner;
    return this.around('acceptInboundBatch', () => (inner.acceptInboundBatch ? inner.acceptInboundBatch(sid, frames) : acceptEach(inner, sid, frames)));
  }
  confirmInbound(sid: string, seq: number, soon?: boolean, after?: () => string | undefined): void {
    this.inner.confirmInbound?.(sid, seq, soon, after);
  }
  replayInbound(sid: string): Promise<InboundReplay> {
    const inner = this.inner;
    return inner.replayInbound ? this.around('replayInbound', () => inner.replayInbound!(sid)) : Promise.resolve({});
  }
  claimLostClose(sid: string, ttlMs: number): Promise<boolean | undefined> {
    const inner = this.inner;
    return inner.claimLostClose ? this.around('claimLostClose', () => inner.claimLostClose!(sid, ttlMs)) : Promise.resolve(undefined);
  }
  publish(sid: string, event: WakeEvent): Promise<void> {
    return this.around('publish', () => this.inner.publish(sid, event));
  }
  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void {
    return this.inner.subscribe(sid, listener);
  }
  onExpired(listener: (record: SessionRecord) => void): () => void {
    return this.inner.onExpired(listener);
  }
  join(sid: string, room: string): Promise<boolean> {
    return this.around('join', () => this.inner.join(sid, room));
  }
  leave(sid: string, room: string): Promise<void> {
    return this.around('leave', () => this.inner.leave(sid, room));
  }
  rooms(sid: string): Promise<readonly string[]> {
    return this.around('rooms', () => this.inner.rooms(sid));
  }
  members(room: string | undefined): Promise<readonly string[]> {
    return this.around('members', () => this.inner.members(room));
  }
  appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    return this.around('appendEach', () => this.inner.appendEach(sids, frame, limits));
  }
  status(): StoreStatus {
    return this.inner.status();
  }
  onStatus(listener: (status: StoreStatus) => void): () => void {
    return this.inner.onStatus(listener);
  }
  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

/** `acceptInboundBatch` through `acceptInbound`, one frame at a time, for a store without it. */
async function acceptEach(store: Store, sid: string, frames: readonly InboundFrame[]): Promise<InboundBatchResult> {
  const statuses: InboundResult['status'][] = [];
  let ack = 0;
  for (const f of frames) {
    const r = await store.acceptInbound(sid, f.seq, f);
    statuses.push(r.status);
    ack = r.ack;
    if (r.replay || r.recheckMs !== undefined || (r.status !== 'new' && r.status !== 'dup')) {
      return { statuses, ack, ...(r.replay ? { replay: r.replay } : {}), ...(r.recheckMs !== undefined ? { recheckMs: r.recheckMs } : {}) };
    }
  }
  return { statuses, ack };
}
