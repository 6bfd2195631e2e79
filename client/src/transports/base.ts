/**
 * What every transport does the same way: it ends exactly once, either closed by the engine (silently)
 * or reported down (once), and after that nothing it owns may reach the engine again.
 */
import type { Frame } from '@burrow/shared';
import type { TransportName } from '../types.js';
import type { DownReason, Transport, TransportHandlers } from './transport.js';

export abstract class TransportBase implements Transport {
  abstract readonly name: TransportName;
  abstract readonly ackDelay: number;
  #done = false;

  constructor(protected readonly handlers: TransportHandlers) {}

  abstract send(frames: readonly Frame[]): void;

  close(code?: number): void {
    if (this.#done) return;
    this.#done = true;
    this.closeCode = code;
    this.cleanup();
  }

  /** The code `close()` was given, for a transport whose wire can carry one. */
  protected closeCode: number | undefined;

  /** Closed or down: late platform events must be dropped, not reported. */
  protected get done(): boolean {
    return this.#done;
  }

  /** Ends the transport and tells the engine why, once; later calls (a close event after an error) are ignored. */
  protected down(why: DownReason): void {
    if (this.#done) return;
    this.#done = true;
    this.cleanup();
    this.handlers.onDown(why);
  }

  /** Releases timers, requests and platform objects; runs once, on close or down. */
  protected abstract cleanup(): void;
}
