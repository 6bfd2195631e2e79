/**
 * The two connections (commands, and the subscriber) and the store's health as they make it.
 *
 * Connections are unusable until the first `ready` (no offline queue): await `store.ready()` before
 * serving, or treat `status() === 'down'` at start like any outage. While Redis is unreachable every
 * call fails at once (no offline queue, no resend of a command that may already have run) and the
 * client reconnects by itself with capped backoff; `status()` is `down`. The store is `up` once both
 * connections are ready again (and the hooks that prepare them have run).
 *
 * After a reconnect the epoch tells a restart that kept its data (`up`) from one that lost it (`lost`,
 * then `up`): a random id set at first start under `{prefix}:epoch`, read again at every connect.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { StoreStatus } from '../store.js';
import type { Client, Shared } from './commands.js';
import type { RedisStoreOptions } from './options.js';

export interface Connections {
  /** The command connection: given (and then not ours to close) or made here. */
  readonly main: Client;
  readonly ownsMain: boolean;
  /** The subscriber: always made here, a duplicate of `main`. */
  readonly sub: Client;
  /** The database and ioredis keyPrefix of `main` (0 and '' on a Cluster). */
  readonly db: number;
  readonly keyPrefix: string;
}

function isClient(v: RedisStoreOptions['redis']): v is Client {
  return v instanceof Redis || (typeof v === 'object' && v !== null && typeof (v as Partial<Client>).defineCommand === 'function');
}

/** Makes (or takes) the command connection, and the subscriber; both fail fast while Redis is away. */
/** Default of `maxReconnectDelayMs`: two connect attempts per node per 250 ms while Redis is down. */
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 250;
/** Default of `clusterRefreshMs`. */
export const DEFAULT_CLUSTER_REFRESH_MS = 1000;
/** A failed resubscription after a Cluster server left is tried again after this. */
const RESYNC_RETRY_MS = 250;

export function connect(options: RedisStoreOptions): Connections {
  // Short: a Redis that restarts is found again within this of coming back (the recovery a client
  // sees), and a refused connect on the way costs next to nothing.
  const maxDelay = Math.max(1, options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS);
  const failFast: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    // Reconnects forever, backing off exponentially up to maxDelay.
    retryStrategy: (times) => Math.min(maxDelay, 50 * 2 ** Math.min(times, 16)),
  };
  const given = options.redis;
  const ownsMain = !isClient(given);
  const main = isClient(given) ? given : typeof given === 'string' ? new Redis(given, failFast) : new Redis({ ...(given ?? {}), ...failFast });
  // The subscriber resubscribes by itself (pubsub.ts), not through ioredis.
  const refresh = Math.max(0, options.clusterRefreshMs ?? DEFAULT_CLUSTER_REFRESH_MS);
  const sub = main.isCluster
    ? (main as Cluster).duplicate(undefined, { slotsRefreshInterval: refresh, redisOptions: { ...failFast, autoResubscribe: false } })
    : (main as Redis).duplicate({ ...failFast, autoResubscribe: false });
  const single = main.isCluster ? undefined : (main as Redis).options;
  return { main, ownsMain, sub, db: single?.db ?? 0, keyPrefix: single?.keyPrefix ?? '' };
}

/** What the other parts do when a connection comes (back). */
export interface ConnectionHooks {
  /** The command connection is ready: runs before it counts (a failure waits for the next `ready`). */
  readonly mainReady: () => Promise<void>;
  /** The subscriber is ready: subscribes before it counts. */
  readonly subReady: () => Promise<void>;
  /** The subscriber counts again; `reconnect` is false the first time. */
  readonly subResumed: (reconnect: boolean) => void;
  /** A message on any channel the subscriber listens to. */
  readonly message: (channel: string, message: string) => void;
  /**
   * A Redis Cluster's server left (or joined): the subscriber may have moved to another server,
   * losing what was published meanwhile; it has subscribed again (`subReady`) when this is called.
   */
  readonly subMoved: () => void;
}

export class Health {
  readonly #s: Shared;
  readonly #conn: Connections;
  readonly #listeners = new Set<(status: StoreStatus) => void>();
  readonly #readyWaiters: (() => void)[] = [];
  readonly #detach: (() => void)[] = [];
  #hooks: ConnectionHooks | undefined;
  #status: StoreStatus = 'down';
  #mainReady = false;
  #subReady = false;
  #subWasReady = false;
  #epoch: string | undefined;
  /** A resubscription after a Cluster server left (or joined): due, running, and due again after it. */
  #resync: NodeJS.Timeout | undefined;
  #resyncing = false;
  #resyncAgain = false;

  constructor(shared: Shared, connections: Connections) {
    this.#s = shared;
    this.#conn = connections;
  }

