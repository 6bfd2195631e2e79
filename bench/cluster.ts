/**
 * What the cluster costs: echo throughput and latency of one node on MemoryStore (direct, no proxy)
 * against three nodes on RedisStore behind nginx (round-robin, no affinity), per transport. Every
 * node is its own process (e2e/cluster/node.ts); redis-server and nginx are real. Loopback only,
 * bounded (each case stops at its message count or its time cap, whichever comes first).
 *
 * Beside the rates it reports what an echo costs: the CPU time (user + sys, from /proc/<pid>/stat) of
 * every Burrow node process and of redis-server over the throughput window, divided by the echoes
 * done, and the Redis commands per echo (INFO commandstats before and after, per command).
 *
 *   npm run bench:cluster            (MSGS=5000 PINGS=300 by default; builds first: the nodes run dist/)
 *   CPU_PROF_DIR=/tmp/p npm run bench:cluster    (also a CPU profile of every node, for bench/peers/profile.ts)
 *   TRANSPORTS=sse PINGS=0 ...                   (one transport, throughput only: a profile of just that)
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { BurrowSocket } from '@burrow/client';
import { startRedis } from '@burrow/test-support/procs';
import { spawnNode, startClusterNginx } from '../e2e/cluster/launch.js';

/** NODES=1 runs the RedisStore setup with one node (what the store costs apart from spreading a session over nodes). */
const NODES = Number(process.env.NODES ?? 3);
const WARMUP = Number(process.env.WARMUP ?? 0);
const MSGS = Number(process.env.MSGS ?? 5000);
const PINGS = Number(process.env.PINGS ?? 300);
const CAP_MS = Number(process.env.CAP_MS ?? 4000);
/**
 * The nodes log no line and keep no record per message (node.ts --quiet), in both setups: that was
 * the rig's cost, ~30 % of a node's profile, and it weighed more on MemoryStore's cheap path than on
 * RedisStore's, so it skewed the ratio. QUIET=0 brings it back (the figures before 2026-12-02 09:00).
 */
const QUIET = process.env.QUIET !== '0';
/**
 * NODE_FLAGS='--trace-gc-nvp ...' passes V8/Node flags to every node; NODE_TEXT_DIR=/tmp/d writes
 * each node's non-JSON output (what --trace-gc prints, say) to <dir>/<node>.log.
 */
const nodeArgs = [
  ...(process.env.CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : []),
  ...(process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean),
];
const textTo = (name: string) => (process.env.NODE_TEXT_DIR ? (t: string) => appendFileSync(`${process.env.NODE_TEXT_DIR}/${name}.log`, t) : undefined);
const allTransports = ['websocket', 'sse', 'polling'] as const;
type Transport = (typeof allTransports)[number];
/** TRANSPORTS=sse,polling runs those only (e.g. for a profile of one transport). */
const transports = allTransports.filter((t) => (process.env.TRANSPORTS ?? t).split(',').includes(t));
const timings = { heartbeat: 5000, heartbeatTimeout: 5000, pollTimeout: 5000 };

function open(url: string, transport: Transport): Promise<BurrowSocket> {
  const s = new BurrowSocket(url, undefined, { transports: [transport], remember: false, upgrade: false });
  return new Promise((resolve, reject) => {
    s.addEventListener('open', () => resolve(s), { once: true });
    s.addEventListener('close', (e) => reject(new Error(`closed before open: ${(e as CloseEvent).code}`)), { once: true });
  });
}

/** CPU seconds (user + sys) a process has used so far (Linux: /proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const [user, sys] = cpuSplit(pid);
  return user + sys;
}

/**
 * CPU seconds (user + sys) of a process's main thread so far (/proc/<pid>/task/<pid>/stat): the rest
 * of its CPU is V8's and libuv's other threads (compiling, GC helpers), which a cold node pays for.
 */
function mainThreadSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** [user, sys] CPU seconds of a process so far. */
function cpuSplit(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[11]) / 100, Number(fields[12]) / 100];
}

/**
 * `calls` per command from INFO commandstats, and Redis's time in each (`usec`, under the key
 * `<command> µs`): a script's own Lua time is its `evalsha` time less that of the commands it ran.
 */
async function commandStats(admin: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1]!, Number(m[2]));
    out.set(`${m[1]!} µs`, Number(m[3]));
  }
  return out;
}

