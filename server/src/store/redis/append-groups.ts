/**
 * Group commit of appends: every `append` of one session made in one turn of the event loop (the
 * app's answers to a batch of inbound frames, a loop of `send()`s) goes to Redis as one
 * `burrowAppend` script, and the groups of all sessions of that turn in one round trip. Each append
 * keeps its own token, `after` and result, as if it had run alone (scripts.ts), so the outage hold's
 * retries and the Store contract are unchanged; only the round trips and the wake events are fewer.
 *
 * The client acks and wake events of the turn go in the same round trip: a session's ack inside its
 * group's script (a POST's ack beside the app's answers to its frames), otherwise as commands of their
 * own in the turn's pipeline (a poll's ack beside its `attach` event): one write and one reply for all.
 */
import type { AppendLimits, AppendResult, NewFrame, OutboundFrame } from '../store.js';
import { batch, type Command, type Settled, type Shared } from './commands.js';
import { EntryPack, count, payloadBytes, seqArg } from './codec.js';

/**
 * Most log entries in one group: the script hands them to one RPUSH (Lua's `unpack` stops at a few
 * thousand values), and a group this big already costs one round trip per this many messages.
 */
const GROUP_MAX_ENTRIES = 1000;

/**
 * The wakes of one turn's appends carry at most this many times `wakeFramesMaxBytes` in all (a
 * session's append carries up to `wakeFramesMaxBytes` alone); the rest wake with the seq only.
 */
export const WAKE_TURN_FACTOR = 4;

/** Told when a group of this node's appends of a session leaves and when it is answered (pubsub.ts). */
export interface AppendWatch {
  /** Returns an id for `settled`. */
  sent(channel: string): number;
  settled(channel: string, id: number): void;
}

/**
 * The appends of a group, in order, as three arrays rather than an object (and an executor closure)
 * per append: they live until the reply, across a round trip, and the scavenger copies whatever is
 * alive then (issue #14).
 */
interface Pending {
  /** Each with its payload bytes in `size` or measured again by appendResult (no array of sizes per append). */
  readonly frames: (readonly NewFrame[])[];
  readonly resolves: ((r: AppendResult) => void)[];
  readonly rejects: ((err: unknown) => void)[];
}

/** The resolving functions of the promise `new Promise(capture)` made last: one executor for every append. */
let madeResolve: ((r: AppendResult) => void) | undefined;
let madeReject: ((err: unknown) => void) | undefined;
function capture(resolve: (r: AppendResult) => void, reject: (err: unknown) => void): void {
  madeResolve = resolve;
  madeReject = reject;
}

interface Group {
  readonly sid: string;
  readonly limits: AppendLimits;
  readonly items: Pending;
  /** A line per append: token TAB after TAB n, or only N for the next send of a burst (see scripts.ts burrowAppend). */
  meta: string;
  /** The token of the group's last append, when it has the usual '<node> <n>' shape, and its node. */
  lastToken?: string;
  lastNode?: string;
  /** Dropped once the group's arguments are built: the reply needs only `items`. */
  pack: EntryPack | undefined;
  entries: number;
  /** The session's client ack of this turn, applied by the group's script before its appends. */
  ack?: TurnAck;
}

/** The client acks of one session made in one turn: the highest goes to Redis, every caller hears the result. */
interface TurnAck {
  ack: number;
  readonly waiters: { resolve: (known: boolean) => void; reject: (err: unknown) => void }[];
}

/** A PUBLISH of this turn, sent in the turn's pipeline. */
interface TurnPublish {
  readonly channel: string;
  readonly message: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** One command of the turn's round trip and what to do with its answer. */
interface Sent {
  readonly command: Command;
  readonly settle: (res: Settled) => void;
}

export class AppendGroups {
  readonly #s: Shared;
  readonly #watch: AppendWatch;
  /**
   * Groups of this turn still taking appends, by session. A new Map per turn, never `clear()`ed: V8
   * clears a Map by giving it a new table and leaves the old one, entries and all, for the GC; once
   * this long-lived Map's table is in old space, every cleared table kept its turn's groups (their
   * frames, promises and all they reach) alive through each scavenge until the next mark-sweep:
   * ~2 MB promoted per scavenge under load (issue #14; bench/README, "what survives a RedisStore
   * node's scavenges").
   */
  #open = new Map<string, Group>();
  /** Every group of this turn, in the order they were opened. */
  #groups: Group[] = [];
  /** Client acks of this turn, by session: they ride on the session's group, or go alone in the same round trip. */
  #acks = new Map<string, TurnAck>();
  #publishes: TurnPublish[] = [];
  #scheduled = false;
  /** Turns sent and not yet answered, and the settling of the last one sent (see afterTurn). */
  #inFlight = 0;
  #lastTurn: Promise<unknown> = Promise.resolve();
  readonly #flush = (): void => this.#send();
  /** burrowAppend's ARGV[8]: appends of text up to this many bytes carry their frames in the wake. */
  readonly #wakeFrames: string;
  /** What all the wakes of one turn may carry together (WAKE_TURN_FACTOR × `#wakeFrames`). */
  readonly #wakeTurnBytes: number;