  /** Follows both connections from now on, calling `hooks` (once the parts they call exist). */
  start(hooks: ConnectionHooks): void {
    this.#hooks = hooks;
    const { main, sub } = this.#conn;
    this.#on(main, 'ready', () => void this.#onMainReady());
    this.#on(main, 'close', () => this.#onMainDown());
    this.#on(main, 'end', () => this.#onMainDown());
    this.#on(main, 'error', () => {}); // reported through status; ioredis would log it otherwise
    this.#on(sub, 'ready', () => void this.#onSubReady());
    this.#on(sub, 'close', () => this.#onSubDown());
    this.#on(sub, 'end', () => this.#onSubDown());
    this.#on(sub, 'error', () => {});
    this.#on(sub, 'message', (channel: string, message: string) => hooks.message(channel, message));
    if (main.isCluster) {
      // ioredis moves a Cluster's subscriber to another server by itself when its server goes, and
      // says nothing: neither connection closes. Its map of the servers changing is the only sign.
      const moved = (): void => this.#scheduleResync(0);
      for (const c of [main, sub]) for (const event of ['-node', '+node']) this.#on(c, event, moved);
    }
    if (main.status === 'ready') void this.#onMainReady();
  }

  /** Subscribes every channel again after `ms`, then tells the listeners to read again; retried until it goes through. */
  #scheduleResync(ms: number): void {
    if (this.#s.closed()) return;
    // A change heard while one runs: that one may have subscribed on the server that just went.
    if (this.#resyncing) this.#resyncAgain = true;
    if (this.#resync || this.#resyncing) return;
    // After ioredis's own handlers of the same event (it picks the new subscriber there).
    this.#resync = setTimeout(() => void this.#resubscribe(), ms);
    this.#resync.unref();
  }

  async #resubscribe(): Promise<void> {
    this.#resync = undefined;
    this.#resyncing = true;
    this.#resyncAgain = false;
    let ok = false;
    try {
      await this.#hooks?.subReady();
      ok = true;
      if (!this.#s.closed()) this.#hooks?.subMoved();
    } catch {
      // The new subscriber is not there yet: soon again.
    } finally {
      this.#resyncing = false;
    }
    if (!ok || this.#resyncAgain) this.#scheduleResync(ok ? 0 : RESYNC_RETRY_MS);
  }

  status(): StoreStatus {
    return this.#status;
  }

  onStatus(listener: (status: StoreStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the store is first `up`. */
  ready(): Promise<void> {
    if (this.#status === 'up') return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Stops following the connections, then closes the subscriber and the command connection if it is ours. */
  async close(): Promise<void> {
    if (this.#resync) clearTimeout(this.#resync);
    for (const off of this.#detach) off();
    this.#detach.length = 0;
    this.#listeners.clear();
    const quit = async (c: Client): Promise<void> => {
      try {
        if (c.status === 'ready') await c.quit();
        else c.disconnect();
      } catch {
        c.disconnect();
      }
    };
    const { main, sub, ownsMain } = this.#conn;
    await Promise.all([quit(sub), ownsMain ? quit(main) : undefined]);
  }

  #on(c: Client, event: string, fn: (...args: never[]) => void): void {
    const f = fn as (...args: unknown[]) => void;
    c.on(event, f);
    this.#detach.push(() => c.off(event, f));
  }

  async #onMainReady(): Promise<void> {
    const { r, keys } = this.#s;
    try {
      await this.#hooks?.mainReady();
      const epoch = await r.burrowEpoch(keys.epoch, randomBytes(12).toString('base64url'));
      if (this.#s.closed() || r.status !== 'ready') return;
      const lost = this.#epoch !== undefined && epoch !== this.#epoch;
      this.#epoch = epoch;
      this.#mainReady = true;
      if (lost) this.#setStatus('lost');
      this.#updateStatus();
    } catch (err) {
      // The connection dropped again (the next 'ready' retries) or a script failed.
      this.#s.onError(err);
    }
  }

  #onMainDown(): void {
    this.#mainReady = false;
    this.#updateStatus();
  }

  async #onSubReady(): Promise<void> {
    const { sub } = this.#conn;
    try {
      await this.#hooks?.subReady();
      if (this.#s.closed() || sub.status !== 'ready') return;
      const reconnect = this.#subWasReady;
      this.#subReady = this.#subWasReady = true;
      this.#updateStatus();
      this.#hooks?.subResumed(reconnect);
    } catch (err) {
      this.#s.onError(err);
    }
  }

  #onSubDown(): void {
    this.#subReady = false;
    this.#updateStatus();
  }

  #updateStatus(): void {
    this.#setStatus(this.#mainReady && this.#subReady ? 'up' : 'down');
  }

  #setStatus(s: StoreStatus): void {
    if (this.#s.closed() || s === this.#status) return;
    this.#status = s;
    if (s === 'up') for (const w of this.#readyWaiters.splice(0)) w();
    for (const l of [...this.#listeners]) {
      try {
        l(s);
      } catch (err) {
        this.#s.onError(err);
      }
    }
  }
}
