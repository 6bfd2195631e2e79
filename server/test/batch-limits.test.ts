/** The per-request batch bounds: frames in one upstream POST, payload bytes in one poll response. */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { Session } from '../src/index.js';
import { startTestServer } from '@burrow/test-support';
import { getJson, postJson, waitFor } from './helpers.js';

describe('batch limits', () => {
  it('limits.maxBatchFrames: a POST with more frames is 413 body_too_large and applies none of them', async () => {
    const srv = await startTestServer({ limits: { maxBatchFrames: 3 } });
    const got: string[] = [];
    srv.burrow.on('message', (_s, d) => got.push(String(d)));
    try {
      const { json: open } = await postJson(`${srv.http}/sessions`, { v: 1 });
      const url = `${srv.http}/sessions/${open.sid}/send?token=${open.token}`;
      const frames = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ t: 'd', seq: from + i, text: `m${from + i}` }));
      const over = await postJson(url, { frames: frames(1, 4) });
      assert.equal(over.status, 413);
      assert.equal(over.json.error, 'body_too_large');
      const ok = await postJson(url, { frames: frames(1, 3) });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.ack, 3);
      assert.deepEqual(got, ['m1', 'm2', 'm3'], 'the refused batch applied nothing');
    } finally {
      await srv.close();
    }
  });

  it('limits.maxPollBytes: a poll carries at most that many payload bytes, but always at least one message', async () => {
    const srv = await startTestServer({ limits: { maxPollBytes: 100 } });
    try {
      const { json: open } = await postJson(`${srv.http}/sessions`, { v: 1 });
      const [session] = (await Promise.all([
        waitFor<[Session]>(srv.burrow, 'transport'),
        getJson(`${srv.http}/sessions/${open.sid}/poll?token=${open.token}&ack=0`, { signal: AbortSignal.timeout(100) }).catch(() => undefined),
      ]))[0];
      // 5 × 40 bytes, then one message bigger than the whole bound.
      for (let i = 1; i <= 5; i++) await session.send(`${i}`.padEnd(40, '.'));
      await session.send('x'.repeat(150));
      const seqs: number[] = [];
      let ack = 0;
      while (seqs.length < 6) {
        const r = await getJson(`${srv.http}/sessions/${open.sid}/poll?token=${open.token}&ack=${ack}`);
        assert.equal(r.status, 200);
        const data = (r.json.frames as Array<{ t: string; seq: number; text?: string }>).filter((f) => f.t === 'd');
        assert.ok(data.length >= 1, 'a poll with frames waiting sends at least one');
        const bytes = data.reduce((n, f) => n + Buffer.byteLength(f.text ?? ''), 0);
        assert.ok(data.length === 1 || bytes <= 100, `${bytes} payload bytes in ${data.length} messages`);
        for (const f of data) seqs.push(f.seq);
        ack = seqs.at(-1)!;
      }
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
    } finally {
      await srv.close();
    }
  });
});