  constructor(shared: Shared, watch: AppendWatch, wakeFramesMaxBytes: string) {
    this.#s = shared;
    this.#watch = watch;
    this.#wakeFrames = wakeFramesMaxBytes;
    this.#wakeTurnBytes = WAKE_TURN_FACTOR * Number(wakeFramesMaxBytes);
  }

  /** `Store.append`, sent with the session's other appends of this turn. */
  append(sid: string, frames: readonly NewFrame[], limits: AppendLimits, token = '', after = ''): Promise<AppendResult> {
    let g = this.#open.get(sid);
    if (
      !g ||
      g.limits.maxBufferedMessages !== limits.maxBufferedMessages ||
      g.limits.maxBufferedBytes !== limits.maxBufferedBytes ||
      g.entries + frames.length > GROUP_MAX_ENTRIES
    ) {
      g = { sid, limits, items: { frames: [], resolves: [], rejects: [] }, meta: '', pack: new EntryPack(), entries: 0 };
      this.#open.set(sid, g);
      this.#groups.push(g);
    }
    const node = g.lastNode;
    if (frames.length === 1 && node !== undefined && after === g.lastToken && successorOf(token, node)) {
      // The next send of a burst (the previous one's successor, one frame): its number only. Its node
      // is the previous one's, checked already: no scan of the token and no new string but the line.
      g.meta += token.slice(node.length + 1) + '\n';
      g.lastToken = token;
    } else {
      g.meta += `${token}\t${after}\t${frames.length}\n`;
      const sp = tokenSplit(token);
      if (sp > 0) {
        g.lastToken = token;
        g.lastNode = node !== undefined && node.length === sp && token.startsWith(node) ? node : token.slice(0, sp);
      } else g.lastToken = g.lastNode = undefined;
    }
    const pack = g.pack!;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      pack.add(f.data, payloadBytes(f.data, f.size));
    }
    g.entries += frames.length;
    this.#schedule();
    const p = new Promise<AppendResult>(capture);
    const items = g.items;
    items.frames.push(frames);
    items.resolves.push(madeResolve!);
    items.rejects.push(madeReject!);
    return p;
  }

  /**
   * `Store.ack`, sent with this turn's appends: in the session's group script when it has one (a POST's
   * ack beside the app's answers to its frames), else as `burrowAck` in the same round trip (a poll's
   * ack beside its `attach` wake). Acks are cumulative, so the highest of the turn stands for all.
   */
  ack(sid: string, ack: number): Promise<boolean> {
    let a = this.#acks.get(sid);
    if (!a) this.#acks.set(sid, (a = { ack, waiters: [] }));
    else if (ack > a.ack) a.ack = ack;
    this.#schedule();
    const turn = a;
    return new Promise<boolean>((resolve, reject) => turn.waiters.push({ resolve, reject }));
  }

