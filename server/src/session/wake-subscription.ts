/**
 * How a session core hears other nodes' cores and speaks to them through the store: its wake-up
 * subscription, and the `attach` announcements that tell every other core to let its downstream go.
 */
import type { Store, SyncStore, WakeEvent, WakeListener } from '../store/store.js';

let ownerCounter = 0;

/** An `attach` announcement from this node: unique per attach, prefixed by the node's id. */
function attachEvent(nodeId: string): WakeEvent {
  return { type: 'attach', owner: `${nodeId}:${++ownerCounter}` };
}

/**
 * Tells the store that a downstream of `sid` attached on this node: the log is trimmed to the
 * client's ack, and every other node's core hears the `attach` and lets its downstream go (`self`,
 * the attaching core, is not woken by its own). Done within the call on the in-process store
 * (undefined back); a promise on a networked one. A store failure throws or rejects.
 */
export function storeAttach(store: Store, nodeId: string, sid: string, clientAck: number, self: WakeListener): Promise<unknown> | undefined {
  const sync = store.sync;
  if (!sync) return Promise.all([store.ack(sid, clientAck), store.publish(sid, attachEvent(nodeId))]);
  sync.ackSync(sid, clientAck);
  sync.publishSync(sid, attachEvent(nodeId), self);
  return undefined;
}

/** The announcement came from another node (its downstream now replaces ours). */
export function fromOtherNode(ev: { readonly owner: string }, nodeId: string): boolean {
  return !ev.owner.startsWith(`${nodeId}:`);
}

/**
 * A core's subscription to its session's wake-ups, kept in one field of the core (an object per
 * session for it cost 32 bytes more): the in-process store itself while subscribed there, where the
 * core is the listener (no closure to keep per session, and how that store tells a core's own appends
 * from others'); a networked store's unsubscribe function; undefined while not subscribed.
 */
export type Subscribed = (() => void) | SyncStore | undefined;

/** Subscribes `listener` to `sid`'s wake-ups; what comes back is for {@link unsubscribeWakeups}. */
export function subscribeWakeups(store: Store, sid: string, listener: { wake(ev: WakeEvent): void }): Subscribed {
  const sync = store.sync;
  if (!sync) return store.subscribe(sid, (ev) => listener.wake(ev));
  sync.subscribeSync(sid, listener);
  return sync;
}

/** Ends a subscription made by {@link subscribeWakeups} (no-op for undefined). */
export function unsubscribeWakeups(s: Subscribed, sid: string, listener: WakeListener): void {
  if (typeof s === 'function') s();
  else s?.unsubscribeSync(sid, listener);
}
