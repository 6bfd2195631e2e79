/**
 * Expiry, on Redis's clock only. When a session's `ttl` key expires, Redis publishes
 * `__keyevent@<db>__:expired`; every node runs the claim script and only the first gets the record (and
 * deletes the keys), so each expiry reaches exactly one `onExpired` listener.
 *
 * Keyspace notifications are enabled at every (re)connect with `CONFIG SET notify-keyspace-events`
 * (merging `Ex` into what is set) unless `configureKeyspaceEvents: false`; where CONFIG is disabled
 * (managed Redis), the operator must set `notify-keyspace-events` to include `Ex`. Notifications are
 * fire-and-forget, so a periodic sweep (and one after every reconnect of the subscriber) claims any
 * expiry whose event no node heard; on Redis Cluster, where notifications are node-local, the sweep is
 * what reports expiries. The sweep walks `{prefix}:sessions` with SSCAN and runs the claim script on
 * each; a lock key (`{prefix}:sweep`, SET NX PX) makes it one sweep per period across all nodes.
 */
import type { Cluster, Redis } from 'ioredis';
import type { SessionRecord } from '../store.js';
import { batch, batchOrThrow, type Command, type Settled, type Shared } from './commands.js';
import { decodeRecord } from './codec.js';
import type { Settings } from './options.js';

const SWEEP_BATCH = 500;

export class Expiry {
  readonly #s: Shared;
  readonly #lockMs: number;
  readonly #isUp: () => boolean;
  readonly #listeners: ((record: SessionRecord) => void)[] = [];
  readonly #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  /** `isUp`: whether the store is `up` (a sweep runs only then). */
  constructor(shared: Shared, settings: Pick<Settings, 'sweepIntervalMs' | 'sweepLockMs'>, isUp: () => boolean) {
    this.#s = shared;
    this.#lockMs = settings.sweepLockMs;
    this.#isUp = isUp;
    if (settings.sweepIntervalMs > 0) {
      this.#timer = setInterval(() => void this.sweep(), settings.sweepIntervalMs);
      this.#timer.unref();
    }
  }

  onExpired(listener: (record: SessionRecord) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /**
   * Claims every expiry no node has reported yet (events missed while no subscriber listened).
   * `force` skips the lock (this node knows it missed events).
   */
  async sweep(force = false): Promise<void> {
    if (this.#sweeping || this.#s.closed() || this.#listeners.length === 0 || !this.#isUp()) return;
    const { r, keys } = this.#s;
    this.#sweeping = true;
    try {
      // One sweep per period across all nodes: whoever takes the lock does it.
      if (!force && (await r.set(keys.sweepLock, '1', 'PX', this.#lockMs, 'NX')) !== 'OK') return;
      let cursor = '0';
      do {
        const [next, sids] = await r.sscan(keys.sessions, cursor, 'COUNT', SWEEP_BATCH);
        cursor = next;
        const res = await batch(r, sids.map((sid) => (c) => c.burrowClaim(...keys.session(sid))));
        await Promise.all(sids.map((sid, i) => this.#claimed(sid, res[i])));
      } while (cursor !== '0' && !this.#s.closed());
    } catch (err) {
      this.#s.onError(err);
    } finally {
      this.#sweeping = false;
    }
  }

  /** Claims the expiry of `sid` (its `ttl` key expired, an event said so). */
  async claim(sid: string): Promise<void> {
    if (this.#listeners.length === 0 || this.#s.closed()) return;
    try {
      const [r] = await batch(this.#s.r, [(c) => c.burrowClaim(...this.#s.keys.session(sid))]);
      await this.#claimed(sid, r);
    } catch (err) {
      this.#s.onError(err);
    }
  }

  /** Merges `Ex` into `notify-keyspace-events` on every master; where CONFIG is refused, reports it and goes on. */
  async enableKeyspaceEvents(): Promise<void> {
    const { r } = this.#s;
    const nodes = r.isCluster ? (r as Cluster).nodes('master') : [r as Redis];
    for (const node of nodes) {
      try {
        const got = (await node.config('GET', 'notify-keyspace-events')) as unknown;
        const current = Array.isArray(got) ? String(got[1] ?? '') : '';
        let want = current;
        if (!want.includes('E')) want += 'E';
        if (!want.includes('x') && !want.includes('A')) want += 'x';
        if (want !== current) await node.config('SET', 'notify-keyspace-events', want);
      } catch (err) {
        // CONFIG disabled (managed Redis): the operator sets notify-keyspace-events; the sweep covers us.
        this.#s.onError(err);
      }
    }
  }

  /** Stops the periodic sweep and forgets the listeners (the store is closing). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#listeners.length = 0;
  }

  /** Handles one claim reply: cleans memberships and reports the expiry if this node won it. */
  async #claimed(sid: string, res: Settled | undefined): Promise<void> {
    if (!res) return;
    if (!res.ok) {
      this.#s.onError(res.error);
      return;
    }
    const { r, keys, onError } = this.#s;
    const v = res.value;
    if (v === 0) return; // alive
    if (v === 1) {
      // Gone already (deleted, or claimed by a node that cleans up): drop a stale membership.
      await r.srem(keys.sessions, sid).catch((err: unknown) => onError(err));
      return;
    }
    if (!Array.isArray(v)) return;
    const record = decodeRecord(sid, v[0]);
    try {
      const rooms: unknown[] = Array.isArray(v[1]) ? v[1] : [];
      await batchOrThrow(r, [(c) => c.srem(keys.sessions, sid), ...rooms.map((room): Command => (c) => c.srem(keys.room(String(room)), sid))]);
    } catch (err) {
      onError(err);
    }
    if (!record) return;
    const listener = this.#listeners[0];
    try {
      listener?.(record);
    } catch (err) {
      onError(err);
    }
  }
}
