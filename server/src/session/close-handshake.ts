/**
 * The close handshake of a session core (the diagram is in state.ts): who closed first is the
 * store's call (`appendClose`), so `close` is emitted exactly once across all nodes, and the close
 * frame goes out through the pump like any other sequenced frame.
 */
import { CloseCode } from '@burrow/shared';
import type { OutboundFrame } from '../store/store.js';
import type { Session } from './handle.js';
import type { SessionState } from './state.js';
import type { Downstream, SessionHost } from './types.js';

/** What the handshake needs of a session core. */
export interface CloseTarget {
  readonly id: string;
  readonly host: SessionHost;
  readonly handle: Session;
  readonly state: SessionState;
  readonly downstream: Downstream | undefined;
  setState(next: SessionState): void;
  ended(): void;
  dispose(code: number, reason: string): void;
  deliverAppended(frames: readonly OutboundFrame[]): void;
  /** Holds the timer that stops waiting for the client's echo of our close. */
  awaitEcho(timer: NodeJS.Timeout): void;
  transportFailed(d: Downstream | undefined, err: unknown): void;
}

/**
 * Ends the session from this side, or records the peer's close. Emits `close` exactly once across
 * all nodes (the store's `appendClose` decides who is first) and queues the close frame.
 */
export async function closeSession(core: CloseTarget, by: 'client' | 'server', code: number | undefined, reason: string | undefined): Promise<void> {
  const store = core.host.store;
  const r = await store.appendClose(core.id, by, code, reason);
  if (!r.ok) {
    core.ended();
    return core.dispose(CloseCode.SessionUnknown, 'session unknown');
  }
  const linger = core.host.options.closeLinger;
  if (r.first) {
    // Set before the frame is queued: writing it is what ends the downstream in `closed`.
    if (by === 'client') core.setState('closed');
    else if (core.state !== 'closed') core.setState('closing');
    core.host.emitClose(core.handle, code ?? CloseCode.NoStatus, reason ?? '');
    if (r.frame) core.deliverAppended([r.frame]);
    if (by === 'client') {
      await store.touch(core.id, linger, false);
    } else {
      // The client echoes our close; if it never does, stop waiting for it after closeLinger.
      const timer = setTimeout(() => {
        const d = core.downstream;
        if (d && core.state !== 'closed') d.end(code ?? CloseCode.Normal, reason ?? '');
      }, linger);
      timer.unref();
      core.awaitEcho(timer);
    }
  } else if (by === 'client' && r.record.closed?.by === 'server') {
    // The echo of our close (sent from this node or another): the handshake is complete.
    core.setState('closed');
    await store.touch(core.id, linger, false);
    core.downstream?.end(CloseCode.Normal, 'session closed');
  } else core.ended();
}

/** A violated limit or a protocol error: the session ends with `code` and the transport with it. */
export async function failSession(core: CloseTarget, code: number, reason: string): Promise<void> {
  const d = core.downstream;
  try {
    await closeSession(core, 'server', code, reason);
    // No echo awaited: the transport ends now, with the code that says why.
    core.setState('closed');
    await core.host.store.touch(core.id, core.host.options.closeLinger, false);
  } catch (err) {
    // The store cannot record the close: drop the transport (1013); the session is unchanged.
    return core.transportFailed(d, err);
  }
  if (d) d.end(code, reason);
}
