/** What `new RedisStore(options)` accepts, and the defaults it fills in. */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { count } from './codec.js';

export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` instance (yours: not closed by `close()`; configure it with
   * `enableOfflineQueue: false` and `maxRetriesPerRequest: 0` for fail-fast calls), or connection
   * options / a `redis://` URL (the store creates, configures and closes the connection).
   * Default: `redis://127.0.0.1:6379`.
   */
  readonly redis?: Redis | Cluster | RedisOptions | string;
  /** Prefix of every key and channel (a trailing `:` is dropped). Default `'burrow'`. */
  readonly prefix?: string;
  /**
   * How much longer than the TTL the record lingers for the node that claims its expiry (ms). Default
   * 60000. At least 1000, and longer than `sweepIntervalMs` when that is set: an expiry no node heard
   * of is found by the sweep, and one found after the grace has no record left to report it from
   * (no `close` 4002, its rooms kept).
   */
  readonly expiryGraceMs?: number;
  /** Merge `Ex` into `notify-keyspace-events` at every (re)connect. Default true. */
  readonly configureKeyspaceEvents?: boolean;
  /** Period of the sweep that claims expiries no node heard of (ms); 0 = only after reconnects. Default 30000. */
  readonly sweepIntervalMs?: number;
  /**
   * Upper bound of the reconnect backoff (ms). Default 250: a restarted Redis is found again within a
   * quarter second (recovery after a restart is the client's backoff plus this), at the cost of one
   * refused connect per connection per 250 ms while it is down.
   */
  readonly maxReconnectDelayMs?: number;
  /** A command with no answer after this long fails (ms). Default 5000. */
  readonly commandTimeoutMs?: number;
  /**
   * Times an in-flight command survives a reconnect; for connections the store creates. Default 0: a
   * script cut off mid-flight may have run, so it is failed rather than run twice.
   */
  readonly maxRetriesPerRequest?: number;
  /** Errors that have no caller to reject (background claims, sweeps, CONFIG). Default: ignored. */
  readonly onError?: (err: unknown) => void;
  /**
   * TTL of this node's liveness key (ms), refreshed every third of it. When it lapses (the process was
   * killed), another node redelivers the messages this one accepted but may not have emitted. Default 5000.
   */
  readonly nodeTtlMs?: number;
  /**
   * On a Redis Cluster: how often the subscriber's connection refreshes its map of the cluster's
   * servers (ms). The subscriber is one connection to one server; when that server goes, wake-ups
   * published before ioredis has moved it to another are lost, and a server leaving the map is the
   * only sign of it: the store then subscribes again and has every listener read its log again.
   * Default 1000; 0 leaves it to ioredis (no periodic refresh).
   */
  readonly clusterRefreshMs?: number;
  /**
   * An append of text frames up to this many bytes (the log's encoding) carries them in its wake-up,
   * so the node holding the session's downstream writes them without reading the log: a Redis round
   * trip less per append of another node (issue #14). Larger appends, any with a binary frame, and
   * broadcasts (`appendEach`) wake with the seq only, and the wakes of one turn of a node carry at
   * most 4 times this in all. Wakes are pushed, not pulled: each subscribed node receives the bytes
   * (JSON-escaped: text full of control characters grows up to 6×), they count against Redis's
   * `client-output-buffer-limit pubsub` (a subscriber past it is disconnected, and its node's store
   * goes `down` until it is back), and on a Redis Cluster a PUBLISH goes to every server of the
   * cluster. 0 turns it off. Default 16384; at most 1 MiB.
   */
  readonly wakeFramesMaxBytes?: number;
}

/** The options with their defaults applied (the connection ones are read where connections are made). */
export interface Settings {
  readonly prefix: string;
  readonly graceMs: number;
  readonly configureKeyspaceEvents: boolean;
  /** 0: no periodic sweep. */
  readonly sweepIntervalMs: number;
  /** How long a sweep keeps the other nodes from sweeping. */
  readonly sweepLockMs: number;
  readonly nodeTtlMs: number;
  readonly onError: (err: unknown) => void;
  /** An integer string; '0': wake-ups never carry frames. */
  readonly wakeFramesMaxBytes: string;
}

export function settings(options: RedisStoreOptions): Settings {
  const every = options.sweepIntervalMs ?? 30_000;
  const grace = options.expiryGraceMs ?? 60_000;
  if (!(grace >= 1000) || (every > 0 && grace <= every)) {
    throw new TypeError(`RedisStore: option expiryGraceMs must be at least 1000 ms and longer than sweepIntervalMs (${every} ms); got ${grace}`);
  }
  return {
    // 'burrow:' and 'burrow' name the same layout.
    prefix: (options.prefix ?? 'burrow').replace(/:+$/, '') || 'burrow',
    graceMs: grace,
    configureKeyspaceEvents: options.configureKeyspaceEvents ?? true,
    sweepIntervalMs: every,
    sweepLockMs: Math.max(100, Math.floor((every || 30_000) / 2)),
    nodeTtlMs: Math.max(30, options.nodeTtlMs ?? 5000),
    onError: options.onError ?? (() => {}),
    wakeFramesMaxBytes: count(Math.min(options.wakeFramesMaxBytes ?? 16_384, 1 << 20)),
  };
}
