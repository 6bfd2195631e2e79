/**
 * The Lua scripts of scripts.ts as typed ioredis commands, the batch that sends several commands in one
 * round trip, and what every part of the store is built with (`Shared`).
 *
 * `defineScripts` registers each script with ioredis' `defineCommand` (the first call per connection
 * goes out as EVAL, then EVALSHA; ioredis also adds a `…Buffer` twin whose bulk replies stay Buffers).
 * The declarations below add their signatures to ioredis' `RedisCommander` by declaration merging, as
 * ioredis documents for custom commands, so `r.burrowAck(...)` on a `Redis`, a `Cluster` or a pipeline
 * is type-checked like a built-in command: a Promise of the reply on a client, chained on a pipeline.
 */
import type { Cluster, ClientContext, Redis, RedisCommander, Result } from 'ioredis';
import type { KeyLayout, SessionKeys } from './keys.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

/** An ioredis connection the store sends commands on. */
export type Client = Redis | Cluster;

/** What every part of the store is built with. */
export interface Shared {
  /** The command connection (the subscriber, a connection of its own, is health.ts's and pubsub.ts's). */
  readonly r: Client;
  readonly keys: KeyLayout;
  /** Where errors with no caller to reject go. */
  readonly onError: (err: unknown) => void;
  /** True once `close()` has begun: timers and background work stop, status no longer changes. */
  readonly closed: () => boolean;
}

/** A log or journal entry (codec.ts); `''` where a script takes "none". */
type Entry = Buffer | '';

declare module 'ioredis' {
  // Arguments after the five session keys, and replies, as the scripts in scripts.ts document them.
  interface RedisCommander<Context extends ClientContext> {
    /** → 1 created, 0 id taken. */
    burrowCreate(...args: [...keys: SessionKeys, ttlMs: string, graceMs: string, ...fields: string[]]): Result<0 | 1, Context>;
    /** → HGETALL of the record, or null when the session is unknown. */
    burrowGet(...keys: SessionKeys): Result<string[] | null, Context>;
    burrowTouch(...args: [...keys: SessionKeys, ttlMs: string, graceMs: string, activity: '1' | '0']): Result<string[] | null, Context>;
    /** → HGETALL (after the touch, if any), or null when the session is unknown or the token hash is not its own. */
    burrowTouchProven(...args: [...keys: SessionKeys, ttlMs: string, graceMs: string, tokenHash: string, claim: '1' | '0']): Result<string[] | null, Context>;
    /** → the rooms the session was in. */
    burrowDelete(...keys: SessionKeys): Result<string[], Context>;
    burrowSetData(...args: [...keys: SessionKeys, has: '1' | '0', json: string]): Result<0 | 1, Context>;
    /**
     * `appends`: a line per append (token TAB after TAB n), its entries packed in `lengths` and `blob`
     * (codec.ts EntryPack) → per append, the first seq assigned, or -1 unknown, -2 closed, -3 overflow,
     * -4 behind `after`, -5 ran already; [] when the session is unknown.
     */
    burrowAppend(
      ...args: [...keys: SessionKeys, channel: string, maxMessages: string, maxBytes: string, appends: string, lengths: string, blob: Buffer, ack?: string, wakeFramesMaxBytes?: string]
    ): Result<number[], Context>;
    /** → null (unknown) or [1 first | 0, HGETALL after, the session's rooms]. */
    burrowAppendClose(
      ...args: [...keys: SessionKeys, channel: string, by: 'client' | 'server', code: string, reason: string, entry: Buffer]
    ): Result<[0 | 1, string[], string[]] | null, Context>;
    /** → [seq of the first entry, lengths, entries packed (codec.ts EntryPack)], or [0] when there is none. */
    burrowReadBuffer(...args: [...keys: SessionKeys, afterSeq: string, maxFrames: string, maxBytes: string]): Result<[number, Buffer, Buffer] | [0], Context>;
    burrowAck(...args: [...keys: SessionKeys, ack: string]): Result<0 | 1, Context>;
    /** → [status, inAck, confirm held (1 | 0), (seq, owner, entry)...] (journal.ts reads it). */
    burrowAcceptBuffer(
      ...args: [...keys: SessionKeys, seq: string, owner: string, confirm: string, entry: Entry, force: '1' | '', after: string]
    ): Result<(number | Buffer)[], Context>;
    /** `seqs` (space-separated), their journal values ("owner entry") packed (codec.ts EntryPack) → [1 | 0 unknown, inAck, confirm held (1 | 0), k, k statuses, (seq, owner, entry)...]. */
    burrowAcceptBatchBuffer(
      ...args: [...keys: SessionKeys, owner: string, confirm: string, after: string, seqs: string, lengths: string, blob: Buffer]
    ): Result<(number | Buffer)[], Context>;
    /** → null (unknown) or [confirm held (1 | 0), (seq, owner, entry)...]. */
    burrowJournalBuffer(...args: [...keys: SessionKeys, owner: string, confirm: string, after: string]): Result<(number | Buffer)[] | null, Context>;
    /** → 1, or 0 when the confirm is held (its `after` append has not run). */
    burrowJournalConfirm(...args: [...keys: SessionKeys, owner: string, upTo: string, after: string]): Result<0 | 1, Context>;
    /** → how many of `seqs` passed from `owner` to `releasedOwner`. */
    burrowJournalRelease(...args: [...keys: SessionKeys, owner: string, releasedOwner: string, ...seqs: string[]]): Result<number, Context>;
    /** `owners`: (deadOwner, seq)... → the seqs now owned by `newOwner`. */
    burrowJournalClaim(...args: [...keys: SessionKeys, newOwner: string, ...owners: string[]]): Result<number[], Context>;
    /** → 1 joined, 0 unknown, 2 closed (the caller takes it out of the room's set). */
    burrowJoin(...args: [...keys: SessionKeys, room: string]): Result<0 | 1 | 2, Context>;
    /** → 0 alive, 1 gone already, or [HGETALL, rooms] to the one caller that claimed the expiry. */
    burrowClaim(...keys: SessionKeys): Result<0 | 1 | [string[], string[]], Context>;
    /** → the epoch in force (the candidate when there was none). */
    burrowEpoch(key: string, candidate: string): Result<string, Context>;
  }
}