  /** PUBLISH, sent in this turn's round trip. */
  publish(channel: string, message: string): Promise<void> {
    this.#schedule();
    return new Promise<void>((resolve, reject) => this.#publishes.push({ channel, message, resolve, reject }));
  }

  /**
   * Runs `fn` once every append made so far has been answered (at once when none is pending), so the
   * command it sends runs after them in Redis. `appendClose` is sent this way: it does not join a turn,
   * and `session.send(x); session.close()` in one turn closed the session before x was appended (x
   * then refused as `closed`, the client sent the close without it), where MemoryStore logs x first.
   */
  afterTurn<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#scheduled && this.#inFlight === 0) return fn();
    // A turn still to be sent goes at the end of this one (a microtask queued before this one).
    return new Promise<void>((resolve) => queueMicrotask(resolve))
      .then(() => this.#lastTurn)
      .then(fn, fn);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the current turn's synchronous code: the sends of an emit loop all join.
    queueMicrotask(this.#flush);
  }

  #send(): void {
    this.#scheduled = false;
    const groups = this.#groups;
    this.#groups = [];
    // New maps, not clear(): see #open.
    this.#open = new Map();
    const acks = this.#acks;
    this.#acks = new Map();
    const publishes = this.#publishes;
    this.#publishes = [];
    const { r, keys } = this.#s;
    const sent: Sent[] = [];
    const channels = groups.map((g) => keys.wake(g.sid));
    const ids = channels.map((ch) => this.#watch.sent(ch));
    // A turn that appends to many sessions (an app's loop over members) would otherwise carry up to
    // wakeFramesMaxBytes in each of their wakes at once, into subscribers that may be busy: past
    // Redis's pubsub output limit a subscriber is disconnected, and its node goes `down`.
    let carryLeft = this.#wakeTurnBytes;
    groups.forEach((g, i) => {
      // A session's ack rides on its first group of the turn.
      g.ack = acks.get(g.sid);
      acks.delete(g.sid);
      const ackArg = g.ack ? seqArg(g.ack.ack) : '';
      const pack = g.pack!;
      const carries = pack.size <= carryLeft;
      if (carries) carryLeft -= pack.size;
      const wakeFrames = carries ? this.#wakeFrames : '0';
      const args = [...keys.session(g.sid), channels[i]!, count(g.limits.maxBufferedMessages), seqArg(g.limits.maxBufferedBytes), g.meta, pack.lengths, pack.blob()] as const;
      g.pack = undefined;
      g.meta = '';
      sent.push({
        command: (c) => c.burrowAppend(...args, ackArg, wakeFrames),
        settle: (res) => settleGroup(g, res),
      });
    });
    for (const [sid, a] of acks) sent.push({ command: (c) => c.burrowAck(...keys.session(sid), seqArg(a.ack)), settle: (res) => settleAck(a, res, res.ok && res.value === 1) });
    for (const p of publishes) {
      sent.push({ command: (c) => c.publish(p.channel, p.message), settle: (res) => (res.ok ? p.resolve() : p.reject(res.error)) });
    }
    // One command (the usual case): alone, without a pipeline around it.
    const one = sent.length === 1 ? sent[0]! : undefined;
    const answered: Promise<Settled[]> = one
      ? Promise.resolve(one.command(r)).then(
          (value): Settled[] => [{ ok: true, value }],
          (error: unknown): Settled[] => [{ ok: false, error }],
        )
      : batch(
          r,
          sent.map((x) => x.command),
        );
    this.#inFlight++;
    this.#lastTurn = answered
      .then(
        (res) => sent.forEach((x, i) => x.settle(res[i] ?? { ok: false, error: new Error('redis pipeline aborted') })),
        (error: unknown) => sent.forEach((x) => x.settle({ ok: false, error })),
      )
      .finally(() => {
        this.#inFlight--;
        groups.forEach((_, i) => this.#watch.settled(channels[i]!, ids[i]!));
      });
  }
}

function settleAck(a: TurnAck, res: Settled, known: boolean): void {
  for (const w of a.waiters) {
    if (res.ok) w.resolve(known);
    else w.reject(res.error);
  }
}

function settleGroup(g: Group, res: Settled): void {
  if (!res.ok) {
    for (const reject of g.items.rejects) reject(res.error);
    if (g.ack) settleAck(g.ack, res, false);
    return;
  }
  const codes = Array.isArray(res.value) ? (res.value as unknown[]) : [];
  // The ack's result is the last element (none at all when the session is unknown).
  if (g.ack) settleAck(g.ack, res, codes.length > 0 && codes.pop() === 1);
  const { frames, resolves, rejects } = g.items;
  for (let i = 0; i < resolves.length; i++) {
    try {
      // An empty answer: the session is unknown (every append of the group is).
      resolves[i]!(appendResult(codes.length === 0 ? -1 : codes[i], frames[i]!));
    } catch (err) {
      rejects[i]!(err);
    }
  }
}

/**
 * `token` is '<node> <n>' for the given node (one `tokenSplit` accepted before) and a number n as
 * tokenSplit allows: the short line of a burst's next send, without scanning the node again.
 */
function successorOf(token: string, node: string): boolean {
  const sp = node.length;
  const len = token.length;
  if (len - sp - 1 < 1 || len - sp - 1 > 15 || token.charCodeAt(sp) !== 0x20 || !token.startsWith(node)) return false;
  for (let i = sp + 1; i < len; i++) {
    const c = token.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Where the space of a token of the usual shape '<node> <n>' is (node: no whitespace; n: decimal
 * digits, a safe integer), or -1 for any other token: only those can be written as a short line,
 * which the script reads as exactly that shape.
 */
export function tokenSplit(token: string): number {
  const sp = token.indexOf(' ');
  const len = token.length;
  if (sp <= 0 || len - sp - 1 < 1 || len - sp - 1 > 15) return -1;
  for (let i = 0; i < sp; i++) if (WHITESPACE.has(token.charCodeAt(i))) return -1;
  for (let i = sp + 1; i < len; i++) {
    const c = token.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return sp;
}

/** What Lua's %s matches: the token's node must have none of them (scripts.ts parses it with %S+). */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/**
 * One append's result code (see scripts.ts burrowAppend) as an {@link AppendResult}; a frame's size is
 * `sizes[i]`, else its own `size`, else measured.
 */
export function appendResult(r: unknown, frames: readonly NewFrame[], sizes?: readonly number[]): AppendResult {
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
  const out: OutboundFrame[] = [];
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    out.push({ frame: { t: 'd', seq: r + i, data: f.data }, size: sizes?.[i] ?? payloadBytes(f.data, f.size) });
  }
  return { ok: true, frames: out };
}

/** burrowAppend's -4: the caller's earlier append `after` has not run yet (see scripts.ts). */
export class AppendBehind extends Error {
  constructor() {
    super('append held behind an earlier append of this node that has not run yet');
    this.name = 'AppendBehind';
  }
}
