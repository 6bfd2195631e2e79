/**
 * Remembers which transport worked per origin+path, so the next page load behind a proxy that kills
 * WebSocket starts on the fallback instead of paying the WebSocket timeout again.
 */
import { TRANSPORT_NAMES, type RememberStorage, type TransportName } from '../types.js';

const memory = new Map<string, string>();

/** In-memory storage shared by every socket of this process (Node, or browsers without localStorage). */
const memoryStorage: RememberStorage = {
  getItem: (k) => memory.get(k) ?? null,
  setItem: (k, v) => void memory.set(k, v),
};

function localStorageOrNull(): RememberStorage | null {
  try {
    // Reading localStorage throws in sandboxed iframes and with storage disabled.
    const ls = (globalThis as { localStorage?: RememberStorage }).localStorage;
    return ls && typeof ls.getItem === 'function' ? ls : null;
  } catch {
    return null;
  }
}

/** See {@link createTransportMemory}. */
export type TransportMemory = ReturnType<typeof createTransportMemory>;

/** A closure rather than a class, for the bundle size: see docs/ARCHITECTURE.md, "Closures, not classes". */
export function createTransportMemory(option: boolean | RememberStorage | undefined, url: URL, ttl: number) {
  const storage: RememberStorage | null =
    option === false ? null : option === true || option === undefined ? (localStorageOrNull() ?? memoryStorage) : option;
  const key = `burrow:transport:${url.origin}${url.pathname}`;

  /** The remembered transport, if one is stored and still fresh. */
  const get = (): TransportName | undefined => {
    return read()?.t;
  };

  /**
   * The open time (ms) measured on an earlier session, if one is stored and fresh: a round-trip
   * estimate (an upper bound) that the race delay of the next first connection adapts to.
   */
  const rtt = (): number | undefined => {
    const rtt = read()?.rtt;
    return Number.isFinite(rtt) && (rtt as number) >= 0 ? (rtt as number) : undefined;
  };

  const set = (name: TransportName, rtt?: number): void => {
    try {
      // JSON leaves out an undefined rtt.
      storage?.setItem(key, JSON.stringify({ t: name, at: Date.now(), rtt: rtt === undefined ? rtt : Math.round(rtt) }));
    } catch {
      // Quota exceeded or storage disabled: remembering is an optimisation only.
    }
  };

  /** The stored record, if there is one, still fresh and naming a transport. */
  const read = (): { t: TransportName; rtt?: unknown } | undefined => {
    try {
      const raw = storage?.getItem(key);
      const v = raw ? (JSON.parse(raw) as { t?: unknown; at?: unknown; rtt?: unknown } | null) : null;
      const fresh = typeof v?.at === 'number' && Date.now() - v.at < ttl;
      return fresh && TRANSPORT_NAMES.includes(v.t as TransportName) ? (v as { t: TransportName; rtt?: unknown }) : undefined;
    } catch {
      return undefined;
    }
  };
  return { get, rtt, set };
}
