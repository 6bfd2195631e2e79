/**
 * The inbound journal (see `Store.acceptInbound`); the node liveness it rests on is node-liveness.ts.
 *
 * Each store instance is a node with a random id. An accepted client data frame is journaled, owned by
 * the node that accepted it, in the same script that makes it the inbound ack; the node confirms it once
 * emitted. Confirms never cost a round trip per message: they ride on the session's next accept (or
 * journal read) and are otherwise flushed, all sessions in one batch, shortly after the last one.
 *
 * A node is alive while its key `{prefix}:node:{id}` is: set with a short TTL (`nodeTtlMs`), refreshed
 * every third of it, deleted by `close()`. Entries of a node whose key lapsed (the process was killed
 * between commit and emit) are taken over by the first node that reads them, atomically, and delivered
 * again; those of a live node are left to it and looked at again when it could have died.
 */
import type { InboundBatchResult, InboundData, InboundFrame, InboundReplay, InboundResult, JournalEntry } from '../store.js';
import { batch, type Settled, type Shared } from './commands.js';
import { EntryPack, encodeEntry, journalEntry, payloadBytes, seqArg, toStr } from './codec.js';
import type { NodeLiveness } from './node-liveness.js';

/** Confirms of emitted inbound frames are flushed this long after the last one when no accept carries them. */
const CONFIRM_DELAY_MS = 50;
/**
 * A failed confirm flush or entry release is tried again after this, doubling up to RETRY_MAX_MS: until
 * it goes through, other nodes hold the session's next frames back behind this node's entries.
 */
const RETRY_FIRST_MS = 20;
const RETRY_MAX_MS = 1000;
/**
 * A confirm held in Redis behind this node's append that has not run (see scripts.ts `journalScan`) is
 * tried again after this, doubling up to the outage hold's retry cap: it goes soon after that append.
 */
const HELD_RETRY_MAX_MS = 250;
/** Owner of a released entry (see `burrowJournalRelease`): no node has this id, so none is alive under it. */
const RELEASED = 'released:';

/** A confirm not yet in Redis: up to `seq`, once `after()` (see `Store.confirmInbound`) has run. */
interface PendingConfirm {
  /** Raised in place by the next confirm of the session with the same condition (see `confirm`). */
  seq: number;
  readonly after: (() => string | undefined) | undefined;
}

export class InboundJournal {
  readonly #s: Shared;
  readonly #node: NodeLiveness;
  /** Per session, the highest inbound seq emitted here and not yet confirmed to Redis. */
  #confirms = new Map<string, PendingConfirm>();
  /**
   * Per session, the highest seq of a confirm flush on its way. A Redis Cluster does not run one
   * node's commands in the order they were sent when a failover sends one of them round redirections:
   * an accept sent after the flush can run first and find our entries still there, emitted all the same.
   */
  readonly #flushing = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  /** A flush on the next turn, for confirms another node may be waiting for (see `confirm`). */
  #immediate: NodeJS.Immediate | undefined;
  #flushRetryMs = RETRY_FIRST_MS;
  #heldRetryMs = RETRY_FIRST_MS;
  /**
   * Per session, seqs whose accept failed here on a store error: Redis may have run it (the reply was
   * lost with the connection), so an entry of ours may sit in the journal that this node will never
   * emit. Until it is released, every other node holds the session's next frames back behind it
   * (ACCEPT_WAIT_MS each time, while this node lives): the polling stall after a store blip.
   */
  readonly #uncertain = new Map<string, Set<number>>();
  /**
   * A release and an accept of one session never overlap on the way to Redis: a retried accept that
   * turns out `new` (the failed one never ran) makes the entry ours for real, and a release sent beside
   * it would hand that entry over too and have it emitted twice.
   */
  readonly #accepting = new Map<string, number>();
  readonly #releasingSids = new Set<string>();
  #releasing: Promise<void> | undefined;
  #releaseTimer: NodeJS.Timeout | undefined;
  #releaseRetryMs = RETRY_FIRST_MS;

  constructor(shared: Shared, node: NodeLiveness) {
    this.#s = shared;
    this.#node = node;
  }

