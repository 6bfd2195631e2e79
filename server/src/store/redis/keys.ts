/**
 * Where everything lives in Redis. Keys of one session share the hash tag `{sid}` and no script touches
 * two slots, so the store also runs on Redis Cluster:
 *
 *   {prefix}:{sid}:rec     HASH   the record (see scripts.ts)
 *   {prefix}:{sid}:log     LIST   outbound frames, head = seq outAck+1, each a 1-byte tag + bytes (codec.ts)
 *   {prefix}:{sid}:rooms   SET    rooms of the session
 *   {prefix}:{sid}:ttl     STRING the expiry: PEXPIRE'd to the TTL; the keys above get TTL + grace
 *   {prefix}:{sid}:journal HASH   inbound journal: accepted client data frames not yet confirmed emitted
 *   {prefix}:{sid}:wake    (pub/sub channel) wake events as JSON
 *   {prefix}:room:{room}   SET    members of a room
 *   {prefix}:sessions      SET    every session (members(undefined), the expiry sweep)
 *   {prefix}:epoch         STRING random id set at first start: a different one means the data set was lost
 *   {prefix}:sweep         STRING lock: one expiry sweep per period across all nodes (SET NX PX)
 *   {prefix}:node:{id}     STRING liveness of a node (a store instance): set with a short TTL
 *
 * A connection's own ioredis `keyPrefix` goes in front of all of these; ioredis adds it to keys (not to
 * channels), and Redis names the full key in its expiry events.
 */
/** The keys every session script takes, in this order (KEYS[1..5] in scripts.ts). */
export type SessionKeys = readonly [rec: string, log: string, rooms: string, ttl: string, journal: string];

export class KeyLayout {
  readonly sessions: string;
  readonly epoch: string;
  readonly sweepLock: string;
  /** Where Redis announces expired keys of the connection's database (`notify-keyspace-events` Ex). */
  readonly expiredChannel: string;
  readonly #prefix: string;
  readonly #keyPrefix: string;

  /** `db` and `keyPrefix`: the connection's (0 and '' on a Cluster). */
  constructor(prefix: string, connection: { readonly db: number; readonly keyPrefix: string }) {
    this.#prefix = prefix;
    this.#keyPrefix = connection.keyPrefix;
    this.sessions = `${prefix}:sessions`;
    this.epoch = `${prefix}:epoch`;
    this.sweepLock = `${prefix}:sweep`;
    this.expiredChannel = `__keyevent@${connection.db}__:expired`;
  }

  session(sid: string): SessionKeys {
    const base = `${this.#prefix}:{${sid}}:`;
    return [`${base}rec`, `${base}log`, `${base}rooms`, `${base}ttl`, `${base}journal`];
  }

  /** The set of the session's rooms. */
  roomsOf(sid: string): string {
    return this.session(sid)[2];
  }

  /** Who emits the `close` of a session whose state was lost (SET NX: the first node). */
  lostClose(sid: string): string {
    return `${this.#prefix}:{${sid}}:lost`;
  }

  wake(sid: string): string {
    return `${this.#prefix}:{${sid}}:wake`;
  }

  room(room: string): string {
    return `${this.#prefix}:room:{${room}}`;
  }

  node(id: string): string {
    return `${this.#prefix}:node:{${id}}`;
  }

  /** The session whose `ttl` key an expiry event names, or undefined for any other key. */
  expiredSession(key: string): string | undefined {
    if (this.#keyPrefix && key.startsWith(this.#keyPrefix)) key = key.slice(this.#keyPrefix.length);
    const head = `${this.#prefix}:{`;
    const tail = '}:ttl';
    return key.startsWith(head) && key.endsWith(tail) ? key.slice(head.length, -tail.length) : undefined;
  }
}
