/**
 * The side-by-side benchmark: `npm run bench` (full, under 13 minutes on 2 cores, plus at most 7 min
 * in Chromium) or `npm run bench -- --quick` (smoke, under 2 minutes plus at most 90 s). Optional
 * `--only=ws,burrow-ws,...`.
 *
 * Each server kind runs in its own process pinned to core 0 (`taskset -c 0`); a separate load process
 * pinned to core 1 drives it. Rounds are interleaved (every kind once per round, in a rotated order)
 * and repeated; the report gives the median and min–max over rounds. Results go to
 * bench/results/latest.{md,json,svg}.
 *
 * `--cpu-prof` runs each suite's load process under `node --cpu-prof`, writing its profiles (one per
 * thread: tsx's loader runs in a worker) to bench/results/prof/<kind>-r<round>/; summarise them with
 * `bench/peers/profile.ts`. `--server-prof` does the same for each server process
 * (bench/results/prof/<kind>-server-<n>/). `--server-prof=bcast` profiles only the broadcast step's
 * measured window instead (started and stopped over the control port: opens, echoes and the other
 * steps left out), into bench/results/prof/<kind>-bcast-r<round>.cpuprofile.
 *
 * Last, a short paced run in Chromium (browser.ts): each library's browser client forced onto one
 * transport, N sockets in one page. `--only=` picks its rows by kind too; `--only=chromium` (with or
 * without kinds) runs only that section; `--no-chromium` skips it; `--chromium-sockets=N`, `--chromium-rate=R` (msg/s in all, 500) and
 * `--chromium-ms=MS` change its sockets (50) and measured window (5 s; 2 s quick). Chromium is
 * pinned to the load core; `CHROMIUM_CORES=all` lets it use every core. It runs with no automation
 * attached (chromium.ts; `CHROMIUM_VIA=playwright` for the old way, whose CDP traffic cost Chromium a
 * third of its core: bench/README.md).
 *
 * `--steps=memory` (a comma list of `suite`, `memory`, `fallback`; all by default) runs only those
 * steps, e.g. `npm run bench -- --steps=memory --only=ws,burrow-ws --no-chromium` for the idle-memory
 * figures alone; `--memory-n=1000,10000` sets the memory step's N (each kind of the step at every N)
 * and `--memory-repeats=R` its fresh servers per kind at the first N. Each memory result is also
 * logged as it comes (heap and RSS per session). With `BENCH_SNAPSHOTS=1` the memory step's servers
 * write a heap snapshot at the baseline and after the N sessions, into bench/results/snap/
 * (`bench/peers/snapdiff.ts` compares two).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';
import { BROWSER_ROWS, FALLBACK_LIBS, KINDS, type Kind } from './kinds.js';
import type { BrowserJob } from './browser.js';
import type { Job } from './load.js';
import { render, type Results } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outDir = join(root, 'bench', 'results');
const quick = process.argv.includes('--quick');
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : undefined;
/** `--only=chromium[,kinds]`: the Chromium section alone. */
const chromiumOnly = only?.has('chromium') ?? false;
const noChromium = process.argv.includes('--no-chromium') || process.argv.some((a) => a.startsWith('--steps='));
const stepsArg = process.argv.find((a) => a.startsWith('--steps='));
/** The steps to run (`--steps=suite,memory,fallback`); all of them by default. */
const steps = new Set(stepsArg ? stepsArg.slice('--steps='.length).split(',') : ['suite', 'memory', 'fallback']);
const memoryNArg = process.argv.find((a) => a.startsWith('--memory-n='));
const numArg = (name: string, dflt: number, min: number, max: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : dflt;
  return Number.isFinite(v) ? Math.min(max, Math.max(min, Math.round(v))) : dflt;
};
/** Load-process CPU profiles (`--cpu-prof`): where the client libraries spend their time. */
const cpuProf = process.argv.includes('--cpu-prof');
/** Server CPU profiles (`--server-prof`): into bench/results/prof/<kind>-server-<n>/. */
const serverProf = process.argv.includes('--server-prof');
/** `--server-prof=bcast`: the server profiles the broadcast window alone. */
const bcastProf = process.argv.includes('--server-prof=bcast');
let serverRuns = 0;
const profDir = join(outDir, 'prof');
const ncpu = cpus().length;
const pin = ncpu >= 2;
let started = Date.now();
/**
 * Past this (counted after the wait for a quiet machine, which is at most 10 s / 45 s), remaining
 * steps are skipped and reported as skipped, so the suite stays bounded: < 2 min quick, < 13 min full (Chromium apart).
 */
