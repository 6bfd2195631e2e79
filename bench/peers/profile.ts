/**
 * Summarises V8 CPU profiles of the load process (`npm run bench -- --cpu-prof ...` writes them to
 * bench/results/prof/<kind>-r<round>/): `node --import tsx bench/peers/profile.ts <dir or file>... [--top=N]`.
 * For a directory, the main thread's profile is read (Node names it CPU.<date>.<time>.<pid>.0.<n>;
 * the other is tsx's loader worker).
 * Prints, per file, the busy time (less module loading: tsx compiles at start and lazily), self time grouped by where the code lives (Burrow's client, the
 * bench driver, undici, eventsource, ws, node:http/net internals, GC, ...) and the top frames by
 * self time, each as a share of the busy (non-idle) time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const topArg = process.argv.find((a) => a.startsWith('--top='));
const TOP = topArg ? Number(topArg.slice(6)) : 15;
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));

/** Loading code (a one-off at start, and lazily later): counted apart from the busy time. */
const LOADING = 'module loading (tsx, esm/cjs loaders)';
const LOADER_FUNCTIONS = new Set([
  'makeSyncRequest',
  'waitForWorker',
  'wrapSafe',
  'compileSourceTextModule',
  'compileForInternalLoader',
  'internalModuleStat',
  'readFileUtf8',
]);

/** Where a frame's code lives. */
function area(cf: CallFrame): string {
  const u = cf.url;
  if (
    LOADER_FUNCTIONS.has(cf.functionName) ||
    /^node:internal\/(modules|bootstrap|deps\/cjs-module-lexer|source_map|fs\/promises)/.test(u) ||
    /node_modules\/(tsx|esbuild|get-tsconfig)\//.test(u)
  ) {
    return LOADING;
  }
  if (!u) {
    if (cf.functionName === '(garbage collector)') return 'gc';
    if (cf.functionName === '(program)') return '(program)';
    return 'native';
  }
  if (/\/client\/(src|dist)\//.test(u)) return 'burrow client';
  if (/\/server\/(src|dist)\//.test(u)) return 'burrow server';
  if (/\/shared\/(src|dist)\//.test(u)) return 'burrow shared';
  if (u.includes('/bench/')) return 'bench driver';
  if (u.includes('undici')) return 'undici (fetch)';
  if (u.includes('node_modules/eventsource')) return 'eventsource';
  if (u.includes('node_modules/ws/')) return 'ws';
  if (u.includes('sockjs-client')) return 'sockjs-client';
  if (u.includes('socket.io') || u.includes('engine.io')) return 'socket.io-client';
  if (u.includes('node_modules/')) return u.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1');
  if (u.startsWith('node:internal/streams') || u.startsWith('node:stream')) return 'node streams';
  if (u.includes('_http_') || u.startsWith('node:http')) return 'node http';
  if (u.startsWith('node:net') || u.startsWith('node:internal/stream_base') || u.includes('/net')) return 'node net';
  if (u.startsWith('node:internal/timers') || u.startsWith('node:timers')) return 'node timers';
  if (u.startsWith('node:internal/event_target') || u.startsWith('node:events') || u.includes('webidl')) return 'node events';
  if (u.startsWith('node:')) return `node ${u.slice(5).replace(/^internal\//, '').split('/')[0]}`;
  return u;
}

function summarise(file: string): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // A frame counts as loading when it or any caller is loader code (path.resolve under require...).
  const loadingIds = new Set<number>();
  const mark = (id: number, inLoader: boolean): void => {
    const n = byId.get(id)!;
    const loading = inLoader || area(n.callFrame) === LOADING;
    if (loading) loadingIds.add(id);
    for (const c of n.children ?? []) mark(c, loading);
  };
  mark(p.nodes[0]!.id, false);
  // Each sample weighs the median sampling interval, not its own time delta: on a busy machine a
  // process that was descheduled for 200 ms would otherwise charge them all to the frame it was in.
  const deltas = p.timeDeltas.filter((d) => d > 0).sort((a, b) => a - b);
  const interval = deltas[deltas.length >> 1] ?? 1000;
  const self = new Map<number, number>();
  for (const id of p.samples) self.set(id, (self.get(id) ?? 0) + interval);
  let total = 0;
  let idle = 0;
  let loading = 0;
  const areas = new Map<string, number>();
  const frames = new Map<string, number>();
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    total += us;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const a = area(cf);
    if (loadingIds.has(id)) {
      loading += us;
      continue;
    }
    areas.set(a, (areas.get(a) ?? 0) + us);
    const where = cf.url ? `${cf.url.replace(/^.*\/(node_modules|client|server|shared|bench)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    frames.set(key, (frames.get(key) ?? 0) + us);
  }
  const busy = total - idle - loading;
  const pct = (us: number): string => `${((us / busy) * 100).toFixed(1).padStart(5)} %`;
  console.log(`\n## ${basename(dirname(file))}/${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((busy / total) * 100).toFixed(0)} %) + ${(loading / 1e6).toFixed(1)} s loading modules`);
  console.log('\nself time by area:');
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 14)) console.log(`  ${pct(us)}  ${a}`);
  console.log(`\ntop ${TOP} frames by self time:`);
  for (const [k, us] of [...frames].sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.log(`  ${pct(us)}  ${k}`);
}

/** The main thread's profile in a directory of one run's profiles. */
function mainThread(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const main = readdirSync(path).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (!main) throw new Error(`${path}: no main-thread profile`);
  return join(path, main);
}

for (const f of files) summarise(mainThread(f));
