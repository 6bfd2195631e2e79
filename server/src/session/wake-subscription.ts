/**
 * How a session core hears other nodes' cores and speaks to them through the store: its wake-up
 * subscription, and the `attach` announcements that tell every other core to let its downstream go.
 */
import type { Store, SyncStore, WakeEvent, WakeListener } from '../store/store.js';

let ownerCounter = 0;

/** An `attach` announcement from this node: unique per attach, prefixed by the node's id. */
export function attachEvent(nodeId: string): WakeEvent {
  return { type: 'attach', owner: `${nodeId}:${++ownerCounter}` };
}

/** The announcement came from another node (its downstream now replaces ours). */
export function fromOtherNode(ev: { readonly owner: string }, nodeId: string): boolean {
  return !ev.owner.startsWith(`${nodeId}:`);
}

/**
 * One core's subscription to its session's wake-ups. On the in-process store the core itself is the
 * listener (no closure to keep per session), which is also how that store tells a core's own appends
 * from others'; a networked store returns an unsubscribe function.
 */
export class WakeSubscription {
  #subscribed: (() => void) | SyncStore | undefined;

  get active(): boolean {
    return this.#subscribed !== undefined;
  }

  /** Subscribes once; later calls do nothing until {@link end}. */
  start(store: Store, sid: string, listener: { wake(ev: WakeEvent): void }): void {
    if (this.#subscribed) return;
    const sync = store.sync;
    if (sync) {
      sync.subscribeSync(sid, listener);
      this.#subscribed = sync;
    } else this.#subscribed = store.subscribe(sid, (ev) => listener.wake(ev));
  }

  end(sid: string, listener: WakeListener): void {
    const s = this.#subscribed;
    this.#subscribed = undefined;
    if (typeof s === 'function') s();
    else s?.unsubscribeSync(sid, listener);
  }
}