// Compile-time check: every script has a signature above (plain or Buffer), and every signature is a script's.
type Unbuffered<N> = N extends `${infer Name}Buffer` ? Name : N;
type Declared = Unbuffered<Extract<keyof Redis, `burrow${string}`>>;
type Assert<T extends true> = T;
type SignaturesMatchScripts = Assert<[Exclude<ScriptName, Declared>, Exclude<Declared, ScriptName>] extends [never, never] ? true : false>;

/** Makes the scripts commands of `client` (a client given to several stores gets them once). */
export function defineScripts(client: Client): void {
  for (const [name, s] of Object.entries(SCRIPTS)) {
    if (!(name in client)) client.defineCommand(name, { lua: s.lua, numberOfKeys: s.numberOfKeys });
  }
}

/** One command of a batch: issued on the client itself, or queued on a pipeline. */
export type Command = <C extends ClientContext>(c: RedisCommander<C>) => Result<unknown, C>;

export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs commands in one round trip: a pipeline on a single Redis; on a Cluster (where one pipeline
 * cannot span slots of different nodes) the commands are issued together, each to its slot's node.
 * Resolves with each command's result or error, in order.
 */
export async function batch(r: Client, commands: readonly Command[]): Promise<Settled[]> {
  if (commands.length === 0) return [];
  if (r.isCluster) {
    const settled = await Promise.allSettled(commands.map((command) => command(r)));
    return settled.map((s) => (s.status === 'fulfilled' ? { ok: true, value: s.value } : { ok: false, error: s.reason }));
  }
  const p = r.pipeline();
  for (const command of commands) command(p);
  const res = await p.exec();
  if (!res) throw new Error('redis pipeline aborted');
  return res.map(([error, value]) => (error ? { ok: false, error } : { ok: true, value }));
}

/** {@link batch}, rejecting with the first error. */
export async function batchOrThrow(r: Client, commands: readonly Command[]): Promise<unknown[]> {
  const res = await batch(r, commands);
  return res.map((x) => {
    if (!x.ok) throw x.error;
    return x.value;
  });
}
