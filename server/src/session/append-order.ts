/**
 * This node's appends that may not have run in the store yet, per session (issue #14).
 *
 * A networked store runs one node's appends of a session in the order the node made them only if
 * each says which earlier one must run first (`Store.append`'s `after`), and another node may accept
 * the session's next frames only once this node's answers to the earlier ones are in the log
 * (`Store.confirmInbound`'s `after`). Both read the token of the newest append of the session still
 * unsettled here: sent and not yet answered, or failed on a store error and held for a retry. An
 * append settles when the store answered it or it failed for good (rejected to the app).
 *
 * Kept per node rather than per session core: a core disposed while its sends are held through an
 * outage and the session's next core on this node must see each other's appends.
 */

/**
 * One session's unsettled appends, by increasing send number: two arrays rather than an object per
 * append (one is made per networked `send()`, and lives until the store answers it).
 */
interface Unsettled {
  readonly ns: number[];
  readonly tokens: string[];
}

export class AppendOrder {
  /** Per session, unsettled appends by increasing `n` (made in that order; they mostly settle in it). */
  readonly #bySid = new Map<string, Unsettled>();

  /** An append of `sid` with token `token` (send number `n`, above every earlier one) is on its way. */
  add(sid: string, n: number, token: string): void {
    let list = this.#bySid.get(sid);
    if (!list) this.#bySid.set(sid, (list = { ns: [], tokens: [] }));
    list.ns.push(n);
    list.tokens.push(token);
  }

  /** The append numbered `n` was answered by the store or failed for good. */
  settle(sid: string, n: number): void {
    const list = this.#bySid.get(sid);
    if (!list) return;
    const { ns, tokens } = list;
    // Usually the oldest: answers come in the order the appends were sent.
    if (ns[0] === n) {
      ns.shift();
      tokens.shift();
    } else {
      const i = ns.indexOf(n);
      if (i < 0) return;
      ns.splice(i, 1);
      tokens.splice(i, 1);
    }
    if (ns.length === 0) this.#bySid.delete(sid);
  }

  /** The token of the newest unsettled append of `sid` numbered below `n` (any, by default). */
  before(sid: string, n = Infinity): string | undefined {
    const list = this.#bySid.get(sid);
    if (!list) return undefined;
    const ns = list.ns;
    for (let i = ns.length - 1; i >= 0; i--) if (ns[i]! < n) return list.tokens[i];
    return undefined;
  }
}
