/** Whether a transport carries the session right now, and the only moves between those states. */
export type LinkState = 'connecting' | 'open' | 'reconnecting' | 'closed';

const LINK_TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  connecting: ['open', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['open', 'closed'],
  closed: [],
};

export class Link {
  #state: LinkState = 'connecting';

  get state(): LinkState {
    return this.#state;
  }

  /** Moves to `next`. Any other move than the table's is a bug in the engine, so it throws. */
  set(next: LinkState): void {
    if (next === this.#state) return;
    if (!LINK_TRANSITIONS[this.#state].includes(next)) throw new Error(`Burrow: illegal link transition ${this.#state} -> ${next}`);
    this.#state = next;
  }
}
