/**
 * Client control frames (acks, pings, pongs) applied with no inbound queue: what an idle session's
 * client sends never makes it one (inbound.ts).
 */
import type { Frame } from '@burrow/shared';
import type { InboundHost } from './types.js';
import type { InboundOutcome } from './types.js';

/**
 * {@link InboundQueue.applyNow} for a batch of acks, pings and pongs alone, when the session has no
 * queue yet: what a client that sends no data sends (its acks and heartbeat pings) is applied without
 * one, so an idle session never makes it. The same preconditions and the same effects as `applyNow`
 * with nothing queued (and with no queue nothing is); undefined when the batch needs the queue.
 */
export function applyControlNow(core: InboundHost, frames: readonly Frame[], inAck: number): InboundOutcome | undefined {
  const sync = core.host.store.sync;
  if (!sync || core.paused) return undefined;
  let ack = -1;
  let pinged = false;
  for (const f of frames) {
    if (f.t === 'ack') {
      if (f.ack > ack) ack = f.ack;
    } else if (f.t === 'ping') pinged = true;
    else if (f.t !== 'pong') return undefined;
  }
  if (pinged) core.pong();
  core.clientAcked(ack);
  if (ack >= 0) sync.ackSync(core.id, ack);
  return { ack: inAck };
}