/** What the processes of a setup used over a window: CPU per process, Redis commands by name. */
interface Meter {
  pids: number[];
  admin?: Redis;
  /** HTTP requests the setup's nodes logged so far (the rig prints one line per request). */
  http: () => number;
}
async function meterStart(m: Meter) {
  return { cpu: m.pids.map(cpuSeconds), sys: m.pids.map((p) => cpuSplit(p)[1]), main: m.pids.map(mainThreadSeconds), http: m.http(), cmds: m.admin ? await commandStats(m.admin) : new Map<string, number>() };
}
async function meterEnd(m: Meter, start: Awaited<ReturnType<typeof meterStart>>) {
  const cpu = m.pids.map((p, i) => cpuSeconds(p) - start.cpu[i]!);
  const sys = m.pids.map((p, i) => cpuSplit(p)[1] - start.sys[i]!);
  const main = m.pids.map((p, i) => mainThreadSeconds(p) - start.main[i]!);
  const after = m.admin ? await commandStats(m.admin) : new Map<string, number>();
  const cmds = new Map<string, number>();
  for (const [k, v] of after) {
    // The meter's own INFO calls are not the cluster's.
    const d = v - (start.cmds.get(k) ?? 0) - (k === 'info' ? 1 : 0);
    if (d > 0) cmds.set(k, d);
  }
  return { cpu, sys, main, cmds, http: m.http() - start.http };
}

async function measure(url: string, transport: Transport, meter: Meter, latency = true) {
  const s = await open(url, transport);
  let onMsg: (d: string) => void = () => {};
  s.addEventListener('message', (e) => onMsg(String((e as MessageEvent).data)));
  // A session the server ends (a limit, say) must end the step, not hang it: every wait races this.
  let closedWith = '';
  const closed = new Promise<void>((r) =>
    s.addEventListener('close', (e) => {
      const c = e as CloseEvent;
      closedWith = `closed ${c.code}${c.reason ? ` (${c.reason})` : ''}`;
      r();
    }, { once: true }),
  );

  // Throughput: MSGS echoes in flight at once (sent in slices), until all are back or CAP_MS.
  let got = 0;
  const m0 = await meterStart(meter);
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    onMsg = () => {
      if (++got >= MSGS) resolve();
    };
    setTimeout(resolve, CAP_MS);
  });
  for (let i = 1; i <= MSGS && !closedWith; i += 250) {
    for (let k = i; k < i + 250 && k <= MSGS; k++) s.send(`b${k}`);
    await new Promise((r) => setImmediate(r));
  }
  await Promise.race([done, closed]);
  const rate = got / ((performance.now() - t0) / 1000);
  const used = await meterEnd(meter, m0);
  // Let the remaining echoes (if capped) drain before measuring latency.
  await new Promise((r) => setTimeout(r, got >= MSGS ? 50 : 1000));

  // Latency: one echo at a time.
  const lat: number[] = [];
  const tEnd = performance.now() + CAP_MS;
  for (let i = 0; latency && i < PINGS && performance.now() < tEnd && !closedWith; i++) {
    const tag = `p${i}`;
    const t = performance.now();
    const echoed = new Promise<boolean>((resolve) => {
      onMsg = (d) => {
        if (d === tag) resolve(true);
      };
      s.send(tag);
    });
    if (!(await Promise.race([echoed, closed.then(() => false)]))) break;
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  const endedEarly = closedWith;
  s.close();
  await closed;
  return { rate, got, p50: q(0.5), p99: q(0.99), pings: lat.length, used, endedEarly };
}

