/** The race delay and the SSE deadline that follows from it: the option, the default, and the adaptation to a remembered open time. */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { setUp } from '../src/engine/setup.js';
import { createTransportMemory } from '../src/engine/remember.js';
import type { BurrowSocketOptions, RememberStorage } from '../src/types.js';

const url = new URL('ws://example.test/burrow');

function storage(): RememberStorage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

function timing(options: BurrowSocketOptions) {
  return setUp({ url, protocols: [], options: { WebSocket: class {} as never, ...options } }).timing;
}

describe('race delay', () => {
  it('is 250 ms with nothing remembered, and SSE then gets twice that', () => {
    const t = timing({ remember: storage() });
    assert.equal(t.raceMs, 250);
    assert.equal(t.sseWait, 500);
  });

  it('adapts to the open time remembered with the transport: 2t + 50, within 100 ms .. 2 s', () => {
    for (const [rtt, delay] of [
      [1, 100],
      [160, 370],
      [5000, 2000],
    ] as const) {
      const st = storage();
      createTransportMemory(st, url, 60_000).set('websocket', rtt);
      assert.equal(timing({ remember: st }).raceMs, delay, `rtt ${rtt}`);
    }
  });

  it('the options win: a fixed delay, false for no race, and sseTimeout as given', () => {
    const st = storage();
    createTransportMemory(st, url, 60_000).set('websocket', 160);
    assert.equal(timing({ remember: st, raceDelay: 40 }).raceMs, 40);
    const off = timing({ remember: st, raceDelay: false });
    assert.equal(off.raceMs, null);
    assert.equal(off.sseWait, 1500);
    assert.equal(timing({ remember: st, sseTimeout: 900 }).sseWait, 900);
  });

  it('with no polling to fall back to, SSE gets the full 1500 ms (a slow first event is not a buffering proxy to escape)', () => {
    assert.equal(timing({ remember: storage(), transports: ['sse'] }).sseWait, 1500);
    assert.equal(timing({ remember: storage(), transports: ['websocket', 'sse'] }).sseWait, 1500);
    assert.equal(timing({ remember: storage(), transports: ['sse', 'polling'] }).sseWait, 500);
    assert.equal(timing({ remember: storage(), transports: ['sse'], sseTimeout: 300 }).sseWait, 300);
  });

  it('a stale memory adapts nothing', () => {
    const st = storage();
    createTransportMemory(st, url, 60_000).set('websocket', 160);
    assert.equal(timing({ remember: st, rememberFor: -1 }).raceMs, 250);
  });
});
