/**
 * A {@link Store} on Redis (ioredis 5), so that any number of nodes serve the same sessions.
 *
 * Every operation is one round trip: one Lua script (scripts.ts, sent as typed ioredis commands:
 * commands.ts) or one batch. The parts, each in its file:
 *
 *   keys.ts      where everything lives (one `{sid}` hash tag per session: Redis Cluster works)
 *   codec.ts     numbers, log entries and records as Redis holds them
 *   records.ts   a session's record, outbound log and rooms (appends: append-groups.ts)
 *   journal.ts   the inbound journal (confirms, claims of a dead node's entries) and node liveness
 *   pubsub.ts    wake-ups across nodes on the subscriber connection
 *   expiry.ts    expiry claims: keyspace events and the sweep
 *   health.ts    the connections, `status()` and the epoch that tells a lost data set
 *
 * This class builds them, wires the connection events to them and answers the Store contract.
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
} from '../store.js';
import { defineScripts, type Client, type Shared } from './commands.js';
import { Expiry } from './expiry.js';
import { Health, connect } from './health.js';
import { InboundJournal } from './journal.js';
import { NodeLiveness } from './node-liveness.js';
import { KeyLayout } from './keys.js';
import { settings, type RedisStoreOptions } from './options.js';
import { WakeChannels } from './pubsub.js';
import { SessionRecords } from './records.js';

/** {@link Store} on Redis: nodes sharing one Redis serve the same sessions. */
export class RedisStore implements Store {
  readonly #r: Client;
  readonly #keys: KeyLayout;
  readonly #health: Health;
  readonly #records: SessionRecords;
  readonly #node: NodeLiveness;
  readonly #journal: InboundJournal;
  readonly #wake: WakeChannels;
  readonly #expiry: Expiry;
  #closed = false;

