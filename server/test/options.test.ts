import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { createBurrow } from '@burrow/server';

describe('options', () => {
  it('every default limit is set and the idle intervals stay under 25 s (nginx 60 s, Heroku 55 s, proxies 30 s)', async () => {
    const burrow = createBurrow();
    const o = burrow.options;
    assert.deepEqual(
      { ...o.limits },
      {
        maxPayload: 1048576, maxBatchBytes: 8388608, maxBatchFrames: 4096, maxPollBytes: 1048576,
        maxBufferedMessages: 20000, maxBufferedBytes: 16777216, maxSessions: 10000,
        maxHandshakesPerSecond: 1000, maxTotalBufferedBytes: 268435456, maxUnprovenBodyBytes: 16384, maxInboundPendingBytes: 65536, maxSendsInFlight: 8,
      },
    );
    assert.equal(o.bodyMinRate, 4096);
    assert.equal(o.onBufferFull, 'close');
    assert.equal(o.authenticate, undefined);
    assert.ok(o.pollTimeout < 25000, `pollTimeout ${o.pollTimeout}`);
    assert.ok(o.heartbeat < 25000, `heartbeat ${o.heartbeat}`);
    assert.equal(o.resumeWindow, 60000);
    await burrow.close();
  });

  it('refuses a poll hold or heartbeat that an idle cutter would beat', () => {
    assert.throws(() => createBurrow({ pollTimeout: 25000 }), /pollTimeout must be under 25000/);
    assert.throws(() => createBurrow({ heartbeat: 30000 }), /heartbeat must be under 25000/);
  });

  it('refuses a duration longer than a timer holds (setTimeout would fire at once, again and again)', async () => {
    for (const name of ['heartbeatTimeout', 'resumeWindow', 'ackDelay', 'closeLinger', 'bodyTimeout', 'authenticateTimeout'] as const) {
      assert.throws(() => createBurrow({ [name]: 2 ** 31 }), new RegExp(`option ${name} must be at most 2147483647 ms`));
    }
    assert.throws(() => createBurrow({ storeOutageBuffer: { ms: 2 ** 31 } }), /storeOutageBuffer.ms must be at most/);
    assert.throws(() => createBurrow({ heartbeat: 20000, heartbeatTimeout: 2 ** 31 - 10000 }), /heartbeat \+ heartbeatTimeout must be at most 2147483647 ms/);
    // The longest that fits is accepted.
    const b = createBurrow({ heartbeat: 1000, heartbeatTimeout: 2 ** 31 - 1001, resumeWindow: 2 ** 31 - 1 });
    await b.close();
  });

  it('refuses nonsense limits with a named error', () => {
    assert.throws(() => createBurrow({ bodyMinRate: 0 }), /option bodyMinRate must be a positive number/);
    assert.throws(() => createBurrow({ limits: { maxSendsInFlight: 0 } }), /limits.maxSendsInFlight must be a positive number/);
    assert.throws(() => createBurrow({ limits: { maxInboundPendingBytes: -1 } }), /limits.maxInboundPendingBytes must be a positive number/);
    assert.throws(() => createBurrow({ limits: { maxPayload: -1 } }), /limits.maxPayload must be a positive number/);
    assert.throws(() => createBurrow({ path: 'burrow' }), /path must start with/);
    // Regression: '/' was stripped to '' and refused as not starting with '/'.
    assert.throws(() => createBurrow({ path: '/' }), /path cannot be "\/": mount Burrow under a path of its own/);
  });
});