const BUDGET_MS = quick ? 95_000 : 760_000;

const cfg = quick
  ? {
      rounds: 1,
      opens: 3,
      satSessions: 100,
      satWindow: 16,
      satWarmMs: 300,
      satMs: 800,
      latRate: 1000,
      latMs: 800,
      latSessions: [100],
      bcastSessions: 100,
      bcastRounds: 10,
      memory: [{ n: 1000, kinds: ['ws', 'burrow-ws', 'burrow-sse', 'socketio-ws', 'sockjs-ws'] as Kind[] }],
      memoryRepeats: 1,
      fallbackRuns: 1,
      chromium: { sockets: numArg('chromium-sockets', 50, 1, 200), rate: numArg('chromium-rate', 500, 10, 5000), warmMs: 500, measureMs: numArg('chromium-ms', 2000, 500, 10_000), drainMs: 2000, runs: numArg('chromium-runs', 1, 1, 5) },
    }
  : {
      rounds: 3,
      opens: 5,
      satSessions: 100,
      satWindow: 16,
      satWarmMs: 500,
      satMs: 2000,
      latRate: 1000,
      latMs: 2000,
      latSessions: [100, 1000],
      bcastSessions: 1000,
      bcastRounds: 20,
      /** Fresh servers per kind at the first N, budget permitting (see the memory section). */
      memoryRepeats: 3,
      memory: [
        { n: 1000, kinds: KINDS.map((k) => k.kind) },
        { n: 10000, kinds: ['ws', 'burrow-ws', 'burrow-sse', 'socketio-ws', 'sockjs-ws'] as Kind[] },
      ],
      fallbackRuns: 3,
      chromium: { sockets: numArg('chromium-sockets', 50, 1, 200), rate: numArg('chromium-rate', 500, 10, 5000), warmMs: 1000, measureMs: numArg('chromium-ms', 5000, 500, 10_000), drainMs: 3000, runs: numArg('chromium-runs', 3, 1, 5) },
    };
if (memoryNArg) {
  const ns = memoryNArg.slice('--memory-n='.length).split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0 && n <= 20_000);
  const memKinds = [...new Set(cfg.memory.flatMap((m) => m.kinds))];
  cfg.memory = ns.map((n) => ({ n, kinds: memKinds }));
}
cfg.memoryRepeats = numArg('memory-repeats', cfg.memoryRepeats, 1, 10);
/** The Chromium section's own budget, after the others': ~90 s (rows that would not fit are skipped, fallbacks first). */
/** Per run of every Chromium row: a row takes ~15.5 s (launch, opens, 1 + 5 s, drain), eight rows. */
const CHROMIUM_BUDGET_PER_RUN_MS = 135_000;

const kinds = chromiumOnly ? [] : KINDS.map((k) => k.kind).filter((k) => !only || only.has(k));
const listed = [...(only ?? [])].filter((k) => k !== 'chromium');
const browserRows = noChromium ? [] : BROWSER_ROWS.filter((r) => !only || listed.length === 0 || listed.includes(r.kind));
/**
 * The bench harness is TypeScript (tsx), but Burrow runs from its build (`npm run bench` builds
 * first), as users run it: tsx's transform of the sources keeps names with a `__name(...)` wrapper
 * per function, which costs on the hot path and is not what ships.
 */
const nodeArgs = ['--import', 'tsx'];
const children = new Set<ChildProcess>();

function pinned(core: number, args: string[]): ChildProcess {
  const cmd = pin && core >= 0 ? 'taskset' : process.execPath;
  const full = pin && core >= 0 ? ['-c', String(core), process.execPath, ...args] : args;
  const child = spawn(cmd, full, { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child));
  return child;
}