  constructor(options: RedisStoreOptions = {}) {
    const o = settings(options);
    const conn = connect(options);
    defineScripts(conn.main);
    const keys = new KeyLayout(o.prefix, conn);
    const shared: Shared = { r: conn.main, keys, onError: o.onError, closed: () => this.#closed };
    this.#r = conn.main;
    this.#keys = keys;

    this.#health = new Health(shared, conn);
    this.#wake = new WakeChannels(shared, conn.sub);
    this.#records = new SessionRecords(shared, o.graceMs, this.#wake, o.wakeFramesMaxBytes);
    this.#node = new NodeLiveness(shared, o.nodeTtlMs);
    this.#journal = new InboundJournal(shared, this.#node);
    this.#expiry = new Expiry(shared, o, () => this.#health.status() === 'up');

    this.#health.start({
      mainReady: async () => {
        if (o.configureKeyspaceEvents) await this.#expiry.enableKeyspaceEvents();
        // Alive before the first journal entry this node writes (and again after an outage).
        await this.#node.connected();
      },
      subReady: () => this.#wake.resubscribe(),
      subResumed: (reconnect) => {
        if (reconnect) this.#wake.wakeAll();
        // After a reconnect, whatever expired while nobody listened; forced: this node missed events.
        void this.#expiry.sweep(reconnect);
      },
      // Whatever was published while the subscriber moved is lost: every listener reads its log again.
      subMoved: () => this.#wake.wakeAll(),
      message: (channel, message) => {
        if (channel !== keys.expiredChannel) return this.#wake.onMessage(channel, message);
        const sid = keys.expiredSession(message);
        if (sid !== undefined) void this.#expiry.claim(sid);
      },
    });
  }

  /** Resolves once the store is first `up`. */
  ready(): Promise<void> {
    return this.#health.ready();
  }

  /** This node's id: the owner of the inbound journal entries it writes. */
  get nodeId(): string {
    return this.#node.id;
  }

  /**
   * Claims every expiry no node has reported yet (events missed while no subscriber listened).
   * Runs periodically and after each reconnect; safe to call any time from any node.
   */
  sweep(force = false): Promise<void> {
    return this.#expiry.sweep(force);
  }

  // ---- Store: records, log, rooms (records.ts) ----------------------------------------------------

  create(record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#records.create(record, ttlMs);
  }
  get(sid: string): Promise<SessionRecord | undefined> {
    return this.#records.get(sid);
  }
  touch(sid: string, ttlMs: number, activity: boolean): Promise<SessionRecord | undefined> {
    return this.#records.touch(sid, ttlMs, activity);
  }
  touchProven(sid: string, tokenHash: string, ttlMs: number, claim: boolean): Promise<SessionRecord | undefined> {
    return this.#records.touchProven(sid, tokenHash, ttlMs, claim);
  }
  delete(sid: string): Promise<void> {
    return this.#records.delete(sid);
  }
  setData(sid: string, data: unknown): Promise<boolean> {
    return this.#records.setData(sid, data);
  }
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token?: string, after?: string): Promise<AppendResult> {
    return this.#records.append(sid, frames, limits, token, after);
  }
  appendEach(sids: readonly string[], frame: NewFrame, limits: AppendLimits): Promise<ReadonlyMap<string, AppendResult>> {
    return this.#records.appendEach(sids, frame, limits);
  }
  appendClose(sid: string, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<CloseResult> {
    return this.#records.appendClose(sid, by, code, reason);
  }
  read(sid: string, afterSeq: number, maxFrames: number, maxBytes: number): Promise<readonly OutboundFrame[]> {
    return this.#records.read(sid, afterSeq, maxFrames, maxBytes);
  }
  ack(sid: string, ack: number): Promise<boolean> {
    return this.#records.ack(sid, ack);
  }
  join(sid: string, room: string): Promise<boolean> {
    return this.#records.join(sid, room);
  }
  leave(sid: string, room: string): Promise<void> {
    return this.#records.leave(sid, room);
  }
  rooms(sid: string): Promise<readonly string[]> {
    return this.#records.rooms(sid);
  }
  members(room: string | undefined): Promise<readonly string[]> {
    return this.#records.members(room);
  }

  // ---- Store: inbound journal (journal.ts) --------------------------------------------------------

  acceptInbound(sid: string, seq: number, frame?: InboundData, force = false): Promise<InboundResult> {
    return this.#journal.accept(sid, seq, frame, force);
  }
  acceptInboundBatch(sid: string, frames: readonly InboundFrame[]): Promise<InboundBatchResult> {
    return this.#journal.acceptBatch(sid, frames);
  }
  confirmInbound(sid: string, seq: number, soon?: boolean, after?: () => string | undefined): void {
    this.#journal.confirm(sid, seq, soon, after);
  }
  async claimLostClose(sid: string, ttlMs: number): Promise<boolean> {
    return (await this.#r.set(this.#keys.lostClose(sid), '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
  }
  replayInbound(sid: string): Promise<InboundReplay> {
    return this.#journal.replay(sid);
  }

  // ---- Store: wake-ups, expiry, health ------------------------------------------------------------

  publish(sid: string, event: WakeEvent): Promise<void> {
    return this.#records.publish(sid, JSON.stringify(event));
  }
  subscribe(sid: string, listener: (event: WakeEvent) => void): () => void {
    return this.#wake.subscribe(sid, listener);
  }
  onExpired(listener: (record: SessionRecord) => void): () => void {
    return this.#expiry.onExpired(listener);
  }
  status(): StoreStatus {
    return this.#health.status();
  }
  onStatus(listener: (status: StoreStatus) => void): () => void {
    return this.#health.onStatus(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A graceful stop: confirm what this node emitted, then leave, so other nodes redeliver at once
    // whatever it accepted but never emitted (a reply that did not reach it).
    this.#node.stop();
    this.#journal.stop();
    if (this.#r.status === 'ready') {
      await this.#journal.flush().catch(() => {});
      await this.#node.leave().catch(() => {});
    }
    this.#expiry.stop();
    this.#wake.clear();
    await this.#health.close();
  }
}
