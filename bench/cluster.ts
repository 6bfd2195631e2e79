/**
 * What the cluster costs: echo throughput and latency of one node on MemoryStore (direct, no proxy)
 * against three nodes on RedisStore behind nginx (round-robin, no affinity), per transport. Every
 * node is its own process (e2e/cluster/node.ts); redis-server and nginx are real. Loopback only,
 * bounded (each case stops at its message count or its time cap, whichever comes first).
 *
 *   npm run bench:cluster            (MSGS=5000 PINGS=300 by default)
 */
import { performance } from 'node:perf_hooks';
import { BurrowSocket } from '@burrow/client';
import { startRedis } from '@burrow/test-support/procs';
import { spawnNode, startClusterNginx } from '../e2e/cluster/launch.js';

const MSGS = Number(process.env.MSGS ?? 5000);
const PINGS = Number(process.env.PINGS ?? 300);
const CAP_MS = Number(process.env.CAP_MS ?? 4000);
const transports = ['websocket', 'sse', 'polling'] as const;
type Transport = (typeof transports)[number];
const timings = { heartbeat: 5000, heartbeatTimeout: 5000, pollTimeout: 5000 };

function open(url: string, transport: Transport): Promise<BurrowSocket> {
  const s = new BurrowSocket(url, undefined, { transports: [transport], remember: false, upgrade: false });
  return new Promise((resolve, reject) => {
    s.addEventListener('open', () => resolve(s), { once: true });
    s.addEventListener('close', (e) => reject(new Error(`closed before open: ${(e as CloseEvent).code}`)), { once: true });
  });
}

async function measure(url: string, transport: Transport) {
  const s = await open(url, transport);
  let onMsg: (d: string) => void = () => {};
  s.addEventListener('message', (e) => onMsg(String((e as MessageEvent).data)));

  // Throughput: MSGS echoes in flight at once (sent in slices), until all are back or CAP_MS.
  let got = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    onMsg = () => {
      if (++got >= MSGS) resolve();
    };
    setTimeout(resolve, CAP_MS);
  });
  for (let i = 1; i <= MSGS; i += 250) {
    for (let k = i; k < i + 250 && k <= MSGS; k++) s.send(`b${k}`);
    await new Promise((r) => setImmediate(r));
  }
  await done;
  const rate = got / ((performance.now() - t0) / 1000);
  // Let the remaining echoes (if capped) drain before measuring latency.
  await new Promise((r) => setTimeout(r, got >= MSGS ? 50 : 1000));

  // Latency: one echo at a time.
  const lat: number[] = [];
  const tEnd = performance.now() + CAP_MS;
  for (let i = 0; i < PINGS && performance.now() < tEnd; i++) {
    const tag = `p${i}`;
    const t = performance.now();
    await new Promise<void>((resolve) => {
      onMsg = (d) => {
        if (d === tag) resolve();
      };
      s.send(tag);
    });
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  const closed = new Promise((r) => s.addEventListener('close', r, { once: true }));
  s.close();
  await closed;
  return { rate, got, p50: q(0.5), p99: q(0.99), pings: lat.length };
}

const started = performance.now();
const rows: string[] = [];
const redis = await startRedis();
const kill: Array<() => Promise<void>> = [() => redis.dispose()];
try {
  const single = await spawnNode({ name: 'single', store: 'memory', timings });
  kill.push(() => single.proc.kill());
  const nodes = await Promise.all(
    ['n1', 'n2', 'n3'].map((name) => spawnNode({ name, redisUrl: redis.url, prefix: 'burrow-bench:', timings })),
  );
  for (const n of nodes) kill.push(() => n.proc.kill());
  const nginx = await startClusterNginx(nodes.map((n) => n.port));
  kill.push(() => nginx.close());

  const setups: Array<[string, string]> = [
    ['1 node, MemoryStore, direct', `ws://127.0.0.1:${single.port}/burrow`],
    ['3 nodes, RedisStore, nginx', `ws://127.0.0.1:${nginx.port}/burrow`],
  ];
  for (const transport of transports) {
    for (const [name, url] of setups) {
      let r: Awaited<ReturnType<typeof measure>>;
      try {
        r = await measure(url, transport);
      } catch (e) {
        rows.push(`| ${transport} | ${name} | failed: ${String((e as Error).message ?? e)} | | |`);
        continue;
      }
      const partial = r.got < MSGS ? ` (${r.got}/${MSGS} in ${CAP_MS} ms cap)` : '';
      rows.push(`| ${transport} | ${name} | ${Math.round(r.rate).toLocaleString('en-US')}${partial} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
      process.stderr.write(`.`);
    }
  }
} finally {
  for (const k of kill.reverse()) await k().catch(() => {});
}

console.log(`\nBurrow cluster bench: node ${process.version}, loopback, ${MSGS} echoes for throughput, ${PINGS} sequential echoes for latency\n`);
console.log('| transport | setup | echoes/s | p50 ms | p99 ms |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
process.exit(0);
