/**
 * When the client acknowledges what it delivered. Acks only have to bound what the server holds for
 * us, so they ride on traffic that flows anyway (every HTTP request carries one) and otherwise go out
 * lazily: at once after ACK_EVERY frames or ACK_SIZE of payload (or sooner when the server's `open`
 * asks: its buffer limits are smaller), else after the live transport's ack delay.
 */
import { ACK_EVERY, ACK_SIZE, type OpenFrame } from '@burrow/shared';

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
  /** The latest `open` frame: a server with small buffer limits asks for a faster cadence in it. */
  terms(): OpenFrame | null;
}

/** See {@link createAckClock}. */
export type AckClock = ReturnType<typeof createAckClock>;

/** A closure rather than a class, for the bundle size: see docs/ARCHITECTURE.md, "Closures, not classes". */
export function createAckClock(host: AckHost) {
  /** The highest ack sent to the server: in an ack frame, or carried by a request (HTTP). */
  let sent = 0;
  /** A resend was seen: our ack may have been lost, so one goes out even with nothing new. */
  let force = false;
  /** Payload delivered since the last ack went out (see ACK_SIZE). */
  let unackedSize = 0;
  /** The delivered seq the timer was started for: the frames it must see acknowledged. */
  let timerSeq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  /** Whether something delivered was not acknowledged yet. */
  const behind = (): boolean => {
    return host.delivered() > sent;
  };

  /** A data frame of `size` was delivered. */
  const delivered = (size: number): void => {
    unackedSize += size;
    schedule();
  };

  /** A frame we delivered already came again. */
  const resendSeen = (): void => {
    force = true;
    schedule();
  };

  /**
   * Something was delivered (or a resend seen): make sure an ack follows, at once past the bounds,
   * otherwise within the ack delay unless traffic that flows anyway carries it first.
   */
  const schedule = (): void => {
    const delay = host.delay();
    if (delay === Infinity) return;
    const t = host.terms();
    if (host.delivered() - sent >= (t?.ackEvery ?? ACK_EVERY) || unackedSize >= (t?.ackBytes ?? ACK_SIZE)) return flush();
    if (timer) return;
    timerSeq = host.delivered();
    timer = setTimeout(due, delay);
  };

  /** Sends the ack now, if there is anything to acknowledge and a transport to carry it. */
  const flush = (): void => {
    stop();
    const delivered = host.delivered();
    if (!host.live() || (delivered <= sent && !force)) return;
    sent = delivered;
    unackedSize = 0;
    force = false;
    host.send(delivered);
  };

  /** A request carried `ack` to the server: what it covers needs no ack of its own. */
  const carried = (ack: number): void => {
    if (ack > sent) sent = ack;
    if (ack >= host.delivered()) {
      unackedSize = 0;
      force = false;
    }
  };

  const stop = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };

  /**
   * The ack delay passed. If what started the timer was carried meanwhile, newer deliveries get a
   * timer of their own (so they wait at most twice the delay); otherwise the ack goes now.
   */
  const due = (): void => {
    timer = undefined;
    if (sent >= timerSeq && !force) {
      if (behind()) schedule();
      return;
    }
    flush()
  };
  // Functions only, no getter: V8 makes an object literal with an accessor a dictionary (~450 B per
  // socket, and a hash lookup on every call through it).
  return { behind, delivered, resendSeen, schedule, flush, carried, stop };
}
