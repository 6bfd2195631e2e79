/**
 * WsHold (onBufferFull 'pause' on a WebSocket) beside the read-ahead bound: a socket paused because
 * the store is behind on frames already read (limits.maxInboundPendingBytes) is not the hold's to
 * resume, neither when its gate opens nor when it probes for acks.
 */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { WebSocket } from 'ws';
import type { Frame } from '@burrow/shared';
import type { InboundGate } from '../src/session/backpressure.js';
import { WsHold } from '../src/transports/ws-hold.js';

function rig() {
  const state = { paused: false, resumes: 0, heldBack: false, opened: undefined as (() => void) | undefined };
  const ws = {
    OPEN: 1,
    readyState: 1,
    once() {},
    close() {},
    pause: () => void (state.paused = true),
    resume: () => {
      state.paused = false;
      state.resumes++;
    },
  } as unknown as WebSocket;
  const gate = {
    paused: true,
    onOpen: (fn: () => void) => {
      state.opened = fn;
      return () => {};
    },
  } as unknown as InboundGate & { paused: boolean };
  const applied: Frame[] = [];
  const hold = new WsHold(ws, gate, 1 << 20, { apply: (f) => void applied.push(f), readingHeldBack: () => state.heldBack });
  return { state, gate, applied, hold };
}

test('the gate opens while the read-ahead is full: the held frames are applied, the socket stays paused', () => {
  const { state, gate, applied, hold } = rig();
  try {
    assert.equal(hold.hold({ t: 'd', seq: 1, data: 'a' }, 1), true);
    assert.equal(state.paused, true);
    state.heldBack = true;
    gate.paused = false;
    state.opened!();
    assert.deepEqual(applied.map((f) => 'seq' in f && f.seq), [1]);
    assert.equal(state.paused, true, 'resumed while frames read ahead wait for the store');
    assert.equal(state.resumes, 0);
  } finally {
    state.heldBack = false;
  }
});

test('the gate opens with the read-ahead not full: the socket is read again', () => {
  const { state, gate, hold } = rig();
  hold.hold({ t: 'd', seq: 1, data: 'a' }, 1);
  gate.paused = false;
  state.opened!();
  assert.equal(state.paused, false);
  assert.equal(state.resumes, 1);
});
