/**
 * Redis's own time per frame in each of RedisStore's per-message scripts, apart from the nodes and
 * the transports: one session fed runs of N frames, each run accepted (`acceptInboundBatch`, the
 * confirm of the run before riding on it), echoed as N single-frame appends in one turn with chained
 * tokens (what an echo burst makes), and acknowledged. Time is `evalsha`'s commandstats `usec` delta
 * (wall time inside Redis: on a busy machine compare builds interleaved, not absolute figures).
 *
 *   node --import tsx bench/redis-scripts.ts            (N=130 ROUNDS=100 REDIS=redis://127.0.0.1:6379; runs dist/)
 *   ONE=1 ...                                           (the N echoes as one append of N frames instead)
 */
import { Redis } from 'ioredis';
import { RedisStore } from '@burrow/server/redis';

const N = Number(process.env.N ?? 130);
const ROUNDS = Number(process.env.ROUNDS ?? 100);
const url = process.env.REDIS ?? 'redis://127.0.0.1:6379';
const admin = new Redis(url);
admin.on('error', () => {});
const store = new RedisStore({ redis: url, prefix: `burrow-bench-scripts-${process.pid}:` });
await store.ready();
const sid = 'bench-session';
await store.create({ id: sid, tokenHash: 'h', protocol: '', data: undefined, inAck: 0, outSeq: 0, outAck: 0, activity: 0 }, 60_000);
const limits = { maxBufferedMessages: 1_000_000, maxBufferedBytes: 1e9 };

async function usec(): Promise<number> {
  return Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
}

const t = { accept: 0, append: 0, ack: 0 };
let inSeq = 0;
let n = 0;
for (let r = 0; r < ROUNDS; r++) {
  let u = await usec();
  const frames = Array.from({ length: N }, () => ({ seq: ++inSeq, data: `b${inSeq}` }));
  await store.acceptInboundBatch(sid, frames);
  store.confirmInbound(sid, inSeq);
  let v = await usec();
  t.accept += v - u;
  u = v;
  const appends = process.env.ONE
    ? [store.append(sid, frames.map((f) => ({ t: 'd' as const, data: f.data })), limits, `node ${++n}`)]
    : frames.map((f) => {
        n++;
        return store.append(sid, [{ t: 'd', data: f.data }], limits, `node ${n}`, n > 1 ? `node ${n - 1}` : undefined);
      });
  const res = await Promise.all(appends);
  v = await usec();
  t.append += v - u;
  u = v;
  const last = res.at(-1);
  const seq = last?.ok ? last.frames.at(-1)?.frame.seq : undefined;
  if (seq !== undefined) await store.ack(sid, seq);
  t.ack += (await usec()) - u;
}
const per = (x: number) => (x / (N * ROUNDS)).toFixed(2);
console.log(`N=${N}: µs of Redis per frame: accept ${per(t.accept)} (with the confirm of the run before), append ${per(t.append)}, ack ${per(t.ack)}`);
await store.delete(sid);
await store.close();
admin.disconnect();
process.exit(0);
