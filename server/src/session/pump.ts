/**
 * The outbound half of a session core: frames go from the store's outbound log to the attached
 * downstream, in seq order, each at most once per downstream. Frames this node just appended are
 * written straight away when they are next in line; anything else (a resume, a wake-up from another
 * node's append) is read from the log by the pump.
 *
 * A base class of the core rather than an object of its own (as the control coalescer is of the
 * downstreams): its state is four fields in the core, where an object of its own cost every session,
 * idle ones too, 72 bytes more (bench/README.md, "Idle memory per WebSocket session"). Its helper
 * methods are TypeScript `private`, not `#`: V8 gives every instance of a class with `#` methods a
 * brand field, 8 bytes per session.
 */
import type { OutboundFrame, SyncStore } from '../store/store.js';
import { RESOLVED } from './handle.js';
import type { Downstream, SessionHost } from './types.js';

/**
 * `idle`: no read in flight. `reading`: one read from the log in flight. `again`: a read is in
 * flight and something (a wake-up, a full batch) asked for another one after it.
 */
type PumpState = 'idle' | 'reading' | 'again';

export abstract class OutboundPump {
  abstract readonly id: string;
  abstract readonly host: SessionHost;
  abstract readonly downstream: Downstream | undefined;
  abstract transportFailed(d: Downstream | undefined, err: unknown): void;
  /** Frames up to `last` were just written to `d` (the close handshake may end it now). */
  abstract written(d: Downstream, last: OutboundFrame): void;

  #pumpState: PumpState = 'idle';
  /** Highest seq written to the current downstream. */
  #sentSeq = 0;
  /** Highest outbound seq and client ack this node has seen (for the buffer gauge). */
  #outHigh = 0;
  #outAcked = 0;

  /** Outbound frames this node knows were queued but not yet acknowledged by the client. */
  get unacked(): number {
    return Math.max(0, this.#outHigh - this.#outAcked);
  }

  /** A downstream attached: it starts after the client's ack. */
  protected restartPump(clientAck: number, outSeq: number): void {
    this.#sentSeq = Math.min(clientAck, outSeq);
    if (outSeq > this.#outHigh) this.#outHigh = outSeq;
    this.clientAcked(clientAck);
  }

  /** @internal The client acknowledged outbound frames up to `ack` (the inbound queue reports it). */
  clientAcked(ack: number): void {
    if (ack > this.#outAcked) this.#outAcked = ack;
  }

  /**
   * Another node appended up to `ev.lastSeq`: read it if the downstream has not had it, or write
   * `ev.frames` (the wake's own copy of the log's frames ending at `lastSeq`) when they are next in
   * line. The event, not its frames: a networked store parses them on first use, and a stale wake
   * (our own append's reply came first) should not pay for that.
   */
  protected pumpWoken(ev: { readonly lastSeq: number; readonly frames?: readonly OutboundFrame[] | undefined }): void {
    if (ev.lastSeq <= this.#sentSeq) return;
    const frames = ev.frames;
    const first = frames?.[0];
    if (!frames || !first) return void this.pump();
    // Those the downstream has had already (a read overtook the wake) are dropped, not written twice.
    const skip = this.#sentSeq + 1 - first.frame.seq;
    this.deliverAppended(skip > 0 ? frames.slice(skip) : frames);
  }

  /**
   * Frames this node appended (a send, a room fan-out, a close): written straight to the downstream
   * when they are next in line.
   */
  deliverAppended(frames: readonly OutboundFrame[]): void {
    const d = this.downstream;
    const first = frames[0];
    if (!d || !first) return;
    if (this.#pumpState === 'idle' && first.frame.seq === this.#sentSeq + 1) this.writeFrames(d, frames);
    else void this.pump();
  }

  private writeFrames(d: Downstream, frames: readonly OutboundFrame[]): void {
    const last = frames[frames.length - 1];
    if (!last) return;
    this.#sentSeq = last.frame.seq;
    if (last.frame.seq > this.#outHigh) this.#outHigh = last.frame.seq;
    this.host.tap?.sent(d.transport, frames);
    d.write(frames);
    this.written(d, last);
  }

  /** Reads whatever the downstream has not been given yet from the log and writes it. */
  protected pump(): Promise<void> {
    const sync = this.host.store.sync;
    if (!sync) return this.pumpAsync();
    this.pumpSync(sync);
    return RESOLVED;
  }

  /** {@link pump} on an in-process store: the same loop, with no promise hop per read. */
  private pumpSync(sync: SyncStore): void {
    if (this.#pumpState !== 'idle') {
      this.#pumpState = 'again';
      return;
    }
    let d: Downstream | undefined;
    try {
      do {
        this.#pumpState = 'reading';
        d = this.downstream;
        if (!d) break;
        const frames = sync.readSync(this.id, this.#sentSeq, d.batchFrames, d.batchBytes);
        if (frames.length === 0) continue;
        this.writeFrames(d, frames);
        if (frames.length >= d.batchFrames) this.#pumpState = 'again';
      } while (this.#pumpState === 'again');
    } catch (err) {
      this.transportFailed(d, err);
    } finally {
      this.#pumpState = 'idle';
    }
  }

  private async pumpAsync(): Promise<void> {
    if (this.#pumpState !== 'idle') {
      this.#pumpState = 'again';
      return;
    }
    let d: Downstream | undefined;
    try {
      do {
        this.#pumpState = 'reading';
        d = this.downstream;
        if (!d) break;
        const after = this.#sentSeq;
        const frames = await this.host.store.read(this.id, after, d.batchFrames, d.batchBytes);
        if (this.downstream !== d || this.#sentSeq !== after) {
          this.#pumpState = 'again';
          continue;
        }
        // Not `break`: a wake-up that came in while the read was in flight set `again`, and
        // dropping it leaves a held poll asleep until its timeout.
        if (frames.length === 0) continue;
        this.writeFrames(d, frames);
        // A full batch means there may be more; a poll has detached by now, which ends the loop.
        if (frames.length >= d.batchFrames) this.#pumpState = 'again';
      } while (this.#pumpState === 'again');
    } catch (err) {
      this.transportFailed(d, err);
    } finally {
      this.#pumpState = 'idle';
    }
  }
}
