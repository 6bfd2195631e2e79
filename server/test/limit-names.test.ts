/**
 * Regression (review of the HTTP edge, 2026-12-03): the `limit` event (and `burrow_limits_total`)
 * named every 503 with close 1013 and code `overloaded` `maxSessions`, so a spent handshake budget,
 * a paused session and `maxSendsInFlight` were all reported as the session cap. The refusal table now
 * names the option each refusal enforces.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { createBurrow, type BurrowOptions, type LimitInfo } from '../src/index.js';
import { waitFor } from './helpers.js';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const handshake = (base: string, body = '{"v":1}') => fetch(`${base}/sessions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });

/** One handshake that passes, then the one the bound refuses. */
async function secondHandshake(base: string): Promise<Response> {
  assert.equal((await handshake(base)).status, 200);
  return handshake(base);
}

const cases: Array<[string, BurrowOptions, (base: string) => Promise<Response>, number]> = [
  ['maxSessions', { limits: { maxSessions: 1 } }, secondHandshake, 503],
  ['maxHandshakesPerSecond', { limits: { maxHandshakesPerSecond: 1 } }, secondHandshake, 503],
  ['maxBatchBytes', { limits: { maxBatchBytes: 64, maxUnprovenBodyBytes: 64 } }, (base) => handshake(base, `{"v":1,"protocols":[],"pad":"${'x'.repeat(200)}"}`), 413],
];

describe('the limit event names the option whose bound a refusal enforces', () => {
  it.each(cases)('%s', async (name, options, provoke, status) => {
    const burrow = createBurrow(options);
    srv = await startTestServer(burrow);
    const limit = waitFor<[unknown, LimitInfo]>(burrow, 'limit');
    const res = await provoke(srv.http);
    assert.equal(res.status, status);
    const [, info] = await limit;
    assert.equal(info.limit, name);
  });
});

describe('a handshake body over maxUnprovenBodyBytes (review of the HTTP edge, 2026-12-03: named maxBatchBytes)', () => {
  it('is reported as maxUnprovenBodyBytes with the default limits', async () => {
    const burrow = createBurrow();
    srv = await startTestServer(burrow);
    const limit = waitFor<[unknown, LimitInfo]>(burrow, 'limit');
    const over = burrow.options.limits.maxUnprovenBodyBytes + 1;
    const res = await handshake(srv.http, `{"v":1,"protocols":[],"pad":"${'x'.repeat(over)}"}`);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: string }).error, 'body_too_large');
    const [, info] = await limit;
    assert.equal(info.limit, 'maxUnprovenBodyBytes');
  });
});
