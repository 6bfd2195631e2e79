/**
 * Wake-ups across nodes: each session has a channel (`{prefix}:{sid}:wake`) carrying {@link WakeEvent}s
 * as JSON. Publishing goes over the command connection (the append scripts publish in the same step);
 * listening needs a connection of its own, the subscriber, which also listens to Redis's expiry events.
 *
 * `subscribe` is synchronous (the Store contract) while SUBSCRIBE takes a round trip: an event
 * published before the subscription is effective is missed, so readers re-read the log after
 * subscribing (the session core pumps after attach), and once Redis confirms the SUBSCRIBE every
 * listener of the channel gets `{ type: 'append', lastSeq: MAX_SAFE_INTEGER }` to read again. The
 * same goes to every listener after the subscriber reconnects. The subscriber resubscribes by itself
 * (not through ioredis), so a channel whose UNSUBSCRIBE failed while offline does not come back.
 */
import type { WakeEvent } from '../store.js';
import type { Client, Shared } from './commands.js';

type Listener = (event: WakeEvent) => void;

/** "You may have missed something: read again." */
const READ_AGAIN: WakeEvent = { type: 'append', lastSeq: Number.MAX_SAFE_INTEGER };

function parseWake(message: string): WakeEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type === 'append' && typeof o.lastSeq === 'number') return { type: 'append', lastSeq: o.lastSeq };
  if (o.type === 'attach' && typeof o.owner === 'string') return { type: 'attach', owner: o.owner };
  if (o.type === 'pong') return { type: 'pong' };
  return undefined;
}

export class WakeChannels {
  readonly #s: Shared;
  readonly #sub: Client;
  /** Channel → its listeners; the channels the subscriber is (or is to be) subscribed to. */
  readonly #channels = new Map<string, Set<Listener>>();

  constructor(shared: Shared, sub: Client) {
    this.#s = shared;
    this.#sub = sub;
  }

  async publish(sid: string, event: WakeEvent): Promise<void> {
    await this.#s.r.publish(this.#s.keys.wake(sid), JSON.stringify(event));
  }

  subscribe(sid: string, listener: Listener): () => void {
    const channel = this.#s.keys.wake(sid);
    let set = this.#channels.get(channel);
    if (!set) {
      set = new Set();
      this.#channels.set(channel, set);
      // Offline (or failing), resubscribe() subscribes every channel in the map on the next connect.
      // Until Redis confirms the SUBSCRIBE, appends from other nodes go unheard; the caller read the
      // log before that, so wake its listeners once confirmed and let them read again.
      if (this.#sub.status === 'ready') {
        this.#sub
          .subscribe(channel)
          .then(() => {
            for (const l of this.#channels.get(channel) ?? []) l(READ_AGAIN);
          })
          .catch((err: unknown) => this.#s.onError(err));
      }
    }
    // A wrapper per call, so the same function subscribed twice needs two unsubscribes.
    const wrapped: Listener = (ev) => listener(ev);
    set.add(wrapped);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.#channels.get(channel);
      if (!s) return;
      s.delete(wrapped);
      if (s.size > 0) return;
      this.#channels.delete(channel);
      if (this.#sub.status === 'ready' && !this.#s.closed()) this.#sub.unsubscribe(channel).catch(() => {});
    };
  }

  /** The subscriber is (re)connected: subscribes the expiry events and every wake channel again. */
  async resubscribe(): Promise<void> {
    const channels = [this.#s.keys.expiredChannel, ...this.#channels.keys()];
    for (let i = 0; i < channels.length; i += 1000) await this.#sub.subscribe(...channels.slice(i, i + 1000));
  }

  /** Wake-ups published while the subscriber was away are lost: makes every listener re-read the log. */
  wakeAll(): void {
    for (const set of [...this.#channels.values()]) this.#dispatch(set, READ_AGAIN);
  }

  /** A message on a wake channel (the expiry channel is the store's to route). */
  onMessage(channel: string, message: string): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    const ev = parseWake(message);
    if (ev) this.#dispatch(set, ev);
  }

  /** Forgets every listener (the store is closing). */
  clear(): void {
    this.#channels.clear();
  }

  #dispatch(set: Set<Listener>, ev: WakeEvent): void {
    for (const l of [...set]) {
      try {
        l(ev);
      } catch (err) {
        this.#s.onError(err);
      }
    }
  }
}