  async accept(sid: string, seq: number, frame: InboundData | undefined, force: boolean): Promise<InboundResult> {
    // One script: the piggybacked confirm, the seq check, the journal entry, and what to redeliver.
    while (this.#releasingSids.has(sid)) await this.#releasing;
    this.#accepting.set(sid, (this.#accepting.get(sid) ?? 0) + 1);
    try {
      const r = await this.#accept(sid, seq, frame, force);
      // `new`: the failed accept of this seq never ran in Redis, the entry is ours to emit.
      if (r.status === 'new') this.#settled(sid, seq);
      return r;
    } finally {
      const n = (this.#accepting.get(sid) ?? 1) - 1;
      if (n > 0) this.#accepting.set(sid, n);
      else this.#accepting.delete(sid);
    }
  }

  async #accept(sid: string, seq: number, frame: InboundData | undefined, force: boolean): Promise<InboundResult> {
    const confirm = this.#take(sid);
    let flat: (number | Buffer)[];
    try {
      flat = await this.#s.r.burrowAcceptBuffer(
        ...this.#s.keys.session(sid),
        seqArg(seq),
        this.#node.id,
        confirm === undefined ? '' : seqArg(confirm.seq),
        frame ? encodeEntry(frame.data) : '',
        force ? '1' : '',
        confirm?.after?.() ?? '',
      );
    } catch (err) {
      if (confirm !== undefined) this.#keep(sid, confirm);
      if (frame) this.#lostReply(sid, seq);
      throw err;
    }
    if (!Array.isArray(flat)) flat = [];
    const [code, ack, held] = flat;
    if (held === 1 && confirm !== undefined) this.#held(sid, confirm);
    const n = typeof ack === 'number' ? ack : 0;
    const status = statusOf(code);
    if (status === 'unknown') return { status, ack: 0 };
    if (flat.length <= 3) return { status, ack: n };
    return { status, ack: n, ...(await this.#replayFrom(sid, flat.slice(3))) };
  }

  /** `Store.acceptInboundBatch`: `accept` for a run of data frames, in one script (burrowAcceptBatch). */
  async acceptBatch(sid: string, frames: readonly InboundFrame[]): Promise<InboundBatchResult> {
    while (this.#releasingSids.has(sid)) await this.#releasing;
    this.#accepting.set(sid, (this.#accepting.get(sid) ?? 0) + 1);
    try {
      const r = await this.#acceptBatch(sid, frames);
      r.statuses.forEach((status, i) => {
        if (status === 'new') this.#settled(sid, frames[i]!.seq);
      });
      return r;
    } finally {
      const n = (this.#accepting.get(sid) ?? 1) - 1;
      if (n > 0) this.#accepting.set(sid, n);
      else this.#accepting.delete(sid);
    }
  }

  async #acceptBatch(sid: string, frames: readonly InboundFrame[]): Promise<InboundBatchResult> {
    const confirm = this.#take(sid);
    // Each entry as the journal keeps it ("owner entry"), so the script stores it as it came.
    const pack = new EntryPack(`${this.#node.id} `);
    let seqs = '';
    for (const f of frames) {
      pack.add(f.data, payloadBytes(f.data));
      seqs += seqs === '' ? seqArg(f.seq) : ' ' + seqArg(f.seq);
    }
    let flat: (number | Buffer)[];
    try {
      flat = await this.#s.r.burrowAcceptBatchBuffer(
        ...this.#s.keys.session(sid),
        this.#node.id,
        confirm === undefined ? '' : seqArg(confirm.seq),
        confirm?.after?.() ?? '',
        seqs,
        pack.lengths,
        pack.blob(),
      );
    } catch (err) {
      if (confirm !== undefined) this.#keep(sid, confirm);
      // Any of them may have been accepted, its reply lost with the connection; not those this node
      // emitted already (a resent duplicate of an entry whose confirm is still to go).
      const emitted = Math.max(this.#confirms.get(sid)?.seq ?? 0, this.#flushing.get(sid) ?? 0);
      for (const f of frames) if (f.seq > emitted) this.#lostReply(sid, f.seq);
      throw err;
    }
    if (!Array.isArray(flat)) flat = [];
    const [alive, ack, held, k] = flat;
    if (alive !== 1) return { statuses: ['unknown'], ack: 0 };
    if (held === 1 && confirm !== undefined) this.#held(sid, confirm);
    const n = typeof k === 'number' ? k : 0;
    const statuses = flat.slice(4, 4 + n).map(statusOf);
    const r = { statuses, ack: typeof ack === 'number' ? ack : 0 };
    if (flat.length <= 4 + n) return r;
    return { ...r, ...(await this.#replayFrom(sid, flat.slice(4 + n))) };
  }

  confirm(sid: string, seq: number, soon = false, after?: () => string | undefined): void {
    if (this.#s.closed()) return;
    const old = this.#confirms.get(sid);
    // Every emitted frame of a run confirms with the same condition: the one pending confirm is
    // raised, not replaced by a new object per frame. (A confirm taken from the map for a call is
    // never in it at the same time, so nothing on its way to Redis changes under it.)
    if (old !== undefined && old.after === after && seq > old.seq) old.seq = seq;
    else this.#keep(sid, { seq, after });
    if (soon) {
      // Another node may be holding the session's next frames behind this entry: the 50 ms of the
      // lazy timer were the ~80 ms p50 of an SSE or polling echo behind a round-robin balancer.
      this.#immediate ??= setImmediate(() => {
        this.#immediate = undefined;
        void this.flush();
      });
      return;
    }
    if (!this.#timer && !this.#immediate) {
      this.#timer = setTimeout(() => void this.flush(), CONFIRM_DELAY_MS);
      this.#timer.unref();
    }
  }

  async replay(sid: string): Promise<InboundReplay> {
    // Never beside a release of the session, like an accept (see #replayFrom).
    while (this.#releasingSids.has(sid)) await this.#releasing;
    this.#accepting.set(sid, (this.#accepting.get(sid) ?? 0) + 1);
    try {
      return await this.#replay(sid);
    } finally {
      const n = (this.#accepting.get(sid) ?? 1) - 1;
      if (n > 0) this.#accepting.set(sid, n);
      else this.#accepting.delete(sid);
    }
  }

  async #replay(sid: string): Promise<InboundReplay> {
    const confirm = this.#take(sid);
    let flat: (number | Buffer)[] | null;
    try {
      flat = await this.#s.r.burrowJournalBuffer(
        ...this.#s.keys.session(sid),
        this.#node.id,
        confirm === undefined ? '' : seqArg(confirm.seq),
        confirm?.after?.() ?? '',
      );
    } catch (err) {
      if (confirm !== undefined) this.#keep(sid, confirm);
      throw err;
    }
    if (!Array.isArray(flat)) return {};
    if (flat[0] === 1 && confirm !== undefined) this.#held(sid, confirm);
    return flat.length > 1 ? this.#replayFrom(sid, flat.slice(1)) : {};
  }

  /** Sends every pending confirm in one round trip; a failed one is kept for the next accept or a later flush. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#confirms.size === 0) return;
    const { r, keys } = this.#s;
    const pending = [...this.#confirms];
    this.#confirms = new Map(); // not clear(): its old table would keep them (append-groups.ts #open)
    for (const [sid, c] of pending) this.#flushing.set(sid, Math.max(c.seq, this.#flushing.get(sid) ?? 0));
    let res: Settled[];
    try {
      res = await batch(
        r,
        pending.map(([sid, c]) => (cmd) => cmd.burrowJournalConfirm(...keys.session(sid), this.#node.id, seqArg(c.seq), c.after?.() ?? '')),
      );
    } catch (err) {
      res = pending.map(() => ({ ok: false, error: err }));
    }
    pending.forEach(([sid, c], i) => {
      if (this.#flushing.get(sid) === c.seq) this.#flushing.delete(sid);
      const one = res[i];
      if (!one || !one.ok) this.#keep(sid, c);
      else if (one.value === 0) this.#held(sid, c);
    });
    const failed = res.find((x) => !x.ok);
    if (!failed || failed.ok) {
      this.#flushRetryMs = RETRY_FIRST_MS;
      return;
    }
    // Kept confirms wait for no accept of theirs: a session whose POSTs now go to other nodes would
    // leave them (and those nodes waiting on our entries) until some other confirm of this node.
    if (!this.#s.closed() && !this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushRetryMs);
      this.#timer.unref();
      this.#flushRetryMs = Math.min(this.#flushRetryMs * 2, RETRY_MAX_MS);
    }
    // Redis being unreachable is reported through the store's status; anything else is news.
    if (this.#s.r.status === 'ready') this.#s.onError(failed.error);
  }

  /** Stops the timers (`close()` flushes once more itself). */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#releaseTimer) clearTimeout(this.#releaseTimer);
    if (this.#heldTimer) clearTimeout(this.#heldTimer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = this.#releaseTimer = this.#heldTimer = this.#immediate = undefined;
  }

  #heldTimer: NodeJS.Timeout | undefined;

  /**
   * Redis held a confirm back: this node's append it waits for has not run (held through an outage
   * here). Kept, and tried again on a short backing-off timer until that append has run or failed.
   */
  #held(sid: string, c: PendingConfirm): void {
    this.#keep(sid, c);
    if (this.#heldTimer || this.#s.closed()) return;
    this.#heldTimer = setTimeout(() => {
      this.#heldTimer = undefined;
      void this.flush().then(() => {
        // Still held somewhere: the next try waits longer; none: the next hold starts short again.
        if (!this.#heldTimer) this.#heldRetryMs = RETRY_FIRST_MS;
      });
    }, this.#heldRetryMs);
    this.#heldTimer.unref();
    this.#heldRetryMs = Math.min(this.#heldRetryMs * 2, HELD_RETRY_MAX_MS);
  }

  /** An accept of `seq` failed here: release our entry of it, if Redis ran the accept after all. */
  #lostReply(sid: string, seq: number): void {
    let seqs = this.#uncertain.get(sid);
    if (!seqs) this.#uncertain.set(sid, (seqs = new Set()));
    seqs.add(seq);
    this.#releaseRetryMs = RETRY_FIRST_MS;
    this.#scheduleRelease();
  }

  #settled(sid: string, seq: number): void {
    const seqs = this.#uncertain.get(sid);
    if (!seqs?.delete(seq)) return;
    if (seqs.size === 0) this.#uncertain.delete(sid);
  }

  #scheduleRelease(): void {
    if (this.#releaseTimer || this.#uncertain.size === 0 || this.#s.closed()) return;
    this.#releaseTimer = setTimeout(() => {
      this.#releaseTimer = undefined;
      void this.#release();
    }, this.#releaseRetryMs);
    this.#releaseTimer.unref();
  }

  /**
   * Hands our entries of failed accepts to no one (`burrowJournalRelease`): every node, this one too,
   * then takes each over as a dead node's entry, exactly once, and emits it flagged `redelivered`.
   * For sessions whose next frames come here first, an accept (or replay) reads the entry back still
   * ours and emits it itself (see #replayFrom); the two never overlap, so only one of them hands it on.
   */
  async #release(): Promise<void> {
    const { r, keys } = this.#s;
    if (r.status !== 'ready') {
      this.#releaseRetryMs = Math.min(this.#releaseRetryMs * 2, RETRY_MAX_MS);
      return this.#scheduleRelease();
    }
    // Sessions with an accept on its way wait for the next round (see #accepting).
    const pending = [...this.#uncertain].filter(([sid]) => !this.#accepting.has(sid)).map(([sid, seqs]) => [sid, [...seqs]] as const);
    const released = `${RELEASED}${this.#node.id}`;
    let res: Settled[] = [];
    for (const [sid] of pending) this.#releasingSids.add(sid);
    const run = batch(r, pending.map(([sid, seqs]) => (c) => c.burrowJournalRelease(...keys.session(sid), this.#node.id, released, ...seqs.map(seqArg))));
    this.#releasing = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      res = await run;
    } catch {
      // Unreachable again: retried below.
    } finally {
      this.#releasingSids.clear();
      this.#releasing = undefined;
    }
    pending.forEach(([sid, seqs], i) => {
      if (!res[i]?.ok) return;
      const left = this.#uncertain.get(sid);
      for (const seq of seqs) left?.delete(seq);
      if (left?.size === 0) this.#uncertain.delete(sid);
    });
    if (this.#uncertain.size > 0) {
      this.#releaseRetryMs = Math.min(this.#releaseRetryMs * 2, RETRY_MAX_MS);
      this.#scheduleRelease();
    }
  }

  #take(sid: string): PendingConfirm | undefined {
    const c = this.#confirms.get(sid);
    if (c !== undefined) this.#confirms.delete(sid);
    return c;
  }

  /** The highest seq wins; the latest condition too (it is read when sent, so it is never stale). */
  #keep(sid: string, c: PendingConfirm): void {
    const old = this.#confirms.get(sid);
    if (old === undefined || c.seq > old.seq) this.#confirms.set(sid, old?.after && !c.after ? { seq: c.seq, after: old.after } : c);
    else if (c.after && !old.after) this.#confirms.set(sid, { seq: old.seq, after: c.after });
  }

  /**
   * Journal entries returned by a script ({seq, owner, entry}...): this node's own (a reply it never
   * got: already its to deliver), and other nodes' — taken over, atomically, when their owner is dead.
   */
  async #replayFrom(sid: string, flat: readonly unknown[]): Promise<InboundReplay> {
    const own: JournalEntry[] = [];
    const foreign: { seq: number; owner: string; entry: Buffer }[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const seq = flat[i];
      const owner = toStr(flat[i + 1]);
      const entry = flat[i + 2];
      if (typeof seq !== 'number' || owner === undefined || !Buffer.isBuffer(entry)) continue;
      if (owner !== this.#node.id) foreign.push({ seq, owner, entry });
      // Ours, of an accept that failed here (it ran; the reply was lost) and not released yet: no release
      // of the session runs beside this call, so none will hand it over now. Emitted here, before the
      // frame this call accepts: left to the release, it was confirmed away by the next confirm (an
      // inbound frame lost: the failover case's "599 of 600"), or emitted after later frames.
      else if (this.#uncertain.get(sid)?.has(seq)) {
        this.#settled(sid, seq);
        own.push(journalEntry(seq, entry));
      }
      // Ours, emitted: its confirm is still to be sent, or on its way (see #flushing).
      else if (seq <= Math.max(this.#confirms.get(sid)?.seq ?? 0, this.#flushing.get(sid) ?? 0)) continue;
      else own.push(journalEntry(seq, entry));
    }
    let recheckMs: number | undefined;
    if (foreign.length > 0) {
      const now = Date.now();
      await this.#node.refresh(foreign.map((f) => f.owner), now);
      const dead = foreign.filter((f) => this.#node.aliveUntil(f.owner) <= now);
      for (const f of foreign) {
        const until = this.#node.aliveUntil(f.owner);
        if (until > now) recheckMs = Math.min(recheckMs ?? Infinity, until - now + 20);
      }
      if (dead.length > 0) {
        const owners = dead.flatMap((f) => [f.owner, seqArg(f.seq)]);
        let taken: unknown;
        try {
          taken = await this.#s.r.burrowJournalClaim(...this.#s.keys.session(sid), this.#node.id, ...owners);
        } catch (err) {
          // The claim may have run, its reply lost with the connection: the entries are ours then,
          // and with this call failed nobody would emit them (another node waits behind them while we
          // live). Released as those of an accept whose reply was lost.
          for (const f of dead) this.#lostReply(sid, f.seq);
          throw err;
        }
        const got = new Set<unknown>(Array.isArray(taken) ? taken : []);
        for (const f of dead) if (got.has(f.seq)) own.push(journalEntry(f.seq, f.entry));
      }
    }
    own.sort((x, y) => x.seq - y.seq);
    return { ...(own.length > 0 ? { replay: own } : {}), ...(recheckMs !== undefined ? { recheckMs } : {}) };
  }
}

/** A script's status code (burrowAccept) as an {@link InboundResult} status. */
function statusOf(code: unknown): InboundResult['status'] {
  return code === 1 ? 'new' : code === 2 ? 'dup' : code === 3 ? 'gap' : code === 4 ? 'wait' : 'unknown';
}
