/**
 * Regression: a client close frame accepted by the store (inAck moved past it) whose recording
 * (`appendClose`) then failed on a store blip. The POST was answered 503; the client resumed, learnt
 * from the ack that its close had arrived and never sent it again, and the server never recorded
 * it: no `close` event, no echo, the session left open until it expired (4002, not the client's code).
 * Now the close waits in the session's outage hold and is written when the store answers again.
 */
import assert from 'node:assert/strict';
import { afterAll, test } from 'vitest';
import type { Session } from '../src/index.js';
import { storeUnavailable } from '../src/errors/burrow-error.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { WrappedStore } from '../src/store/wrapped-store.js';
import type { Store } from '../src/store/store.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { postJson, waitFor } from './helpers.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
});

/** A networked-looking store (no `sync`) over MemoryStore whose first `appendClose` fails as on an unreachable store. */
class FlakyCloseStore extends WrappedStore {
  failures = 1;
  constructor(inner: Store) {
    super(inner);
  }
  protected around<T>(op: string, call: () => Promise<T>): Promise<T> {
    if (op === 'appendClose' && this.failures > 0) {
      this.failures--;
      return Promise.reject(storeUnavailable(new Error('connection reset')));
    }
    return call();
  }
}

test('regression: a client close whose recording fails once on a store blip is held and written, not lost', async () => {
  const store = new FlakyCloseStore(new MemoryStore());
  const srv = await startTestServer({ store: store as never });
  servers.push(srv);
  const closes: Array<[number, string]> = [];
  srv.burrow.on('close', (_s: Session, code: number, reason: string) => closes.push([code, reason]));
  srv.burrow.on('error', () => {});
  const connected = waitFor<[Session]>(srv.burrow, 'connection');
  const open = (await postJson(`${srv.http}/sessions`, { v: 1 })).json as { sid: string; token: string };
  const [session] = await connected;
  const r = await postJson(`${srv.http}/sessions/${open.sid}/send?token=${open.token}`, { ack: 0, frames: [{ t: 'close', seq: 1, code: 4000, reason: 'bye' }] });
  assert.equal(store.failures, 0, 'the first appendClose failed');
  assert.deepEqual([r.status, r.json], [200, { ack: 1 }]);
  assert.deepEqual(closes, [[4000, 'bye']]);
  assert.equal(session.closed, true);
});
