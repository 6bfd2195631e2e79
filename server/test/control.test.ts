// ControlCoalescer: at most one ack and one pong waiting for the socket to flush; the rest merged.
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { AckFrame, PongFrame } from '@burrow/shared';
import { ControlCoalescer } from '../src/transports/control.js';

function harness() {
  const written: Array<AckFrame | PongFrame> = [];
  const pending: Array<() => void> = [];
  class Recorder extends ControlCoalescer {
    protected writeControl(frame: AckFrame | PongFrame, flushed: () => void): void {
      written.push(frame);
      pending.push(flushed);
    }
  }
  const c = new Recorder();
  return { c, written, flushAll: () => pending.splice(0).forEach((f) => f()) };
}

describe('ControlCoalescer', () => {
  it('a reader that keeps up gets every frame as sent', () => {
    const h = harness();
    for (let i = 1; i <= 3; i++) {
      h.c.control({ t: 'pong' });
      h.c.control({ t: 'ack', ack: i });
      h.flushAll();
    }
    assert.deepEqual(h.written, [
      { t: 'pong' }, { t: 'ack', ack: 1 }, { t: 'pong' }, { t: 'ack', ack: 2 }, { t: 'pong' }, { t: 'ack', ack: 3 },
    ]);
  });

  it('100,000 pongs while the socket is backed up: one written, one owed, written on flush', () => {
    const h = harness();
    for (let i = 0; i < 100_000; i++) h.c.control({ t: 'pong' });
    assert.deepEqual(h.written, [{ t: 'pong' }]);
    h.flushAll();
    assert.deepEqual(h.written, [{ t: 'pong' }, { t: 'pong' }]);
    h.flushAll();
    assert.equal(h.written.length, 2, 'nothing more owed');
  });

  it('acks while backed up merge into the highest one', () => {
    const h = harness();
    h.c.control({ t: 'ack', ack: 5 });
    for (const ack of [9, 7, 12, 8]) h.c.control({ t: 'ack', ack });
    h.flushAll();
    assert.deepEqual(h.written, [{ t: 'ack', ack: 5 }, { t: 'ack', ack: 12 }]);
  });

  it('a pending pong does not hold back an ack, nor the other way round', () => {
    const h = harness();
    h.c.control({ t: 'pong' });
    h.c.control({ t: 'ack', ack: 1 });
    assert.deepEqual(h.written, [{ t: 'pong' }, { t: 'ack', ack: 1 }]);
  });
});