interface ServerHandle {
  port: number;
  ctl: number;
  /** user+sys CPU of the server process so far, ms (from /proc). */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Starts a server; a server that cannot start (e.g. a broken source tree) is an error result, not a crash. */
async function tryServer(kind: Kind, flags: string[] = []): Promise<ServerHandle | { error: string }> {
  try {
    return await startServer(kind, flags);
  } catch (err) {
    log(`  ${kind}: ${String(err)}`);
    return { error: String(err) };
  }
}

/**
 * The memory step's servers (every kind alike): V8's young generation held at one size (16 MB
 * semi-spaces, the size it grows to by default under a burst of opens), so whether a run's opens
 * happened to grow it (+8 MB of RSS, 8 KB a session at N = 1,000) is not counted as per-session
 * memory; the control port's /gc first runs garbage through it so its pages are resident in both
 * samples (`--memory` in servers.ts).
 */
const MEMORY_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

async function startServer(kind: Kind, flags: string[] = []): Promise<ServerHandle> {
  const prof = serverProf ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, `${kind}-server-${++serverRuns}`)}`] : [];
  const child = pinned(0, ['--expose-gc', ...flags, ...prof, ...nodeArgs, join(here, 'servers.ts'), kind, ...(flags === MEMORY_FLAGS ? ['--memory'] : [])]);
  const rl = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${kind}: server did not start`)), 20_000);
    rl.once('line', (l) => {
      clearTimeout(t);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`${kind}: server exited ${code}`)));
  });
  const { port, ctl } = JSON.parse(first) as { port: number; ctl: number };
  return {
    port,
    ctl,
    cpuMs: () => procCpuMs(child.pid),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

type Runs = Record<string | number, Record<string, unknown> | undefined>;
/**
 * One more run of a measurement repeated on fresh servers or browsers: the first good one is the
 * entry, later ones go into its `repeats` (report.ts takes the median over all of them).
 */
function addRun(into: Runs, key: string | number, res: Record<string, unknown>): void {
  const first = into[key];
  if (!first || 'error' in first) into[key] = res;
  else if (!('error' in res)) ((first.repeats ??= []) as Array<Record<string, unknown>>).push(res);
}

async function runLoad<T>(job: Job, timeoutMs: number, profName?: string): Promise<T | { error: string }> {
  const prof = cpuProf && profName ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, profName)}`] : [];
  const child = pinned(1, [...prof, '--expose-gc', ...nodeArgs, join(here, 'load.ts'), JSON.stringify(job)]);
  child.stdin!.end();
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => (out += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await new Promise((r) => child.once('exit', r));
  clearTimeout(timer);
  const last = out.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    return { error: `load process gave no result (${out.slice(-300)})` };
  }
}

/** Each section may run until its share of the budget is used, so a slow one cannot starve the rest. */
let sectionEnd = BUDGET_MS;
/** Busy CPU time of the whole machine so far, ms (all cores; /proc/stat counts in 1/100 s). */
function busyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - idle) * 10;
  } catch {
    return NaN;
  }
}

function procCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/** Waits (bounded) until the rest of the machine is mostly idle; records how busy it was. */
async function waitForQuiet(): Promise<void> {
  const limit = Date.now() + (quick ? 10_000 : 45_000);
  for (;;) {
    const b0 = busyMs();
    await new Promise((r) => setTimeout(r, 2000));
    const pct = ((busyMs() - b0) / 2000) * 100;
    results.meta.backgroundBeforePct = Math.round(pct);
    if (pct < 25 || Date.now() > limit) {
      log(`machine busy ${pct.toFixed(0)} % of a core before start${pct < 25 ? '' : ' (gave up waiting)'}`);
      return;
    }
    log(`machine busy ${pct.toFixed(0)} % of a core: waiting for it to calm down`);
  }
}

const overBudget = (): boolean => Date.now() - started > sectionEnd;
const log = (s: string): void => void process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${s}\n`);

function machine() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  let nproc = String(ncpu);
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    /* cpus() then */
  }
  const pkg = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  };
  return {
    nproc,
    node: process.version,
    cpu: cpuModel,
    pinned: pin ? 'server: taskset -c 0, load: taskset -c 1' : 'not pinned (1 core)',
    versions: { ws: pkg('ws'), 'socket.io': pkg('socket.io'), 'socket.io-client': pkg('socket.io-client'), sockjs: pkg('sockjs'), 'sockjs-client': pkg('sockjs-client') },
  };
}

const results: Results = {
  meta: {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: machine(),
    loadavgBefore: loadavg().map((x) => x.toFixed(2)).join(' '),
    loadavgAfter: '',
    durationS: 0,
    backgroundBeforePct: 0,
    waitedS: 0,
    config: cfg,
    skipped: [],
  },
  suites: {},
  memory: {},
  fallback: {},
  chromium: {},
};

process.on('SIGINT', () => {
  for (const c of children) c.kill('SIGKILL');
  process.exit(130);
});

