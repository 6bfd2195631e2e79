/**
 * The wake-up listeners of one in-process session: none, the one (a session has a single core per
 * node, so one is the rule), or several. Not a Set: an empty one costs ~170 bytes per session. A
 * listener is never an array, so an array always means several.
 */
import type { WakeEvent, WakeListener } from './store.js';

/** What keeps the listeners (a MemoryStore entry). */
export interface ListenerHolder {
  listeners: WakeListener | WakeListener[] | undefined;
}

/** Calls one listener. */
export function wake(l: WakeListener, ev: WakeEvent): void {
  if (typeof l === 'function') l(ev);
  else l.wake(ev);
}

/** The subscribers of an entry, as a list to iterate over (a copy when several). */
export function listenersOf(e: ListenerHolder): readonly WakeListener[] {
  const ls = e.listeners;
  return ls === undefined ? [] : Array.isArray(ls) ? [...ls] : [ls];
}

export function listenerCount(e: ListenerHolder): number {
  const ls = e.listeners;
  return ls === undefined ? 0 : Array.isArray(ls) ? ls.length : 1;
}

export function addListener(e: ListenerHolder, l: WakeListener): void {
  const ls = e.listeners;
  if (ls === undefined) e.listeners = l;
  else if (Array.isArray(ls)) {
    if (!ls.includes(l)) ls.push(l);
  } else if (ls !== l) e.listeners = [ls, l];
}

export function removeListener(e: ListenerHolder, l: WakeListener): void {
  const ls = e.listeners;
  if (ls === l) e.listeners = undefined;
  else if (Array.isArray(ls)) {
    const i = ls.indexOf(l);
    if (i < 0) return;
    ls.splice(i, 1);
    if (ls.length === 1) e.listeners = ls[0];
  }
}
