/**
 * Wake-ups across nodes: each session has a channel (`{prefix}:{sid}:wake`) carrying {@link WakeEvent}s
 * as JSON. Publishing goes over the command connection (the append scripts publish in the same step,
 * other events go in the round trip of the turn: append-groups.ts);
 * listening needs a connection of its own, the subscriber, which also listens to Redis's expiry events.
 *
 * `subscribe` is synchronous (the Store contract) while SUBSCRIBE takes a round trip: an event
 * published before the subscription is effective is missed, so readers re-read the log after
 * subscribing (the session core pumps after attach), and once Redis confirms the SUBSCRIBE every
 * listener of the channel gets `{ type: 'append', lastSeq: MAX_SAFE_INTEGER }` to read again. The
 * same goes to every listener after the subscriber reconnects. The subscriber resubscribes by itself
 * (not through ioredis), so a channel whose UNSUBSCRIBE failed while offline does not come back.
 *
 * This node's own appends wake its own listeners too, and the wake often arrives (on the subscriber)
 * before the append's reply (on the command connection): woken first, the core holding the downstream
 * would read the log for frames it is about to get from the reply, a round trip per append for
 * nothing. So an `append` wake of a session with an append of this node on its way waits until the
 * appends on their way when it came are answered (or failed), then goes out: by then the core has
 * written what the replies carried, and reads only what other nodes appended. Delayed, never dropped.
 */
import type { WakeEvent } from '../store.js';
import type { AppendWatch } from './append-groups.js';
import type { Client, Shared } from './commands.js';
import { parseWake } from './wake-message.js';

type Listener = (event: WakeEvent) => void;

/** "You may have missed something: read again." */
const READ_AGAIN: WakeEvent = { type: 'append', lastSeq: Number.MAX_SAFE_INTEGER };

/**
 * An `append` wake held back: it goes out once this node's appends of the session up to id `waitFor`
 * are answered (`scheduled`: on its way). `next`: what came while it was on its way behind an append
 * still unanswered, held after it.
 */
interface HeldWake {
  lastSeq: number;
  waitFor: number;
  scheduled: boolean;
  next?: { lastSeq: number; waitFor: number };
}

export class WakeChannels implements AppendWatch {
  readonly #s: Shared;
  readonly #sub: Client;
  /** Channel → its listeners; the channels the subscriber is (or is to be) subscribed to. */
  readonly #channels = new Map<string, Set<Listener>>();

  /** Per channel, the ids of this node's append groups of that session on their way to Redis. */
  readonly #appending = new Map<string, Set<number>>();
  /** Per channel, an `append` wake held back until the appends on their way when it came are answered. */
  readonly #held = new Map<string, HeldWake>();
  #appendIds = 0;

  constructor(shared: Shared, sub: Client) {
    this.#s = shared;
    this.#sub = sub;
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
    if (!ev) return;
    if (ev.type === 'append') {
      const held = this.#held.get(channel);
      const appending = this.#appending.get(channel);
      const waitFor = appending ? maxOf(appending) : 0;
      // Behind a held one: merged into it (or into the one after it), so wakes never overtake.
      if (held) {
        const into = held.next ?? (held.scheduled && appending ? (held.next = { lastSeq: 0, waitFor: 0 }) : held);
        into.lastSeq = Math.max(into.lastSeq, ev.lastSeq);
        if (into !== held || !held.scheduled) into.waitFor = Math.max(into.waitFor, waitFor);
        return;
      }
      if (appending) {
        this.#held.set(channel, { lastSeq: ev.lastSeq, waitFor, scheduled: false });
        return;
      }
    }
    this.#dispatch(set, ev);
  }

  sent(channel: string): number {
    const id = ++this.#appendIds;
    let ids = this.#appending.get(channel);
    if (!ids) this.#appending.set(channel, (ids = new Set()));
    ids.add(id);
    return id;
  }

  settled(channel: string, id: number): void {
    const ids = this.#appending.get(channel);
    ids?.delete(id);
    if (ids?.size === 0) this.#appending.delete(channel);
    const held = this.#held.get(channel);
    if (held && !held.scheduled && this.#answered(channel, held.waitFor)) this.#release(channel, held);
  }

  /** Every append of `channel` up to id `waitFor` was answered. */
  #answered(channel: string, waitFor: number): boolean {
    for (const id of this.#appending.get(channel) ?? []) if (id <= waitFor) return false;
    return true;
  }

  /** Sends a held wake out, after the replies' own continuations (the sends' promise chains write the frames). */
  #release(channel: string, held: HeldWake): void {
    held.scheduled = true;
    setImmediate(() => {
      if (this.#held.get(channel) !== held) return;
      this.#held.delete(channel);
      const set = this.#channels.get(channel);
      if (set) this.#dispatch(set, { type: 'append', lastSeq: held.lastSeq });
      const next = held.next;
      if (!next) return;
      const after: HeldWake = { lastSeq: next.lastSeq, waitFor: next.waitFor, scheduled: false };
      this.#held.set(channel, after);
      if (this.#answered(channel, after.waitFor)) this.#release(channel, after);
    });
  }

  /** Forgets every listener (the store is closing). */
  clear(): void {
    this.#channels.clear();
    this.#held.clear();
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

function maxOf(ids: ReadonlySet<number>): number {
  let max = 0;
  for (const id of ids) if (id > max) max = id;
  return max;
}
