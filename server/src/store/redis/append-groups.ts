/**
 * Group commit of appends: every `append` of one session made in one turn of the event loop (the
 * app's answers to a batch of inbound frames, a loop of `send()`s) goes to Redis as one
 * `burrowAppend` script, and the groups of all sessions of that turn in one round trip. Each append
 * keeps its own token, `after` and result, as if it had run alone (scripts.ts), so the outage hold's
 * retries and the Store contract are unchanged; only the round trips and the wake events are fewer.
 */
import type { AppendLimits, AppendResult, NewFrame, OutboundFrame } from '../store.js';
import { batch, type Command, type Settled, type Shared } from './commands.js';
import { EntryPack, count, payloadBytes, seqArg } from './codec.js';

/**
 * Most log entries in one group: the script hands them to one RPUSH (Lua's `unpack` stops at a few
 * thousand values), and a group this big already costs one round trip per this many messages.
 */
const GROUP_MAX_ENTRIES = 1000;

/** Told when a group of this node's appends of a session leaves and when it is answered (pubsub.ts). */
export interface AppendWatch {
  /** Returns an id for `settled`. */
  sent(channel: string): number;
  settled(channel: string, id: number): void;
}

interface Pending {
  readonly frames: readonly NewFrame[];
  /** Payload bytes of each frame. */
  readonly sizes: readonly number[];
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (err: unknown) => void;
}

interface Group {
  readonly sid: string;
  readonly limits: AppendLimits;
  readonly items: Pending[];
  /** A line per append: token TAB after TAB n (see scripts.ts burrowAppend). */
  meta: string;
  readonly pack: EntryPack;
  entries: number;
}

export class AppendGroups {
  readonly #s: Shared;
  readonly #watch: AppendWatch;
  /** Groups of this turn still taking appends, by session. */
  readonly #open = new Map<string, Group>();
  /** Every group of this turn, in the order they were opened. */
  #groups: Group[] = [];
  #scheduled = false;
  readonly #flush = (): void => this.#send();

  constructor(shared: Shared, watch: AppendWatch) {
    this.#s = shared;
    this.#watch = watch;
  }

  /** `Store.append`, sent with the session's other appends of this turn. */
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token = '', after = ''): Promise<AppendResult> {
    const sizes = frames.map((f) => payloadBytes(f.data, f.size));
    let g = this.#open.get(sid);
    if (
      !g ||
      g.limits.maxBufferedMessages !== limits.maxBufferedMessages ||
      g.limits.maxBufferedBytes !== limits.maxBufferedBytes ||
      g.entries + frames.length > GROUP_MAX_ENTRIES
    ) {
      g = { sid, limits, items: [], meta: '', pack: new EntryPack(), entries: 0 };
      this.#open.set(sid, g);
      this.#groups.push(g);
    }
    g.meta += `${token}\t${after}\t${frames.length}\n`;
    frames.forEach((f, i) => g.pack.add(f.data, sizes[i]!));
    g.entries += frames.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      // After the current turn's synchronous code: the sends of an emit loop all join.
      queueMicrotask(this.#flush);
    }
    return new Promise<AppendResult>((resolve, reject) => g.items.push({ frames, sizes, resolve, reject }));
  }

  #send(): void {
    this.#scheduled = false;
    const groups = this.#groups;
    this.#groups = [];
    this.#open.clear();
    const { r, keys } = this.#s;
    const channels = groups.map((g) => keys.wake(g.sid));
    const ids = channels.map((ch) => this.#watch.sent(ch));
    const argsOf = (g: Group, i: number) =>
      [...keys.session(g.sid), channels[i]!, count(g.limits.maxBufferedMessages), seqArg(g.limits.maxBufferedBytes), g.meta, g.pack.lengths, g.pack.blob()] as const;
    // One group (the usual case): the script alone, without a pipeline around it.
    const sent: Promise<Settled[]> =
      groups.length === 1
        ? r.burrowAppend(...argsOf(groups[0]!, 0)).then(
            (value): Settled[] => [{ ok: true, value }],
            (error: unknown): Settled[] => [{ ok: false, error }],
          )
        : batch(
            r,
            groups.map((g, i): Command => (c) => c.burrowAppend(...argsOf(g, i))),
          );
    void sent
      .then(
        (res) => groups.forEach((g, i) => settleGroup(g, res[i] ?? { ok: false, error: new Error('redis pipeline aborted') })),
        (error: unknown) => groups.forEach((g) => settleGroup(g, { ok: false, error })),
      )
      .finally(() => groups.forEach((_, i) => this.#watch.settled(channels[i]!, ids[i]!)));
  }
}

function settleGroup(g: Group, res: Settled): void {
  if (!res.ok) {
    for (const p of g.items) p.reject(res.error);
    return;
  }
  const codes = Array.isArray(res.value) ? (res.value as unknown[]) : [];
  g.items.forEach((p, i) => {
    try {
      // An empty answer: the session is unknown (every append of the group is).
      p.resolve(appendResult(codes.length === 0 ? -1 : codes[i], p.frames, p.sizes));
    } catch (err) {
      p.reject(err);
    }
  });
}

/** One append's result code (see scripts.ts burrowAppend) as an {@link AppendResult}. */
export function appendResult(r: unknown, frames: readonly NewFrame[], sizes: readonly number[]): AppendResult {
  if (r === -1) return { ok: false, reason: 'unknown' };
  if (r === -2) return { ok: false, reason: 'closed' };
  if (r === -3) return { ok: false, reason: 'overflow' };
  // An earlier append of this node (a failed try, still to be retried) has not run: retried after it,
  // as a send held through an outage is (the outage hold retries a store failure).
  if (r === -4) throw new AppendBehind();
  // A retry whose first try ran, overtaken since by a later append of this node: its frames are in
  // the log (the pump reads them), their seqs no longer known here.
  if (r === -5) return { ok: true, frames: [] };
  if (typeof r !== 'number') throw new Error('unexpected reply from redis append');
  const out: OutboundFrame[] = frames.map((f, i) => ({
    frame: { t: 'd', seq: r + i, data: f.data },
    size: sizes[i] ?? 0,
  }));
  return { ok: true, frames: out };
}

/** burrowAppend's -4: the caller's earlier append `after` has not run yet (see scripts.ts). */
export class AppendBehind extends Error {
  constructor() {
    super('append held behind an earlier append of this node that has not run yet');
    this.name = 'AppendBehind';
  }
}
