/** Conformance suite: session records (create, get, touch, delete, close). */
import assert from 'node:assert/strict';
import type { Store } from '../store.js';
import { LONG, roomy, sid, record, text, type Handles, type Kit } from './kit.js';

export function recordsSuite(t: Kit, h: Handles): void {
  t.describe('records', () => {
    let a: Store;
    let b: Store;
    t.beforeAll(() => {
      ({ a, b } = h);
    });

    t.it('create, then get from either node returns the record as given', async () => {
      const id = sid();
      const rec = record(id, { protocol: 'chat.v1', data: { user: 'ann', n: [1, 2] } });
      await a.create(rec, LONG);
      assert.deepEqual(await a.get(id), rec);
      assert.deepEqual(await b.get(id), rec);
      assert.equal(await a.get(sid()), undefined);
      assert.equal(await b.get('__proto__'), undefined);
    });

    t.it('create keeps user (as JSON would) and raced', async () => {
      const id = sid();
      const user = { name: 'zoë', roles: ['admin', 'dev'], n: 1.5, none: null, deep: { ok: true } };
      await a.create(record(id, { user, raced: true }), LONG);
      for (const got of [await a.get(id), await b.get(id)]) {
        assert.deepEqual(got?.user, user);
        assert.equal(got?.raced, true);
      }
      assert.deepEqual((await b.touch(id, LONG, false))?.user, user);
      const plain = sid();
      await a.create(record(plain, { user: 'ann' }), LONG);
      const p = await b.get(plain);
      assert.equal(p?.user, 'ann');
      assert.ok(!p?.raced, 'not raced unless created so');
    });

    t.it('create refuses an id that exists', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      await assert.rejects(b.create(record(id), LONG));
    });

    t.it('touch returns the record, bumps activity only when asked, and unknown is undefined', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      assert.equal((await a.touch(id, LONG, false))?.activity, 0);
      assert.equal((await b.touch(id, LONG, true))?.activity, 1);
      assert.equal((await a.touch(id, LONG, true))?.activity, 2);
      assert.equal((await b.get(id))?.activity, 2);
      assert.equal(await a.touch(sid(), LONG, true), undefined);
    });

    t.it('touchProven (when the store has it) touches only for the right token hash, and not a closed record or an abandon', async () => {
      if (!a.touchProven || !b.touchProven) return; // optional: the session core calls get, then touch
      const good = 'ab'.repeat(32);
      const id = sid();
      await a.create(record(id, { tokenHash: good }), LONG);
      // A wrong hash (or an unknown session) is undefined, and touches nothing.
      assert.equal(await b.touchProven(id, 'cd'.repeat(32), LONG, true), undefined);
      assert.equal(await b.touchProven(id, '', LONG, true), undefined);
      assert.equal(await a.touchProven(sid(), good, LONG, true), undefined);
      assert.equal((await a.get(id))?.activity, 0);
      assert.equal((await b.touchProven(id, good, LONG, true))?.activity, 1);
      assert.equal((await a.touchProven(id, good, LONG, false))?.activity, 2);
      // An abandon (claim false) of an unclaimed raced session reads it untouched; the claim touches.
      const raced = sid();
      await a.create(record(raced, { tokenHash: good, raced: true }), LONG);
      assert.equal((await b.touchProven(raced, good, LONG, false))?.activity, 0);
      assert.equal((await a.touchProven(raced, good, LONG, true))?.activity, 1);
      assert.equal((await b.touchProven(raced, good, LONG, false))?.activity, 2);
      // A closed record keeps its linger: answered, not touched.
      const closed = sid();
      await a.create(record(closed, { tokenHash: good, closed: { by: 'server', code: 1000 } }), LONG);
      const c = await b.touchProven(closed, good, LONG, true);
      assert.equal(c?.activity, 0);
      assert.equal(c?.closed?.by, 'server');
    });

    t.it('delete removes the record, its log and its memberships at once', async () => {
      const id = sid();
      const room = `r-${sid()}`;
      await a.create(record(id), LONG);
      assert.ok((await a.append(id, [text('x')], roomy)).ok);
      assert.equal(await a.join(id, room), true);
      await b.delete(id);
      assert.equal(await a.get(id), undefined);
      assert.deepEqual(await a.read(id, 0, 10, 1000), []);
      assert.deepEqual(await a.append(id, [text('y')], roomy), { ok: false, reason: 'unknown' });
      assert.deepEqual(await b.members(room), []);
      assert.ok(!(await b.members(undefined)).includes(id));
      await a.delete(id); // twice, and unknown: no error
      await a.delete(sid());
    });

    t.it('setData round-trips JSON across nodes; unknown is false', async () => {
      const id = sid();
      await a.create(record(id), LONG);
      const data = { name: 'zoë 🦔', list: [1, 'two', null, { deep: true }], n: 1.5 };
      assert.equal(await a.setData(id, data), true);
      assert.deepEqual((await b.get(id))?.data, data);
      assert.equal(await b.setData(id, 'plain'), true);
      assert.equal((await a.get(id))?.data, 'plain');
      assert.equal(await a.setData(sid(), 1), false);
    });
  });
}
