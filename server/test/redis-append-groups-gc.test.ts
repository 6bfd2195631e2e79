/**
 * A turn's append groups are garbage once the turn's round trip is answered, for a scavenge too
 * (issue #14). AppendGroups used to `clear()` one long-lived Map of the turn's open groups: V8 clears
 * a Map by giving it a new table and leaving the old table, entries and all, to the GC; with the Map
 * in old space, the dead table kept every turn's groups (their frames, promises and all they reach)
 * alive through each scavenge until the next mark-sweep: ~2 MB promoted per scavenge under the
 * cluster bench's load (bench/README, "what survives a RedisStore node's scavenges").
 *
 * A scavenge treats WeakRef targets as strong, so this measures instead: ballast that only a group
 * reaches, and what of the heap a scavenge leaves. AppendGroups runs alone on a stand-in connection
 * (no sockets or client library, whose own objects would blur the figure).
 */
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'vitest';
import { AppendGroups } from '../src/store/redis/append-groups.js';
import type { Shared } from '../src/store/redis/commands.js';
import { KeyLayout } from '../src/store/redis/keys.js';
import type { AppendResult, NewFrame } from '../src/store/store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;

const roomy = { maxBufferedMessages: 1000, maxBufferedBytes: 1 << 20 };
/** Well under a semi-space (1 MiB at the least), so nothing of it is promoted while it is made. */
const BALLAST_OBJECTS = 10_000;
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

class BallastItem {
  constructor(readonly i: number) {}
}

/** Bytes in use in the young and old generations. */
function heapUsed(): number {
  return getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'new_space' || s.space_name === 'old_space')
    .reduce((a, s) => a + s.space_used_size, 0);
}

/** An append whose frames array carries ballast; made here, so no register of the async test holds it. */
function ballastAppend(groups: AppendGroups): Promise<AppendResult> {
  const frames: NewFrame[] = [{ t: 'd', data: 'ballast' }];
  Object.defineProperty(frames, 'ballast', { value: Array.from({ length: BALLAST_OBJECTS }, (_, i) => new BallastItem(i)) });
  return groups.append('s1', frames, roomy);
}

/** A connection that answers every group's script: seq 1 for its one append. */
const answering = { burrowAppend: () => Promise.resolve([1]) } as unknown as Shared['r'];

describe('AppendGroups and the GC', () => {
  it("a long-lived AppendGroups' answered group dies in a scavenge (a cleared Map's old table kept it until a mark-sweep)", async () => {
    const shared: Shared = { r: answering, keys: new KeyLayout('gc', { db: 0, keyPrefix: '' }), onError: () => {}, closed: () => false };
    const groups = new AppendGroups(shared, { sent: () => 0, settled: () => {} }, '0');
    // AppendGroups and what it keeps across turns into old space, as on a node that has run a while.
    assert.equal((await groups.append('s1', [{ t: 'd', data: 'warm' }], roomy)).ok, true);
    gc({ type: 'major' });
    gc({ type: 'major' });
    gc({ type: 'minor' });
    // A turn between, after the last GC: what a turn leaves for the next one is young, as under load
    // (a scavenge every ~100 ms, a turn every few ms).
    assert.equal((await groups.append('s1', [{ t: 'd', data: 'between' }], roomy)).ok, true);
    await nextTurn();
    const before = heapUsed();

    assert.equal((await ballastAppend(groups)).ok, true);
    assert.equal((await groups.append('s1', [{ t: 'd', data: 'after' }], roomy)).ok, true);
    await nextTurn();
    gc({ type: 'minor' });
    const kept = heapUsed() - before;
    // The ballast is 10,000 objects of 16 bytes or more and their array; what else a turn leaves is far less.
    assert.ok(kept < BALLAST_OBJECTS * 8, `a scavenge kept ${kept} bytes: the answered group's ballast survived it`);
  });
});
