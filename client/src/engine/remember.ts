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

export class TransportMemory {
  readonly #storage: RememberStorage | null;
  readonly #key: string;
  readonly #ttl: number;

  constructor(option: boolean | RememberStorage | undefined, url: URL, ttl: number) {
    this.#storage = option === false ? null : option === true || option === undefined ? localStorageOrNull() ?? memoryStorage : option;
    this.#key = `burrow:transport:${url.origin}${url.pathname}`;
    this.#ttl = ttl;
  }

  /** The remembered transport, if one is stored and still fresh. */
  get(): TransportName | undefined {
    return this.#read()?.t;
  }

  /**
   * The open time (ms) measured on an earlier session, if one is stored and fresh: a round-trip
   * estimate (an upper bound) that the race delay of the next first connection adapts to.
   */
  rtt(): number | undefined {
    const rtt = this.#read()?.rtt;
    return Number.isFinite(rtt) && (rtt as number) >= 0 ? (rtt as number) : undefined;
  }

  set(name: TransportName, rtt?: number): void {
    try {
      this.#storage?.setItem(this.#key, JSON.stringify({ t: name, at: Date.now(), ...(rtt !== undefined ? { rtt: Math.round(rtt) } : {}) }));
    } catch {
      // Quota exceeded or storage disabled: remembering is an optimisation only.
    }
  }

  /** The stored record, if there is one, still fresh and naming a transport. */
  #read(): { t: TransportName; rtt?: unknown } | undefined {
    try {
      const raw = this.#storage?.getItem(this.#key);
      const v = raw ? (JSON.parse(raw) as { t?: unknown; at?: unknown; rtt?: unknown } | null) : null;
      const fresh = typeof v?.at === 'number' && Date.now() - v.at < this.#ttl;
      return fresh && TRANSPORT_NAMES.includes(v.t as TransportName) ? (v as { t: TransportName; rtt?: unknown }) : undefined;
    } catch {
      return undefined;
    }
  }
}
