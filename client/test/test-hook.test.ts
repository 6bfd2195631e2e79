/**
 * The test hook (`globalThis.__BURROW_TEST__`, engine/test-hook.ts): its set fields override the app's
 * options, its `sockets` array collects new sockets, and with no hook the options are untouched.
 */
import assert from 'node:assert/strict';
import { afterEach, it } from 'vitest';
import { setUp } from '../src/engine/setup.js';
import { withTestHook } from '../src/engine/test-hook.js';
import { BurrowSocket } from '../src/index.js';
import { fakeOptions } from './helpers.js';

const g = globalThis as { __BURROW_TEST__?: unknown };
afterEach(() => {
  delete g.__BURROW_TEST__;
});

const url = new URL('ws://localhost:1/burrow');

it('with no hook the options object is returned as it is', () => {
  const o = { transports: ['sse' as const] };
  assert.equal(withTestHook(o), o);
  assert.deepEqual(setUp({ url, protocols: [], options: fakeOptions({ transports: ['websocket', 'polling'] }) }).chain, ['websocket', 'polling']);
});

it('the hook pins transports and turns off upgrade and remember over the app options', () => {
  g.__BURROW_TEST__ = { transports: ['polling'], upgrade: false, remember: false };
  const s = setUp({ url, protocols: [], options: fakeOptions({ transports: ['websocket', 'sse'], upgrade: true, remember: true }) });
  assert.deepEqual(s.chain, ['polling']);
  assert.equal(s.timing.upgradeOn, false);
  assert.equal(s.memory.get(), undefined);
});

it('fields the hook leaves out keep the app value; junk is ignored', () => {
  g.__BURROW_TEST__ = { transports: 'sse', upgrade: 'no' };
  const o = withTestHook({ transports: ['sse', 'polling'], upgrade: false });
  assert.deepEqual(o, { transports: ['sse', 'polling'], upgrade: false });
  g.__BURROW_TEST__ = 42;
  assert.deepEqual(withTestHook({ upgrade: false }), { upgrade: false });
});

it('sockets made while the hook has a `sockets` array are registered there', () => {
  const sockets: unknown[] = [];
  g.__BURROW_TEST__ = { sockets };
  const s = new BurrowSocket('ws://127.0.0.1:1/burrow', [], fakeOptions());
  s.onerror = () => {};
  assert.deepEqual(sockets, [s]);
  s.close();
});