const started = performance.now();
const rows: string[] = [];
const costRows: string[] = [];
const peakRows: string[] = [];
const cmdRows: string[] = [];
const redis = await startRedis();
const admin = new Redis(redis.url);
admin.on('error', () => {});
const redisPid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
const kill: Array<() => Promise<void>> = [() => redis.dispose(), async () => admin.disconnect()];
try {
  const httpLines = new Map<string, number>();
  const onLine = (l: { node: string; kind: string }) => {
    if (l.kind === 'http') httpLines.set(l.node, (httpLines.get(l.node) ?? 0) + 1);
  };
  const httpOf = (names: string[]) => () => names.reduce((a, n) => a + (httpLines.get(n) ?? 0), 0);
  const single = await spawnNode({ name: 'single', store: 'memory', quiet: QUIET, timings, fromBuild: true, nodeArgs, onLine, onText: textTo('single') });
  kill.push(() => single.proc.kill('SIGTERM'));
  const nodeNames = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);
  const nodes = await Promise.all(
    nodeNames.map((name) => spawnNode({ name, redisUrl: redis.url, prefix: 'burrow-bench:', quiet: QUIET, timings, fromBuild: true, nodeArgs, onLine, onText: textTo(name) })),
  );
  for (const n of nodes) kill.push(() => n.proc.kill('SIGTERM'));
  const nginx = await startClusterNginx(nodes.map((n) => n.port));
  kill.push(() => nginx.close());

  const setups: Array<[string, string, Meter]> = [
    ['1 node, MemoryStore, direct', `ws://127.0.0.1:${single.port}/burrow`, { pids: [single.pid], http: httpOf(['single']) }],
    [`${NODES} node${NODES === 1 ? '' : 's'}, RedisStore, nginx`, `ws://127.0.0.1:${nginx.port}/burrow`, { pids: [...nodes.map((n) => n.pid), redisPid], admin, http: httpOf(nodeNames) }],
  ];
  for (const transport of transports) {
    for (const [name, url, meter] of setups) {
      let r: Awaited<ReturnType<typeof measure>>;
      try {
        // WARMUP=n: n unmetered rounds per node first, so every node's code is compiled and warm
        // (steady state). Per node: a round's WebSocket lands on the balancer's next node, so with
        // fewer rounds than nodes the measured round was served by a node never warmed (its TurboFan
        // compiles showed as 11-17 µs per echo off the main thread).
        const warmups = WARMUP * meter.pids.length - (meter.admin ? WARMUP : 0);
        for (let w = 0; w < warmups; w++) await measure(url, transport, meter, false);
        r = await measure(url, transport, meter);
      } catch (e) {
        rows.push(`| ${transport} | ${name} | failed: ${String((e as Error).message ?? e)} | | |`);
        continue;
      }
      const partial = r.endedEarly ? ` (${r.got}/${MSGS}: session ${r.endedEarly})` : r.got < MSGS ? ` (${r.got}/${MSGS} in ${CAP_MS} ms cap)` : '';
      rows.push(`| ${transport} | ${name} | ${Math.round(r.rate).toLocaleString('en-US')}${partial} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
      const us = (sec: number) => ((sec * 1e6) / Math.max(1, r.got)).toFixed(0);
      const nodeCpu = r.used.cpu.slice(0, meter.admin ? -1 : undefined).reduce((a, b) => a + b, 0);
      const nodeSys = r.used.sys.slice(0, meter.admin ? -1 : undefined).reduce((a, b) => a + b, 0);
      const nodeMain = r.used.main.slice(0, meter.admin ? -1 : undefined).reduce((a, b) => a + b, 0);
      const redisCpu = meter.admin ? r.used.cpu.at(-1)! : 0;
      const cmds = [...r.used.cmds].filter(([k]) => !k.endsWith(' µs')).sort((a, b) => b[1] - a[1]);
      const usec = [...r.used.cmds].filter(([k]) => k.endsWith(' µs')).sort((a, b) => b[1] - a[1]);
      const total = cmds.reduce((a, [, v]) => a + v, 0);
      costRows.push(`| ${transport} | ${name} | ${us(nodeCpu + redisCpu)} | ${us(nodeCpu)} | ${us(nodeSys)} | ${us(nodeCpu - nodeMain)} | ${meter.admin ? us(redisCpu) : '-'} | ${meter.admin ? (total / Math.max(1, r.got)).toFixed(2) : '-'} | ${(r.used.http / Math.max(1, r.got)).toFixed(3)} |`);
      if (meter.admin) {
        const perEcho = ([k, v]: [string, number], digits: number) => `${k} ${(v / Math.max(1, r.got)).toFixed(digits)}`;
        cmdRows.push(`| ${transport} | ${cmds.map((c) => perEcho(c, 2)).join(', ')} | ${usec.slice(0, 8).map((c) => perEcho(c, 1)).join(', ')} |`);
      }
      process.stderr.write(`.`);
    }
  }
  // Peak RSS over the whole run (every transport, warm-ups included): what a burst leaves the heap
  // holding, e.g. frames read ahead of the store (limits.maxInboundPendingBytes).
  const peak = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  peakRows.push(`single (MemoryStore) ${peak(single.pid).toFixed(0)} MB; ${nodes.map((n, i) => `${nodeNames[i]} ${peak(n.pid).toFixed(0)} MB`).join(', ')} (RedisStore)`);
} finally {
  for (const k of kill.reverse()) await k().catch(() => {});
}

console.log(`\nBurrow cluster bench: node ${process.version}, loopback, ${MSGS} echoes for throughput, ${PINGS} sequential echoes for latency\n`);
console.log('| transport | setup | echoes/s | p50 ms | p99 ms |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
console.log(`\nServer CPU per echo over the throughput window (user + sys of every Burrow node process and of redis-server, µs per echo; an echo is one message each way), and Redis commands per echo (INFO commandstats delta):\n`);
console.log('| transport | setup | CPU µs/echo, all | Burrow nodes | of which sys | of which off the main thread | redis-server | Redis commands/echo | HTTP requests/echo |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of costRows) console.log(r);
console.log('\nRedis commands per echo, by command, and Redis time per echo in µs (commandstats usec; evalsha includes the commands its scripts ran) (RedisStore):\n');
console.log('| transport | commands per echo | µs per echo |');
console.log('| --- | --- | --- |');
for (const r of cmdRows) console.log(r);
if (peakRows.length) console.log(`\nPeak RSS of each Burrow node process over the run (VmHWM): ${peakRows.join('; ')}`);
console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
process.exit(0);
