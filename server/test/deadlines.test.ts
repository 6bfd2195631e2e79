// DeadlineList: many deadlines of one length on one timer, with setTimeout's order and precision.
import assert from 'node:assert/strict';
import { test, vi } from 'vitest';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { DeadlineList, Deadlines, UNLINKED } from '../src/deadlines.js';

/** The list's timer is unref()'d, as the per-session timers were: keep the loop alive while a test waits. */
async function alive<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 1000);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

test('deadlines fire in the order they were (re)armed, none before its length has passed', async () => {
  const fired: { name: string; at: number }[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const list = new DeadlineList<{ name: string }>(30, (item) => {
    fired.push({ name: item.name, at: performance.now() });
    if (fired.length === 3) done();
  });
  const a = { name: 'a' };
  const b = { name: 'b' };
  const c = { name: 'c' };
  const armedAt = new Map<string, number>();
  for (const item of [a, b, c]) {
    armedAt.set(item.name, performance.now());
    list.arm(item);
  }
  // Re-arming starts the deadline over and puts it last, as timeout.refresh() does.
  armedAt.set('a', performance.now());
  list.arm(a);
  assert.equal(list.size, 3);
  await alive(all);
  assert.deepEqual(fired.map((f) => f.name), ['b', 'c', 'a']);
  // Whole ms, as libuv's clock: a deadline may be reached up to 1 ms before the exact instant.
  for (const f of fired) assert.ok(f.at - armedAt.get(f.name)! >= 29, `${f.name} fired after ${f.at - armedAt.get(f.name)!} ms`);
  assert.equal(list.size, 0);
});

test('a disarmed item never fires; one re-armed from its own callback ticks like setInterval', async () => {
  const ticks: string[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const list: DeadlineList<{ name: string }> = new DeadlineList(15, (item) => {
    ticks.push(item.name);
    if (item.name === 'end') return done();
    if (ticks.filter((t) => t === 'beat').length < 3) list.arm(item);
    else list.arm(end);
  });
  const gone = { name: 'gone' };
  const beat = { name: 'beat' };
  const end = { name: 'end' };
  list.arm(gone);
  list.arm(beat);
  list.disarm(gone);
  assert.equal(list.has(gone), false);
  await alive(finished);
  assert.deepEqual(ticks, ['beat', 'beat', 'beat', 'end']);
  assert.equal(list.size, 0);
});

test('clear drops every deadline', async () => {
  const list = new DeadlineList<object>(5, () => assert.fail('cleared deadlines must not fire'));
  list.arm({});
  list.arm({});
  list.clear();
  assert.equal(list.size, 0);
  // A deadline of the same length armed afterwards still fires: the list's timer was reset with it.
  await alive(new Promise<void>((resolve) => new DeadlineList<object>(5, () => resolve()).arm({})));
});

test('armedFor: whole ms since the item was armed, -1 once disarmed or fired (the lazy ack reads it)', async () => {
  let fired!: () => void;
  const due = new Promise<void>((r) => (fired = r));
  const list = new DeadlineList<object>(40, () => fired());
  const item = {};
  assert.equal(list.armedFor(item), -1);
  const t0 = performance.now();
  list.arm(item);
  assert.ok(list.armedFor(item) >= 0 && list.armedFor(item) <= 1);
  // Let some time pass on the real clock, then compare with it (whole ms either way).
  await new Promise((r) => setTimeout(r, 15));
  const elapsed = performance.now() - t0;
  assert.ok(Math.abs(list.armedFor(item) - elapsed) <= 2, `armedFor ${list.armedFor(item)} vs ${elapsed.toFixed(1)} ms`);
  list.disarm(item);
  assert.equal(list.armedFor(item), -1);
  list.arm(item);
  await alive(due);
  assert.equal(list.armedFor(item), -1);
});

test('a length longer than a timer holds is armed at the longest it holds (resumeWindow + closeLinger can add up past it)', () => {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  let fired = false;
  try {
    const list = new DeadlineList<object>(2 ** 31 - 1 + 5000, () => (fired = true));
    list.arm({});
    assert.deepEqual(spy.mock.calls.map((c) => c[1]), [2 ** 31 - 1]);
    list.clear();
  } finally {
    spy.mockRestore();
  }
  assert.equal(fired, false);
});

test('an item armed on a second list leaves the first; disarm on a list it is not on leaves it be', () => {
  const idle = new DeadlineList<object>(1000, () => {});
  const beats = new DeadlineList<object>(500, () => {});
  const core = { ...UNLINKED };
  idle.arm(core);
  beats.arm(core);
  assert.equal(idle.has(core), false);
  assert.equal(idle.size, 0);
  assert.equal(beats.has(core), true);
  idle.disarm(core);
  assert.equal(beats.has(core), true, 'disarming the idle list must not take it off the heartbeat list');
  assert.equal(beats.size, 1);
  beats.clear();
  assert.equal(beats.has(core), false);
  idle.clear();
});

/**
 * Regression (issue #12, idle memory): the list was a Map of item -> deadline, and every re-arm
 * (delete, then set) left V8 a hole until the table filled, then it doubled: a list re-armed like the
 * heartbeat's held ~91 bytes per item at 10,000 items, where the items themselves carried nothing.
 */
test('re-arming holds nothing per re-arm: the list costs its items no more than their four fields', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Many items, so that what the test process allocates meanwhile (the runner's own messages, a few
  // hundred KB at worst on a loaded machine: at 10,100 items that once made 16 B each) is noise.
  const n = 100_000;
  const items = Array.from({ length: n }, () => ({ ...UNLINKED }));
  const list = new DeadlineList<object>(60_000, () => {});
  try {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 0; round < 4; round++) for (const item of items) list.arm(item);
    gc();
    const perItem = (process.memoryUsage().heapUsed - before) / n;
    assert.equal(list.size, n);
    // Map-backed: ~30-45 bytes fresh, ~60-110 churned (by where n falls between powers of 2);
    // intrusive: 0 beyond the items.
    assert.ok(perItem < 16, `${perItem.toFixed(1)} bytes per re-armed item`);
  } finally {
    list.clear();
  }
});

test('Deadlines: an item armed at another length leaves its old list, and an emptied length goes', () => {
  const d = new Deadlines<object>(() => {});
  const item = { ...UNLINKED };
  d.arm(item, 1000);
  d.arm(item, 2000);
  const on = (item as { dlList?: DeadlineList<object> }).dlList;
  assert.equal(on?.ms, 2000);
  // The 1000 ms list was emptied by the move: disarming at 1000 finds nothing to do and nothing left.
  d.disarm(item, 1000);
  assert.equal(on?.has(item), true);
  assert.equal(d.lengths, 1);
  d.clear();
});
