/**
 * What a session core does for the app's calls on it that write to the store: `session.send()` (on
 * the in-process store appended and written within the call; on a networked one through the outage
 * hold, with one idempotency token for every try) and room membership.
 */
import { CloseCode } from '@burrow/shared';
import { BurrowError, storeUnavailable } from '../errors/burrow-error.js';
import type { AppendResult, NewFrame, OutboundFrame, WakeListener } from '../store/store.js';
import type { InboundGate } from './backpressure.js';
import { RESOLVED } from './handle.js';
import type { OutageHold } from './outage-hold.js';
import { checkRoom, preparePayload, type SendData } from './payload.js';
import type { SessionHost } from './types.js';

/** What sending needs of a session core (which is also its wake-up listener). */
export interface SendTarget {
  readonly id: string;
  readonly host: SessionHost;
  readonly closed: boolean;
  /** Sends are held through an outage right now. */
  readonly holding: boolean;
  readonly gate: InboundGate;
  outageHold(): OutageHold;
  closeBy(by: 'server', code: number, reason: string): Promise<void>;
  ended(): void;
  deliverAppended(frames: readonly OutboundFrame[]): void;
}

/** Numbers this node's sends (the idempotency token of `Store.append`). */
let sendCounter = 0;

/** A number after every send made so far: a client close held behind them takes its place by it. */
export function nextSendNumber(): number {
  return ++sendCounter;
}

export function sendOne(core: SendTarget & WakeListener, input: SendData): Promise<void> {
  if (core.closed) return Promise.reject(closedError());
  let p: ReturnType<typeof preparePayload>;
  try {
    p = preparePayload(input, core.host.options.limits.maxPayload);
  } catch (err) {
    return Promise.reject(err);
  }
  const { data, size, header } = p;
  const sync = core.host.store.sync;
  if (sync && !core.holding) {
    // In-process store: appended and written in this call, no promise hop or timer (a failure
    // takes the general path below, which settles it).
    const r = sync.appendSync(core.id, [{ t: 'd', data, size }], core.host.options.limits, core);
    if (!r.ok) return appendFailed(core, r.reason);
    appended(core, r.frames, header);
    return RESOLVED;
  }
  // One token for every try of this send: a retry after a lost reply is recognised by the store.
  const n = ++sendCounter;
  const token = `${core.host.nodeId} ${n}`;
  // Unsettled until the store answers it or it fails for good: until then the store runs none of
  // this node's later appends of the session, nor lets another node take its next frames.
  const order = core.host.appendOrder;
  order.add(core.id, n, token);
  const frames: NewFrame[] = [{ t: 'd', data, size }];
  const limits = core.host.options.limits;
  if (core.holding || core.host.storeDown) return settleWhenDone(core, n, core.outageHold().send(size, writer(core, n, token, frames, header), n));
  // The usual case, the store up and nothing held: the first try without the hold's async frame
  // (one promise of ours per send instead of four, issue #14); a store failure still ends up held.
  return core.host.store.append(core.id, frames, limits, token, order.before(core.id, n)).then(
    (r) => {
      order.settle(core.id, n);
      return answered(core, r, header);
    },
    (err: unknown) => settleWhenDone(core, n, core.outageHold().afterFailure(err, size, writer(core, n, token, frames, header), n)),
  );
}

/** One try of a networked send (the outage hold's tries), with the token of every try. */
function writer(core: SendTarget, n: number, token: string, frames: readonly NewFrame[], header: Uint8Array | undefined): () => Promise<void> {
  return async () => {
    // Held through an outage, the session may have ended meanwhile.
    if (core.closed) throw closedError();
    if (core.host.storeDown) throw storeUnavailable();
    const order = core.host.appendOrder;
    const r = await core.host.store.append(core.id, frames, core.host.options.limits, token, order.before(core.id, n));
    order.settle(core.id, n);
    return answered(core, r, header);
  };
}

/** The store's answer to a networked send: its frame goes out, or the send fails with why. */
function answered(core: SendTarget, r: AppendResult, header: Uint8Array | undefined): Promise<never> | undefined {
  if (!r.ok) return appendFailed(core, r.reason);
  appended(core, r.frames, header);
  return undefined;
}

/** The send numbered `n` settles in the append order once `held` is done, whichever way. */
function settleWhenDone(core: SendTarget, n: number, held: Promise<void>): Promise<void> {
  const settled = (): void => core.host.appendOrder.settle(core.id, n);
  held.then(settled, settled);
  return held;
}

/** A single-session send's frame is in the log: it goes out now when next in line. */
function appended(core: SendTarget, frames: readonly OutboundFrame[], header: Uint8Array | undefined): void {
  const f = frames[0];
  if (header && f) {
    new DataView(header.buffer).setFloat64(0, f.frame.seq, false);
    f.ws = header;
  }
  core.deliverAppended(frames);
}

/** Why the store refused an append, as the rejection of that `send()`. */
async function appendFailed(core: SendTarget, reason: 'overflow' | 'unknown' | 'closed'): Promise<never> {
  if (reason === 'overflow' && core.host.options.onBufferFull === 'pause') {
    // Loud but not fatal: the caller hears of it, and this node stops reading the session until acks drain it.
    core.gate.pause();
    throw new BurrowError('buffer_overflow', 'outbound buffer full: reading from the session is paused', CloseCode.BufferOverflow);
  }
  if (reason === 'overflow') {
    await core.closeBy('server', CloseCode.BufferOverflow, 'outbound buffer full');
    throw new BurrowError('buffer_overflow', 'outbound buffer full: the peer stopped reading', CloseCode.BufferOverflow);
  }
  core.ended();
  if (reason === 'closed') throw closedError();
  throw expiredError();
}

export async function joinRoom(core: SendTarget, room: string): Promise<void> {
  checkRoom(room);
  if (core.closed) throw closedError();
  if (core.host.storeDown) throw storeUnavailable();
  if (!(await core.host.store.join(core.id, room))) {
    core.ended();
    throw expiredError();
  }
}

export async function leaveRoom(core: SendTarget, room: string): Promise<void> {
  checkRoom(room);
  if (core.host.storeDown) throw storeUnavailable();
  await core.host.store.leave(core.id, room);
}

export async function roomsOf(core: SendTarget): Promise<readonly string[]> {
  if (core.host.storeDown) throw storeUnavailable();
  return core.host.store.rooms(core.id);
}

function closedError(): BurrowError {
  return new BurrowError('session_closed', 'session is closed', CloseCode.Normal);
}

function expiredError(): BurrowError {
  return new BurrowError('session_unknown', 'session expired', CloseCode.SessionUnknown);
}