if (cpuProf || serverProf || bcastProf) mkdirSync(profDir, { recursive: true });
try {
  await waitForQuiet();
  const waited = Date.now() - started;
  started = Date.now();
  results.meta.waitedS = Math.round(waited / 1000);
  // Three rounds of the eleven kinds take ~440 s on the 2-core VM.
  sectionEnd = BUDGET_MS * 0.62;
  // 1. Interleaved rounds: open time, CPU per echo, paced latency, broadcast.
  for (let r = 0; r < (steps.has('suite') ? cfg.rounds : 0); r++) {
    const order = kinds.map((_, i) => kinds[(i + r * 3) % kinds.length]!);
    for (const kind of order) {
      if (overBudget()) {
        results.meta.skipped.push(`round ${r + 1} ${kind}`);
        continue;
      }
      log(`round ${r + 1}/${cfg.rounds} ${kind}`);
      const srv = await tryServer(kind);
      if ('error' in srv) {
        (results.suites[kind] ??= []).push(srv);
        continue;
      }
      const b0 = busyMs();
      const t0 = Date.now();
      const res = await runLoad<Record<string, unknown>>(
        {
          mode: 'suite',
          kind,
          port: srv.port,
          ctl: srv.ctl,
          opens: cfg.opens,
          satSessions: cfg.satSessions,
          satWindow: cfg.satWindow,
          satWarmMs: cfg.satWarmMs,
          satMs: cfg.satMs,
          latRate: cfg.latRate,
          latMs: cfg.latMs,
          latSessions: cfg.latSessions,
          bcastSessions: cfg.bcastSessions,
          bcastRounds: cfg.bcastRounds,
          ...(bcastProf ? { bcastProfile: join(profDir, `${kind}-bcast-r${r + 1}.cpuprofile`) } : {}),
        },
        120_000,
        `${kind}-r${r + 1}`,
      );
      const serverMs = srv.cpuMs();
      const wall = Date.now() - t0;
      await srv.stop();
      if ('error' in res) log(`  ${kind}: ${String(res.error).slice(0, 300)}`);
      else {
        // CPU used by everything else on the machine during this step, in % of one core.
        const other = busyMs() - b0 - serverMs - Number(res.loadCpuUs ?? 0) / 1000;
        res.backgroundCpuPct = Math.max(0, (other / wall) * 100);
        log(`  background CPU ${(res.backgroundCpuPct as number).toFixed(0)} % of a core`);
      }
      (results.suites[kind] ??= []).push(res);
    }
  }

  // 2. Memory per idle session: a fresh server per (kind, N).
  sectionEnd = BUDGET_MS * 0.93;
  const memoryOnce = async (kind: Kind, n: number): Promise<Record<string, unknown>> => {
    log(`memory ${kind} N=${n}`);
    const srv = await tryServer(kind, MEMORY_FLAGS);
    if ('error' in srv) return srv;
    const snapshots = process.env.BENCH_SNAPSHOTS ? join(outDir, 'snap', `${kind}-${n}-${Date.now()}`) : undefined;
    if (snapshots) mkdirSync(join(outDir, 'snap'), { recursive: true });
    const res = await runLoad<Record<string, unknown>>({ mode: 'memory', kind, port: srv.port, ctl: srv.ctl, n, ...(snapshots ? { snapshots } : {}) }, 150_000);
    await srv.stop();
    if ('error' in res) log(`  ${kind}: ${String(res.error).slice(0, 300)}`);
    else log(`  ${kind} N=${n}: heap ${((res.heapPerSession as number) / 1024).toFixed(2)} KB, RSS ${((res.bytesPerSession as number) / 1024).toFixed(2)} KB per session`);
    return res;
  };
  // At N = 1,000 RSS moves ±1-2 MB between fresh servers of one kind (pages taken and given back in
  // steps), ±1-2 KB a session, and at 10,000 still ±0.5 KB: one server per kind cannot rank a ratio
  // near issue 12's 1.3×. So the pair that target compares (raw ws and Burrow's ws) goes first, at
  // every N, with `memoryRepeats` fresh servers each, interleaved, and the report takes the median;
  // the other kinds get one server each, then more at the first N, while the budget lasts (bench/README.md,
  // "Idle memory per WebSocket session").
  const record = (kind: Kind, n: number, res: Record<string, unknown>): void => addRun((results.memory[kind] ??= {}) as Runs, n, res);
  const memPlan = steps.has('memory') ? cfg.memory.map(({ n, kinds: k }) => ({ n, kinds: k.filter((x) => kinds.includes(x)) })) : [];
  const isTargetPair = (k: Kind): boolean => k === 'ws' || k === 'burrow-ws';
  for (let rep = 0; rep < cfg.memoryRepeats; rep++) {
    for (const { n, kinds: memKinds } of memPlan) {
      for (const kind of memKinds.filter(isTargetPair)) {
        if (overBudget()) {
          results.meta.skipped.push(`memory ${kind} N=${n}${rep > 0 ? ` (repeat ${rep + 1})` : ''}`);
          continue;
        }
        record(kind, n, await memoryOnce(kind, n));
      }
    }
  }
  for (const { n, kinds: memKinds } of memPlan) {
    for (const kind of memKinds.filter((k) => !isTargetPair(k))) {
      if (overBudget()) {
        results.meta.skipped.push(`memory ${kind} N=${n}`);
        continue;
      }
      record(kind, n, await memoryOnce(kind, n));
    }
  }
  const firstN = memPlan[0];
  for (let rep = 1; rep < (firstN ? cfg.memoryRepeats : 0); rep++) {
    for (const kind of firstN!.kinds.filter((k) => !isTargetPair(k))) {
      const first = results.memory[kind]?.[firstN!.n] as Record<string, unknown> | undefined;
      if (!first || 'error' in first || overBudget()) continue;
      record(kind, firstN!.n, await memoryOnce(kind, firstN!.n));
    }
  }

  sectionEnd = BUDGET_MS;
  // 3. Time to open through a proxy that passes, refuses (403) or black-holes the upgrade.
  for (const { lib, server } of FALLBACK_LIBS) {
    if ((only && !only.has(server)) || chromiumOnly || !steps.has('fallback')) continue;
    if (overBudget()) {
      results.meta.skipped.push(`fallback ${lib}`);
      continue;
    }
    log(`fallback ${lib}`);
    const srv = await tryServer(server);
    if ('error' in srv) {
      results.fallback[lib] = srv;
      continue;
    }
    const res = await runLoad<Record<string, unknown>>(
      { mode: 'fallback', lib, port: srv.port, runs: cfg.fallbackRuns, faults: ['pass', 'refuse', 'hang'] },
      120_000,
    );
    await srv.stop();
    if ('error' in res) log(`  ${lib}: ${String(res.error).slice(0, 300)}`);
    results.fallback[lib] = res;
  }

  // 4. A short paced run in Chromium, with its own budget.
  if (browserRows.length) await chromiumSection();
} finally {
  for (const c of children) c.kill('SIGKILL');
}

