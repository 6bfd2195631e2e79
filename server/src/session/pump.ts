/**
 * The outbound half of a session core: frames go from the store's outbound log to the attached
 * downstream, in seq order, each at most once per downstream. Frames this node just appended are
 * written straight away when they are next in line; anything else (a resume, a wake-up from another
 * node's append) is read from the log by the pump.
 */
import type { OutboundFrame, SyncStore } from '../store/store.js';
import { RESOLVED } from './handle.js';
import type { Downstream, SessionHost } from './types.js';

/** What the pump needs of its core. */
export interface PumpHost {
  readonly id: string;
  readonly host: SessionHost;
  readonly downstream: Downstream | undefined;
  transportFailed(d: Downstream | undefined, err: unknown): void;
  /** Frames up to `last` were just written to `d` (the close handshake may end it now). */
  written(d: Downstream, last: OutboundFrame): void;
}

/**
 * `idle`: no read in flight. `reading`: one read from the log in flight. `again`: a read is in
 * flight and something (a wake-up, a full batch) asked for another one after it.
 */
type PumpState = 'idle' | 'reading' | 'again';

export class OutboundPump {
  readonly #core: PumpHost;
  #state: PumpState = 'idle';
  /** Highest seq written to the current downstream. */
  #sentSeq = 0;
  /** Highest outbound seq and client ack this node has seen (for the buffer gauge). */
  #outHigh = 0;
  #outAcked = 0;

  constructor(core: PumpHost) {
    this.#core = core;
  }

  /** Outbound frames this node knows were queued but not yet acknowledged by the client. */
  get unacked(): number {
    return Math.max(0, this.#outHigh - this.#outAcked);
  }

  /** A downstream attached: it starts after the client's ack. */
  restart(clientAck: number, outSeq: number): void {
    this.#sentSeq = Math.min(clientAck, outSeq);
    if (outSeq > this.#outHigh) this.#outHigh = outSeq;
    this.clientAcked(clientAck);
  }

  clientAcked(ack: number): void {
    if (ack > this.#outAcked) this.#outAcked = ack;
  }

  /** Another node appended up to `lastSeq`: read it if the downstream has not had it. */
  woken(lastSeq: number): void {
    if (lastSeq > this.#sentSeq) void this.pump();
  }

  /** Frames this node just appended: written straight to the downstream when they are next in line. */
  deliver(frames: readonly OutboundFrame[]): void {
    const d = this.#core.downstream;
    const first = frames[0];
    if (!d || !first) return;
    if (this.#state === 'idle' && first.frame.seq === this.#sentSeq + 1) this.#write(d, frames);
    else void this.pump();
  }

  #write(d: Downstream, frames: readonly OutboundFrame[]): void {
    const last = frames[frames.length - 1];
    if (!last) return;
    this.#sentSeq = last.frame.seq;
    if (last.frame.seq > this.#outHigh) this.#outHigh = last.frame.seq;
    this.#core.host.tap?.sent(d.transport, frames);
    d.write(frames);
    this.#core.written(d, last);
  }

  /** Reads whatever the downstream has not been given yet from the log and writes it. */
  pump(): Promise<void> {
    const sync = this.#core.host.store.sync;
    if (!sync) return this.#pump();
    this.#pumpSync(sync);
    return RESOLVED;
  }

  /** {@link pump} on an in-process store: the same loop, with no promise hop per read. */
  #pumpSync(sync: SyncStore): void {
    if (this.#state !== 'idle') {
      this.#state = 'again';
      return;
    }
    const core = this.#core;
    let d: Downstream | undefined;
    try {
      do {
        this.#state = 'reading';
        d = core.downstream;
        if (!d) break;
        const frames = sync.readSync(core.id, this.#sentSeq, d.batchFrames, d.batchBytes);
        if (frames.length === 0) continue;
        this.#write(d, frames);
        if (frames.length >= d.batchFrames) this.#state = 'again';
      } while (this.#state === 'again');
    } catch (err) {
      core.transportFailed(d, err);
    } finally {
      this.#state = 'idle';
    }
  }

  async #pump(): Promise<void> {
    if (this.#state !== 'idle') {
      this.#state = 'again';
      return;
    }
    const core = this.#core;
    let d: Downstream | undefined;
    try {
      do {
        this.#state = 'reading';
        d = core.downstream;
        if (!d) break;
        const after = this.#sentSeq;
        const frames = await core.host.store.read(core.id, after, d.batchFrames, d.batchBytes);
        if (core.downstream !== d || this.#sentSeq !== after) {
          this.#state = 'again';
          continue;
        }
        // Not `break`: a wake-up that came in while the read was in flight set `again`, and
        // dropping it leaves a held poll asleep until its timeout.
        if (frames.length === 0) continue;
        this.#write(d, frames);
        // A full batch means there may be more; a poll has detached by now, which ends the loop.
        if (frames.length >= d.batchFrames) this.#state = 'again';
      } while (this.#state === 'again');
    } catch (err) {
      core.transportFailed(d, err);
    } finally {
      this.#state = 'idle';
    }
  }
}
