/**
 * When the client acknowledges what it delivered. Acks only have to bound what the server holds for
 * us, so they ride on traffic that flows anyway (every HTTP request carries one) and otherwise go out
 * lazily: at once after ACK_EVERY frames or ACK_SIZE of payload, else after the live transport's ack
 * delay (none for polling, whose every poll carries the ack).
 */
import { ACK_EVERY } from '@burrow/shared';

/**
 * An ack goes out at once when this much payload was delivered since the last one (UTF-16 units of
 * text, bytes of binary: a cheap measure, within 3x of the UTF-8 bytes the server's buffer counts),
 * as it does after ACK_EVERY frames: the two bound what the server holds for us, whatever the
 * transport's ack delay.
 */
export const ACK_SIZE = 64 * 1024;

/** What the ack clock needs of the engine. */
export interface AckHost {
  /** The highest seq delivered to the app. */
  delivered(): number;
  /** The live transport's ack delay in ms; Infinity when none is live, the session is over, or its downstream carries every ack. */
  delay(): number;
  /** Whether a transport is live to carry an ack frame. */
  live(): boolean;
  /** Sends an ack frame for `ack` on the live transport. */
  send(ack: number): void;
}

export class AckClock {
  readonly #host: AckHost;
  /** The highest ack sent to the server: in an ack frame, or carried by a request (HTTP). */
  #sent = 0;
  /** A resend was seen: our ack may have been lost, so one goes out even with nothing new. */
  #force = false;
  /** Payload delivered since the last ack went out (see ACK_SIZE). */
  #unackedSize = 0;
  /** The delivered seq the timer was started for: the frames it must see acknowledged. */
  #timerSeq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: AckHost) {
    this.#host = host;
  }

  /** Whether something delivered was not acknowledged yet. */
  get behind(): boolean {
    return this.#host.delivered() > this.#sent;
  }

  /** A data frame of `size` was delivered. */
  delivered(size: number): void {
    this.#unackedSize += size;
    this.schedule();
  }

  /** A frame we delivered already came again. */
  resendSeen(): void {
    this.#force = true;
    this.schedule();
  }

  /**
   * Something was delivered (or a resend seen): make sure an ack follows, at once past the bounds,
   * otherwise within the ack delay unless traffic that flows anyway carries it first.
   */
  schedule(): void {
    const delay = this.#host.delay();
    if (delay === Infinity) return;
    if (this.#host.delivered() - this.#sent >= ACK_EVERY || this.#unackedSize >= ACK_SIZE) return this.flush();
    if (this.#timer) return;
    this.#timerSeq = this.#host.delivered();
    this.#timer = setTimeout(this.#due, delay);
  }

  /** Sends the ack now, if there is anything to acknowledge and a transport to carry it. */
  flush(): void {
    this.stop();
    const delivered = this.#host.delivered();
    if (!this.#host.live() || (delivered <= this.#sent && !this.#force)) return;
    this.#sent = delivered;
    this.#unackedSize = 0;
    this.#force = false;
    this.#host.send(delivered);
  }

  /** A request carried `ack` to the server: what it covers needs no ack of its own. */
  carried(ack: number): void {
    if (ack > this.#sent) this.#sent = ack;
    if (ack >= this.#host.delivered()) {
      this.#unackedSize = 0;
      this.#force = false;
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The ack delay passed. If what started the timer was carried meanwhile, newer deliveries get a
   * timer of their own (so they wait at most twice the delay); otherwise the ack goes now.
   */
  readonly #due = (): void => {
    this.#timer = undefined;
    if (this.#sent >= this.#timerSeq && !this.#force) {
      if (this.behind) this.schedule();
      return;
    }
    this.flush();
  };
}