/**
 * One Chromium for the whole section (browser.ts, pinned to core 1 like the load processes: Chromium's
 * processes inherit it); a fresh server per row, on core 0. The page runs the browser bundle that
 * `npm run bench` built (client/dist/burrow.global.js), as the servers run the server's build.
 */
async function chromiumSection(): Promise<void> {
  const c = cfg.chromium;
  const end = Date.now() + CHROMIUM_BUDGET_PER_RUN_MS * c.runs;
  // One run per row was one draw of a noisy figure (a p99 over 5 s moved 1.3-1.5x between runs of
  // the same code): `runs` runs per row, interleaved (every row once, in a rotated order, then again),
  // and the report takes each figure's median.
  const schedule = Array.from({ length: c.runs }, (_, r) => browserRows.map((_, i) => browserRows[(i + r * 2) % browserRows.length]!)).flat();
  log(`chromium: ${browserRows.length} rows × ${c.runs} runs, ${c.sockets} sockets, ${c.rate} msg/s, ${c.warmMs} ms warm-up + ${c.measureMs} ms`);
  const driver = pinned(process.env.CHROMIUM_CORES === 'all' ? -1 : 1, [...nodeArgs, join(here, 'browser.ts')]);
  const lines = createInterface({ input: driver.stdout! });
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  lines.on('line', (l) => {
    queue.push(l);
    wake?.();
  });
  driver.once('exit', () => wake?.());
  driver.stdin!.on('error', () => {});
  driver.stdout!.on('error', () => {});
  /** The driver's next JSON line, or an error after `ms` or when it exited. */
  const next = async (ms: number): Promise<Record<string, unknown>> => {
    const until = Date.now() + ms;
    while (queue.length === 0 && driver.exitCode === null && driver.signalCode === null && Date.now() < until) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, until - Date.now()));
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = undefined;
    }
    const l = queue.shift();
    if (l === undefined) return { error: driver.exitCode === null ? `Chromium driver gave no answer in ${ms} ms` : 'Chromium driver exited' };
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return { error: `Chromium driver said: ${l.slice(0, 300)}` };
    }
  };
  // The first row's server starts (core 0) while Chromium launches (core 1).
  let nextSrv: Promise<ServerHandle | { error: string }> | undefined = tryServer(schedule[0]!.kind);
  try {
    const ready = await next(30_000);
    if (!ready.ready) {
      log(`chromium: ${String(ready.error)}`);
      for (const r of browserRows) results.chromium![r.kind] = { error: String(ready.error) };
      return;
    }
    // A row: page, frames and opens (a few s), then the run and its drain. Later rows are judged
    // by how long the last one took.
    let rowMs = c.warmMs + c.measureMs + 6000;
    /** A row's first run is its result; later runs of it go into its `repeats` (the report takes medians). */
    const keep = (kind: Kind, res: Record<string, unknown>): void => addRun(results.chromium as Runs, kind, res);
    for (let i = 0; i < schedule.length; i++) {
      const row = schedule[i]!;
      const pending = nextSrv;
      nextSrv = undefined;
      if (Date.now() + rowMs > end) {
        if (pending) void pending.then((h) => ('error' in h ? undefined : h.stop()));
        results.meta.skipped.push(...schedule.slice(i).map((r, j) => `chromium ${r.kind} (run ${Math.floor((i + j) / browserRows.length) + 1})`));
        break;
      }
      const t0 = Date.now();
      log(`chromium ${row.kind}`);
      const srv = await (pending ?? tryServer(row.kind));
      if ('error' in srv) {
        keep(row.kind, srv);
        if (i + 1 < schedule.length) nextSrv = tryServer(schedule[i + 1]!.kind);
        continue;
      }
      const job: BrowserJob = { kind: row.kind, lib: row.lib, transport: row.transport, port: srv.port, ctl: srv.ctl, ...c };
      driver.stdin!.write(`${JSON.stringify(job)}\n`);
      let res = await next(60_000);
      if (typeof res.opened === 'number') {
        // The sockets are open and nothing is measured yet: start the next row's server now, if that
        // row will fit, and let this one run once it has started.
        if (i + 1 < schedule.length && Date.now() + c.warmMs + c.measureMs + c.drainMs + rowMs < end) {
          nextSrv = tryServer(schedule[i + 1]!.kind);
          await nextSrv;
        }
        driver.stdin!.write('go\n');
        res = await next(c.warmMs + c.measureMs + c.drainMs + 60_000);
      }
      await srv.stop();
      keep(row.kind, res);
      rowMs = Math.max(rowMs, Date.now() - t0);
      if ('error' in res) {
        log(`  ${row.kind}: ${String(res.error).slice(0, 300)}`);
        if (driver.exitCode !== null || driver.signalCode !== null || String(res.error).includes('no answer')) break;
      } else {
        const f = (x: unknown, d = 1): string => (typeof x === 'number' ? x.toFixed(d) : 'lost');
        log(`  p50 ${f(res.p50)} / p99 ${f(res.p99)} ms, server ${f(res.serverUsPerEcho, 0)} µs/echo, lost ${String(res.lost)}/${String(res.sent)}, page send lag p99 ${f(res.sendLagP99)} ms, Chromium CPU ${f(res.browserCpuPct, 0)} %; phases ${JSON.stringify(res.phases)} ms`);
      }
    }
  } finally {
    if (nextSrv) void nextSrv.then((h) => ('error' in h ? undefined : h.stop()));
    driver.stdin!.end();
    const t = setTimeout(() => driver.kill('SIGTERM'), 10_000);
    const k = setTimeout(() => driver.kill('SIGKILL'), 15_000);
    if (driver.exitCode === null && driver.signalCode === null) await new Promise((r) => driver.once('exit', r));
    clearTimeout(t);
    clearTimeout(k);
  }
}

results.meta.loadavgAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
results.meta.durationS = Math.round((Date.now() - started) / 1000) + results.meta.waitedS;
mkdirSync(outDir, { recursive: true });
const { markdown, svg } = render(results);
writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(join(outDir, 'latest.md'), markdown);
writeFileSync(join(outDir, 'latest.svg'), svg);
process.stdout.write(markdown);
log(`done in ${results.meta.durationS}s: bench/results/latest.{md,json,svg}`);
