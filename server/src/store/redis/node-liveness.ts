/**
 * Node liveness for the inbound journal (journal.ts): this node's key `{prefix}:node:{id}`, set with a
 * short TTL and refreshed every third of it, and what this node knows of the others'. On a single
 * Redis the key also names the node's command connection, so a killed node counts as dead as soon as
 * Redis drops its client, not when its key lapses.
 */
import { randomBytes } from 'node:crypto';
import { batchOrThrow, type Shared } from './commands.js';

/**
 * On a single Redis a node's liveness key holds the client id of its command connection, and a node
 * whose connection is gone counts as dead at once instead of when its key lapses: a SIGKILLed process's
 * sockets are closed by the kernel, so Redis drops its client within a round trip. A live node seen
 * that way is trusted this long before being asked about again.
 */
const CONNECTED_TRUST_MS = 250;
/**
 * A node whose recorded connection is missing is dead only if it is still missing, under the same
 * client id, this long after it was first seen missing: a node whose connection dropped and came back
 * writes its new client id on reconnect, and must not lose its entries to a blip.
 */
const GONE_GRACE_MS = 300;

/** This node's liveness key, and what it knows of the other nodes'. */
export class NodeLiveness {
  /** This node (store instance): owner of the inbound journal entries it writes. No space in it. */
  readonly id = randomBytes(12).toString('base64url');
  readonly #s: Shared;
  readonly #ttlMs: number;
  readonly #timer: NodeJS.Timeout;
  /** Other nodes seen alive, until when (ms epoch) that is known without asking again. */
  readonly #aliveUntil = new Map<string, number>();
  /** Other nodes whose recorded connection was missing: which client id, first seen missing when. */
  readonly #goneSince = new Map<string, { readonly cid: string; readonly at: number }>();
  /** Client id of this node's command connection (single Redis; changes on every reconnect). */
  #clientId = '';

  constructor(shared: Shared, ttlMs: number) {
    this.#s = shared;
    this.#ttlMs = ttlMs;
    this.#timer = setInterval(() => void this.beat().catch((err: unknown) => shared.onError(err)), Math.floor(ttlMs / 3));
    this.#timer.unref();
  }

  /** Marks this node alive for another `nodeTtlMs`. */
  async beat(): Promise<void> {
    const { r, keys } = this.#s;
    if (this.#s.closed() || r.status !== 'ready') return;
    // `c:` marks a client id: a node of an earlier version writes '1', which names no connection.
    await r.set(keys.node(this.id), this.#clientId ? `c:${this.#clientId}` : '1', 'PX', this.#ttlMs);
  }

  /** The command connection is (re)connected: records its client id, then beats. */
  async connected(): Promise<void> {
    const r = this.#s.r;
    // On a Cluster a node has a connection per shard: liveness stays on the key's TTL there.
    // A Redis that refuses CLIENT (some managed services rename it) leaves liveness on the TTL too.
    if (!r.isCluster && r.status === 'ready') this.#clientId = String(await r.client('ID').catch(() => ''));
    await this.beat();
  }

  /** Until when (ms epoch) `owner` is known to be alive; 0 when it is not known to be. */
  aliveUntil(owner: string): number {
    return this.#aliveUntil.get(owner) ?? 0;
  }

  /** Asks Redis, in one round trip, about every owner not known to be alive at `now`. */
  async refresh(owners: readonly string[], now: number): Promise<void> {
    const unknown = [...new Set(owners)].filter((o) => this.aliveUntil(o) <= now);
    if (unknown.length === 0) return;
    const { r, keys } = this.#s;
    const got = await batchOrThrow(r, unknown.flatMap((o) => [(c) => c.pttl(keys.node(o)), (c) => c.get(keys.node(o))]));
    // Owners whose key names a connection: one CLIENT LIST says which of those connections exist.
    const cids = new Map<string, string>();
    unknown.forEach((o, i) => {
      const v = got[2 * i + 1];
      const cid = typeof v === 'string' ? /^c:(\d+)$/.exec(v)?.[1] : undefined;
      if (!r.isCluster && cid !== undefined) cids.set(o, cid);
    });
    let connected = new Set<string>();
    if (cids.size > 0) {
      const list = await r.client('LIST', 'ID', ...new Set(cids.values())).then(String, () => undefined);
      // Unanswered: every such owner counts as connected (their TTL still decides).
      connected = list === undefined ? new Set(cids.values()) : new Set([...list.matchAll(/(?:^|\n)id=(\d+) /g)].map((m) => m[1]!));
    }
    unknown.forEach((o, i) => {
      const t = Number(got[2 * i]);
      const cid = cids.get(o);
      if (t === -2) {
        this.#aliveUntil.delete(o);
        this.#goneSince.delete(o);
      } else if (cid === undefined || connected.has(cid)) {
        this.#goneSince.delete(o);
        const until = now + (t > 0 ? t : this.#ttlMs);
        this.#aliveUntil.set(o, cid === undefined ? until : Math.min(until, now + CONNECTED_TRUST_MS));
      } else {
        const gone = this.#goneSince.get(o);
        if (!gone || gone.cid !== cid) this.#goneSince.set(o, { cid, at: now });
        if (gone && gone.cid === cid && now - gone.at >= GONE_GRACE_MS) this.#aliveUntil.delete(o);
        // Missing, within the grace: alive until the grace runs out, when the caller looks again.
        else this.#aliveUntil.set(o, (gone && gone.cid === cid ? gone.at : now) + GONE_GRACE_MS);
      }
    });
    if (this.#goneSince.size > 1000) for (const [o, g] of this.#goneSince) if (now - g.at > this.#ttlMs) this.#goneSince.delete(o);
    if (this.#aliveUntil.size > 1000) for (const [o, until] of this.#aliveUntil) if (until <= now) this.#aliveUntil.delete(o);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Deletes this node's key, so other nodes take over its journal entries at once. */
  async leave(): Promise<void> {
    await this.#s.r.del(this.#s.keys.node(this.id));
  }
}
