/**
 * CPU time of the Chromium under this process, from /proc: in total, by kind of process (browser,
 * renderer, network service, GPU, ...) and by thread, so the report can say where Chromium is busy.
 * Linux clock ticks are 1/100 s, so a figure is good to ~10 ms per process over the window.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface CpuSnapshot {
  /** All descendants of this process, ms. */
  total: number;
  /** By process kind: `browser`, `renderer`, `network`, `gpu`, `zygote`, `utility`, ... ms. */
  byKind: Record<string, number>;
  /** By `kind/thread name` (e.g. `renderer/CrRendererMain`), ms. */
  byThread: Record<string, number>;
}

const ticksMs = (stat: string): { ppid: number; ms: number; comm: string } => {
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const f = stat.slice(close + 2).split(' ');
  return { ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * 10, comm };
};

/** What a Chromium process is, from its command line. */
function kindOf(pid: number): string {
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'gone';
  }
  const type = /--type=([a-z-]+)/.exec(cmd)?.[1];
  if (!type) return /chrom/.test(cmd) ? 'browser' : 'other';
  if (type === 'utility') return /NetworkService/.test(cmd) ? 'network' : /Storage/.test(cmd) ? 'storage' : 'utility';
  return type === 'gpu-process' ? 'gpu' : type;
}

export function descendantsCpu(root = process.pid): CpuSnapshot {
  const kids = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = ticksMs(readFileSync(`/proc/${d}/stat`, 'utf8'));
      const p = Number(d);
      cpu.set(p, s.ms);
      const list = kids.get(s.ppid);
      if (list) list.push(p);
      else kids.set(s.ppid, [p]);
    } catch {
      /* the process ended meanwhile */
    }
  }
  const out: CpuSnapshot = { total: 0, byKind: {}, byThread: {} };
  const todo = [...(kids.get(root) ?? [])];
  for (let k = 0; k < todo.length && k < 10_000; k++) {
    const p = todo[k]!;
    const ms = cpu.get(p) ?? 0;
    const kind = kindOf(p);
    out.total += ms;
    out.byKind[kind] = (out.byKind[kind] ?? 0) + ms;
    try {
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const s = ticksMs(readFileSync(`/proc/${p}/task/${t}/stat`, 'utf8'));
        const key = `${kind}/${s.comm.replace(/[0-9]+$/, '')}`;
        out.byThread[key] = (out.byThread[key] ?? 0) + s.ms;
      }
    } catch {
      /* the process ended meanwhile */
    }
    todo.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** b − a per key, in % of one core over `wallMs`, largest first, rounded; keys under `minPct` left out. */
export function pctDiff(a: Record<string, number>, b: Record<string, number>, wallMs: number, minPct = 0.5): Record<string, number> {
  const rows = Object.keys(b)
    .map((k) => [k, ((b[k]! - (a[k] ?? 0)) / wallMs) * 100] as const)
    .filter(([, v]) => v >= minPct)
    .sort((x, y) => y[1] - x[1]);
  return Object.fromEntries(rows.map(([k, v]) => [k, Math.round(v * 10) / 10]));
}
