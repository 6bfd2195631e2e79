/**
 * Turns the runner's raw results into the Markdown tables and the SVG chart. Also runnable on its own
 * to re-render a saved run: `node --import tsx bench/peers/report.ts bench/results/latest.json`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { BrowserResult } from './browser.js';
import { BROWSER_ROWS, FALLBACK_LIBS, KINDS, info, type Kind, type KindInfo, type TransportClass } from './kinds.js';

export interface Results {
  meta: {
    date: string;
    mode: string;
    machine: { nproc: string; node: string; cpu: string; pinned: string; versions: Record<string, string> };
    loadavgBefore: string;
    loadavgAfter: string;
    durationS: number;
    backgroundBeforePct?: number;
    waitedS?: number;
    config: unknown;
    skipped: string[];
  };
  suites: Partial<Record<Kind, Array<Record<string, unknown>>>>;
  memory: Partial<Record<Kind, Record<number, Record<string, unknown>>>>;
  fallback: Partial<Record<string, Record<string, unknown>>>;
  /** The Chromium paced run, one result per kind (browser.ts `BrowserResult`, or `{ error }`). Absent in older runs. */
  chromium?: Partial<Record<Kind, Record<string, unknown>>>;
}

interface Sat { serverUsPerEcho: number; clientUsPerEcho: number; echoesPerSec: number; serverCpuPct: number; clientCpuPct: number }
interface Lat { sessions: number; p50: number; p99: number; p999: number; lost: number; sent: number; clientCpuPct: number }
interface Bcast { msgsPerSec: number; serverUsPerMsg: number; clientCpuPct: number; received: number; expected: number; requestsPerMsg?: number }
interface BcastStep { serverUsPerMsg: number; requestsPerMsg: number; received: number; expected: number }
interface Suite { opens: number[]; sat: Sat; latency: Lat[]; bcast: Bcast; bcastStep?: BcastStep; transports: string[]; openFailures: number }

const FLOOR: Record<TransportClass, Kind> = { websocket: 'ws', streaming: 'http-sse', polling: 'http-poll' };

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
interface Agg { med: number; min: number; max: number; n: number }
const agg = (xs: number[]): Agg => {
  const v = xs.filter((x) => !Number.isNaN(x));
  return { med: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
};

function fmt(x: number, digits?: number): string {
  if (x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return 'lost';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}
const fmtAgg = (a: Agg, d?: number): string => (a.n === 0 ? '–' : a.n === 1 ? fmt(a.med, d) : `${fmt(a.med, d)} (${fmt(a.min, d)}–${fmt(a.max, d)})`);
const ratio = (x: number, ref: number | undefined): string =>
  ref === undefined || !Number.isFinite(ref) || !Number.isFinite(x) || Number.isNaN(x) || ref <= 0 ? '–' : `${(x / ref).toFixed(2)}×`;

/** Summary per kind of everything measured. */
export function summarize(r: Results) {
  const out = new Map<Kind, {
    sat: Agg; clientCpu: number; serverCpu: number; rate: number; clientUs: number;
    /** HTTP requests the server answered per echo at saturation (NaN in runs from before it was counted). */
    satReqs: number;
    open: Agg;
    lat: Map<number, { p50: Agg; p99: Agg; p999: Agg; lost: number; sent: number; clientCpu: number }>;
    bcast: Agg; bcastUs: number; bcastClientCpu: number; bcastReqs: number; stepUs: Agg; stepReqs: number;
    mem: Map<number, number>;
    /** V8 heap per session (KB), when measured. */
    heap: Map<number, number>;
    /** RSS per session (KB) over the fresh servers of that N. */
    memRuns: Map<number, Agg>;
    transports: string; failures: number;
  }>();
  for (const k of KINDS) {
    const runs = (r.suites[k.kind] ?? []).filter((x) => !('error' in x)) as unknown as Suite[];
    const mem = new Map<number, number>();
    const heap = new Map<number, number>();
    const memRuns = new Map<number, Agg>();
    for (const [n, m] of Object.entries(r.memory[k.kind] ?? {})) {
      if ('error' in m) continue;
      type M = { bytesPerSession: number; heapPerSession?: number };
      // The first fresh server and any repeats (run.ts, memoryRepeats): their median.
      const all = [m as M, ...(((m as { repeats?: M[] }).repeats) ?? [])];
      mem.set(Number(n), median(all.map((x) => x.bytesPerSession)) / 1024);
      memRuns.set(Number(n), agg(all.map((x) => x.bytesPerSession / 1024)));
      const h = all.map((x) => x.heapPerSession ?? NaN);
      if (h.some((x) => !Number.isNaN(x))) heap.set(Number(n), median(h) / 1024);
    }
    if (runs.length === 0 && mem.size === 0) continue;
    const lat = new Map<number, { p50: Agg; p99: Agg; p999: Agg; lost: number; sent: number; clientCpu: number }>();
    for (const n of [...new Set(runs.flatMap((s) => s.latency.map((l) => l.sessions)))]) {
      const ls = runs.map((s) => s.latency.find((l) => l.sessions === n)).filter((l): l is Lat => !!l);
      lat.set(n, {
        p50: agg(ls.map((l) => l.p50)),
        p99: agg(ls.map((l) => l.p99)),
        p999: agg(ls.map((l) => l.p999)),
        lost: ls.reduce((a, l) => a + l.lost, 0),
        sent: ls.reduce((a, l) => a + l.sent, 0),
        clientCpu: median(ls.map((l) => l.clientCpuPct)),
      });
    }
    out.set(k.kind, {
      sat: agg(runs.map((s) => s.sat.serverUsPerEcho)),
      clientCpu: median(runs.map((s) => s.sat.clientCpuPct)),
      serverCpu: median(runs.map((s) => s.sat.serverCpuPct)),
      rate: median(runs.map((s) => s.sat.echoesPerSec)),
      clientUs: median(runs.map((s) => s.sat.clientUsPerEcho)),
      satReqs: median(runs.map((s) => (s.sat as { requestsPerEcho?: number }).requestsPerEcho ?? NaN)),
      open: agg(runs.flatMap((s) => s.opens)),
      lat,
      bcast: agg(runs.map((s) => (s.bcast.received >= s.bcast.expected ? s.bcast.msgsPerSec : NaN))),
      bcastUs: median(runs.map((s) => s.bcast.serverUsPerMsg)),
      bcastClientCpu: median(runs.map((s) => s.bcast.clientCpuPct)),
      bcastReqs: median(runs.map((s) => s.bcast.requestsPerMsg ?? NaN)),
      stepUs: agg(runs.map((s) => (s.bcastStep && s.bcastStep.received >= s.bcastStep.expected ? s.bcastStep.serverUsPerMsg : NaN))),
      stepReqs: median(runs.map((s) => s.bcastStep?.requestsPerMsg ?? NaN)),
      mem,
      heap,
      memRuns,
      transports: [...new Set(runs.flatMap((s) => s.transports))].join(', '),
      failures: runs.reduce((a, s) => a + s.openFailures, 0),
    });
  }
  return out;
}

type Summary = ReturnType<typeof summarize>;

/** " (renderer / network / browser %)" of a Chromium row; empty for runs from before that was measured. */
function byKind(x: BrowserResult): string {
  const by = x.browserCpuBy as Record<string, number> | undefined;
  if (!by) return '';
  return ` (${['renderer', 'network', 'browser'].map((k) => (by[k] ?? 0).toFixed(0)).join(' / ')})`;
}

/** The Chromium rows that ran (errors left out); lost messages make p50 / p99 infinite, as JSON null. */
function chromiumRows(r: Results): Map<Kind, BrowserResult & { runs?: number; p99s?: number[] }> {
  const out = new Map<Kind, BrowserResult & { runs?: number; p99s?: number[] }>();
  for (const b of BROWSER_ROWS) {
    const x = r.chromium?.[b.kind];
    if (!x || 'error' in x) continue;
    const inf = (v: number | null): number => (v === null ? Number.POSITIVE_INFINITY : v);
    // Every run of the row (run.ts, chromium.runs): each figure is the median over them, lost and
    // sent their sums; a run that lost messages has infinite latencies, so it counts as the slowest.
    const runs = [x, ...(((x as { repeats?: unknown[] }).repeats) ?? [])] as unknown as BrowserResult[];
    const med = (f: (y: BrowserResult) => number | null | undefined): number => median(runs.map((y) => { const v = f(y); return v === null ? Number.POSITIVE_INFINITY : (v ?? NaN); }));
    const y = runs[0]!;
    const cpuBy: Record<string, number> = {};
    for (const key of Object.keys(y.browserCpuBy ?? {})) cpuBy[key] = med((z) => z.browserCpuBy?.[key]);
    out.set(b.kind, {
      ...y,
      runs: runs.length,
      p50: med((z) => z.p50),
      p99: med((z) => z.p99),
      p99s: runs.map((z) => inf(z.p99)),
      fromSendP50: med((z) => z.fromSendP50),
      fromSendP99: med((z) => z.fromSendP99),
      sendLagP99: med((z) => z.sendLagP99),
      serverUsPerEcho: med((z) => z.serverUsPerEcho),
      ...(y.requestsPerEcho !== undefined ? { requestsPerEcho: med((z) => z.requestsPerEcho), connectionsPerEcho: med((z) => z.connectionsPerEcho) } : {}),
      serverCpuPct: med((z) => z.serverCpuPct),
      browserCpuPct: med((z) => z.browserCpuPct),
      browserCpuBy: cpuBy,
      lost: runs.reduce((a, z) => a + z.lost, 0),
      sent: runs.reduce((a, z) => a + z.sent, 0),
    });
  }
  return out;
}

/** Reference values for one figure: the floor of the kind's class and the best peer of that class. */
function refs(sum: Summary, k: KindInfo, cost: (kind: Kind) => number | undefined) {
  const floor = cost(FLOOR[k.cls]);
  const peers = KINDS.filter((x) => x.family === 'peer' && x.cls === k.cls)
    .map((x) => ({ x, v: cost(x.kind) }))
    .filter((p): p is { x: KindInfo; v: number } => p.v !== undefined && Number.isFinite(p.v) && !Number.isNaN(p.v));
  peers.sort((a, b) => a.v - b.v);
  return { floor, best: peers[0]?.v, bestLabel: peers[0]?.x.label };
}

export function render(r: Results): { markdown: string; svg: string } {
  const sum = summarize(r);
  const m = r.meta;
  const L: string[] = [];
  const rows = KINDS.filter((k) => sum.has(k.kind));
  const name = (k: KindInfo): string => (k.family === 'burrow' ? `**${k.label}**` : k.label);

  L.push(`# Burrow vs Socket.IO, SockJS and raw floors — ${m.mode} run`, '');
  L.push(`- date: ${m.date}`);
  L.push(`- machine: nproc ${m.machine.nproc}, ${m.machine.cpu}, node ${m.machine.node}; ${m.machine.pinned}`);
  L.push(`- peers: ${Object.entries(m.machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push(`- load average before / after: ${m.loadavgBefore} / ${m.loadavgAfter}; suite took ${m.durationS} s`);
  const bg = KINDS.flatMap((k) => (r.suites[k.kind] ?? []).map((x) => Number(x.backgroundCpuPct))).filter((x) => Number.isFinite(x));
  if (bg.length) L.push(`- other processes on the machine (not ours) used ${fmt(median(bg), 0)} % of a core per step (median; max ${fmt(Math.max(...bg), 0)} %); ${m.backgroundBeforePct ?? '?'} % just before the start`);
  if (m.skipped.length) L.push(`- skipped (time budget): ${m.skipped.join('; ')}`);
  L.push('', 'Ratios are costs relative to the floor of the same transport class (raw `ws`, raw node:http SSE+POST, raw node:http long-poll) and to the best Socket.IO/SockJS entry of that class: above 1.00× is worse. Values are median (min–max) over interleaved rounds.', '');

  const nodeSections = L.length;
  // 1. CPU per echo.
  const satCost = (k: Kind): number | undefined => sum.get(k)?.sat.med;
  L.push('## Server CPU per echo at saturation', '');
  L.push('100 sessions, 16 × 64 B messages in flight per session (closed loop), server user+sys CPU ÷ echoes. Client CPU near 100 % marks a client-bound run (the server figure is still per message). HTTP requests / echo: POSTs and polls the server answered per echo (0 on WebSocket), i.e. how many echoes each library\'s client batches into one request at the rate reached.', '');
  L.push('| server | µs server CPU / echo | × floor | × best peer | echoes/s | server CPU | client CPU | client µs / echo | HTTP requests / echo |');
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const k of rows) {
    const s = sum.get(k.kind)!;
    const { floor, best } = refs(sum, k, satCost);
    const bound = s.clientCpu >= 90 ? ' ⚠ client-bound' : '';
    L.push(`| ${name(k)} | ${fmtAgg(s.sat)} | ${ratio(s.sat.med, floor)} | ${ratio(s.sat.med, best)} | ${fmt(s.rate, 0)} | ${fmt(s.serverCpu, 0)} % | ${fmt(s.clientCpu, 0)} %${bound} | ${fmt(s.clientUs)} | ${Number.isNaN(s.satReqs) ? '–' : s.satReqs.toFixed(3)} |`);
  }

  // 2. Latency.
  const latNs = [...new Set(rows.flatMap((k) => [...sum.get(k.kind)!.lat.keys()]))].sort((a, b) => a - b);
  const cfg = m.config as { latRate?: number; bcastSessions?: number; bcastRounds?: number };
  for (const n of latNs) {
    const p99 = (k: Kind): number | undefined => sum.get(k)?.lat.get(n)?.p99.med;
    L.push('', `## Paced echo latency, ${n.toLocaleString('en-US')} sessions, ${cfg.latRate} msg/s total`, '');
    L.push('Open loop: message *i* is due at t0 + i/rate on session i mod N and is timed from when it was due, not from when it left; ms. Ratios on p99.', '');
    L.push('| server | p50 ms | p99 ms | p99.9 ms | × floor (p99) | × best peer (p99) | lost | client CPU |');
    L.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const k of rows) {
      const l = sum.get(k.kind)!.lat.get(n);
      if (!l) continue;
      const { floor, best } = refs(sum, k, p99);
      L.push(`| ${name(k)} | ${fmtAgg(l.p50)} | ${fmtAgg(l.p99)} | ${fmtAgg(l.p999)} | ${ratio(l.p99.med, floor)} | ${ratio(l.p99.med, best)} | ${l.lost}/${l.sent} | ${fmt(l.clientCpu, 0)} % |`);
    }
  }

  // 3. Broadcast.
  const bcastCost = (k: Kind): number | undefined => {
    const v = sum.get(k)?.bcast.med;
    return v === undefined || Number.isNaN(v) ? undefined : 1 / v;
  };
  const stepCost = (k: Kind): number | undefined => {
    const v = sum.get(k)?.stepUs.med;
    return v === undefined || Number.isNaN(v) ? undefined : v;
  };
  L.push('', `## Broadcast fan-out to ${cfg.bcastSessions} sessions`, '');
  L.push(`The server sends ${cfg.bcastRounds} rounds of one 64 B message to every session (one event-loop turn per round); msgs/s from the request to the last message received. Ratios are cost (floor msgs/s ÷ this msgs/s).`, '');
  L.push('HTTP requests / msg: polls (and POSTs) the server answered per delivered message, so how batched each library\'s delivery was (0 for WebSocket): in the burst it depends on how fast the one load process turns each library\'s polls around. Lock-step: the same rounds, each sent only once every session received the one before, so every message is a delivery of its own for every library; its server CPU per message is the fan-out cost at equal work (× best peer on it).', '');
  L.push('| server | msgs/s delivered | × floor | × best peer | µs server CPU / msg | HTTP requests / msg | client CPU | lock-step µs / msg | × best peer | requests / msg |');
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const k of rows) {
    const s = sum.get(k.kind)!;
    if (s.bcast.n === 0) continue;
    const { floor, best } = refs(sum, k, bcastCost);
    const c = bcastCost(k.kind);
    L.push(`| ${name(k)} | ${fmtAgg(s.bcast, 0)} | ${ratio(c ?? NaN, floor)} | ${ratio(c ?? NaN, best)} | ${fmt(s.bcastUs)} | ${fmt(s.bcastReqs, 3)} | ${fmt(s.bcastClientCpu, 0)} %${s.bcastClientCpu >= 90 ? ' ⚠' : ''} | ${fmtAgg(s.stepUs)} | ${ratio(s.stepUs.med, refs(sum, k, stepCost).best)} | ${fmt(s.stepReqs, 2)} |`);
  }

  // 4. Memory.
  const memNs = [...new Set(rows.flatMap((k) => [...sum.get(k.kind)!.mem.keys()]))].sort((a, b) => a - b);
  L.push('', '## Memory per idle session', '');
  L.push('Server RSS after GC with 100 + N idle sessions open, minus RSS after GC with the first 100 open, ÷ N; KB (with more than one fresh server per kind: their median and min–max). Every server of this step runs with V8\'s young generation at one fixed size, run through before each sample (bench/README.md, "How it is measured"). Heap: V8 heap in use after GC, the same difference ÷ N (the objects alone, without page residency).', '');
  L.push(`| server | ${memNs.map((n) => `KB @ ${n.toLocaleString('en-US')} | × floor | × best peer | heap KB`).join(' | ')} |`);
  L.push(`| --- | ${memNs.map(() => '--- | --- | --- | ---').join(' | ')} |`);
  for (const k of rows) {
    const s = sum.get(k.kind)!;
    if (s.mem.size === 0) continue;
    const cells = memNs.map((n) => {
      const v = s.mem.get(n);
      if (v === undefined) return '– | – | – | –';
      const { floor, best } = refs(sum, k, (kk) => sum.get(kk)?.mem.get(n));
      const h = s.heap.get(n);
      const runs = s.memRuns.get(n);
      const cell = runs && runs.n > 1 ? fmtAgg(runs, 1) : fmt(v, 1);
      return `${cell} | ${ratio(v, floor)} | ${ratio(v, best)} | ${h === undefined ? '–' : fmt(h, 1)}`;
    });
    L.push(`| ${name(k)} | ${cells.join(' | ')} |`);
  }

  // 5. Time to open.
  L.push('', '## Time to open', '');
  L.push('From the constructor to the library\'s open/connect event, one transport forced, sequential opens on an idle server; ms.', '');
  L.push('| server | open ms | × floor | × best peer | transport reported |');
  L.push('| --- | --- | --- | --- | --- |');
  for (const k of rows) {
    const s = sum.get(k.kind)!;
    if (s.open.n === 0) continue;
    const { floor, best } = refs(sum, k, (kk) => sum.get(kk)?.open.med);
    L.push(`| ${name(k)} | ${fmtAgg(s.open)} | ${ratio(s.open.med, floor)} | ${ratio(s.open.med, best)} | ${s.transports} |`);
  }
  const fb = FALLBACK_LIBS.filter((f) => r.fallback[f.lib] && !('error' in r.fallback[f.lib]!));
  if (fb.length) {
    L.push('', 'Default client through a proxy that passes the upgrade, refuses it (403) or black-holes it (never answers); ms to open, and the transport it opened on:', '');
    L.push('| client (transports) | upgrade passes | upgrade refused | upgrade hangs |');
    L.push('| --- | --- | --- | --- |');
    for (const f of fb) {
      const faults = (r.fallback[f.lib] as { faults: Record<string, { ms: number[]; transports: string[]; errors: number }> }).faults;
      const cell = (x?: { ms: number[]; transports: string[]; errors: number }): string => {
        if (!x) return '–';
        const a = agg(x.ms);
        const t = [...new Set(x.transports)].join('/');
        return `${a.n ? fmtAgg(a, 0) : 'failed'}${t ? ` → ${t}` : ''}${x.errors ? ` (${x.errors} failed)` : ''}`;
      };
      L.push(`| ${f.label} | ${cell(faults.pass)} | ${cell(faults.refuse)} | ${cell(faults.hang)} |`);
    }
  }

  // A run of the Chromium section alone (`--only=chromium`) has no Node tables to show.
  if (rows.length === 0 && fb.length === 0) L.splice(nodeSections);

  // 6. Chromium.
  const cr = chromiumRows(r);
  const crCfg = (m.config as { chromium?: { sockets: number; rate: number; warmMs: number; measureMs: number } }).chromium;
  const crRuns = Math.max(0, ...[...cr.values()].map((x) => x.runs ?? 1));
  const runs = crRuns <= 1 ? 'one run.' : `${crRuns} runs per row, interleaved (every row, then every row again), each figure their median (the p99 column lists every run's).`;
  const inf = (v: number | null | undefined): number => (v === null ? Number.POSITIVE_INFINITY : (v ?? NaN));
  const crCost = (what: 'p50' | 'p99' | 'serverUsPerEcho') => (k: Kind): number | undefined => cr.get(k)?.[what];
  /** The best peer of `kind`'s class in Chromium; one that lost messages counts, as infinitely slow. */
  const crBest = (kind: Kind, what: 'p50' | 'p99' | 'serverUsPerEcho'): { best?: number; bestLabel?: string } => {
    const peers = KINDS.filter((x) => x.family === 'peer' && x.cls === info(kind).cls && cr.has(x.kind))
      .map((x) => ({ x, v: cr.get(x.kind)![what] }))
      .filter((p) => !Number.isNaN(p.v))
      .sort((a, b) => a.v - b.v);
    return { best: peers[0]?.v, bestLabel: peers[0]?.x.label };
  };
  if (cr.size || BROWSER_ROWS.some((b) => r.chromium?.[b.kind])) {
    L.push('', `## In Chromium: ${crCfg?.sockets ?? '?'} sockets in one page, ${crCfg?.rate ?? '?'} msg/s total, paced`, '');
    L.push(
      `Each library's browser build (Burrow's client/dist/burrow.global.js, sockjs-client's and socket.io-client's minified builds) forced onto one transport, in headless Chromium pinned to the load core, launched directly with no automation attached (the page runs the job and reports over HTTP); one socket per iframe of one page, each frame on its own host name mapped to 127.0.0.1, so each socket has its own HTTP/1.1 connection pool (Chromium allows 6 per host; N streaming or polling sockets on one host would starve). Open loop as above: message *i* due at t0 + i/rate on socket i mod N, timed in the page from when it was due; ${crCfg ? `${crCfg.warmMs} ms warm-up, then ${crCfg.measureMs} ms measured` : ''}, ${runs} Server µs / echo: the server's CPU over the window ÷ echoes. Chromium CPU: all its processes, % of one core over the window (in brackets, its renderer / network service / browser process). "send lag" is how late the page's own timers sent (p99): on a busy machine it is the floor under every latency; "from the send" times each echo from when it actually left, without that lateness. Ratios against the best Socket.IO/SockJS row of the same transport class.`,
      '',
    );
    L.push('| client (transport) | p50 ms | p99 ms | × best peer (p50) | × best peer (p99) | from the send: p50 / p99 ms | server µs / echo | × best peer | HTTP requests / new connections per echo | lost | send lag p99 ms | Chromium CPU | server CPU |');
    L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const b of BROWSER_ROWS) {
      const k = info(b.kind);
      const raw = r.chromium?.[b.kind];
      if (!raw) continue;
      const x = cr.get(b.kind);
      if (!x) {
        L.push(`| ${name(k)} | failed: ${String(raw.error ?? '?').replace(/\|/g, '/').slice(0, 160)} | | | | | | | | | | | |`);
        continue;
      }
      const bp50 = refs(sum, k, crCost('p50')).best;
      const bp99 = refs(sum, k, crCost('p99')).best;
      const bus = refs(sum, k, crCost('serverUsPerEcho')).best;
      const open = x.opened < x.sockets ? ` (${x.opened}/${x.sockets} opened)` : '';
      L.push(
        `| ${name(k)}${open} | ${fmt(x.p50)} | ${fmt(x.p99)}${x.p99s && x.p99s.length > 1 ? ` (${x.p99s.map((q) => fmt(q)).join(', ')})` : ''} | ${ratio(x.p50, bp50)} | ${ratio(x.p99, bp99)} | ${fmt(inf(x.fromSendP50))} / ${fmt(inf(x.fromSendP99))} | ${fmt(x.serverUsPerEcho)} | ${ratio(x.serverUsPerEcho, bus)} | ${x.requestsPerEcho === undefined ? '–' : `${fmt(x.requestsPerEcho)} / ${fmt(x.connectionsPerEcho ?? NaN)}`} | ${x.lost}/${x.sent} | ${fmt(x.sendLagP99)} | ${fmt(x.browserCpuPct, 0)} %${byKind(x)} | ${fmt(x.serverCpuPct, 0)} % |`,
      );
    }
  }

  // 7. Targets and where Burrow loses.
  const v = (k: Kind) => sum.get(k);
  const target = (what: string, x: number | undefined, ref: number | undefined, limit: number, unit = '×'): string => {
    if (x === undefined || ref === undefined || Number.isNaN(x) || Number.isNaN(ref)) return `| ${what} | – | ≤ ${limit}${unit} | not measured |`;
    const q = unit === '×' ? x / ref : x;
    return `| ${what} | ${unit === '×' ? `${q.toFixed(2)}×` : `${fmt(q, 1)} KB`} | ≤ ${limit}${unit === '×' ? '×' : ' KB'} | ${q <= limit ? 'met' : '**missed**'} |`;
  };
  L.push('', '## Targets', '');
  L.push('| target | measured | goal | |');
  L.push('| --- | --- | --- | --- |');
  L.push(target('WebSocket server CPU per message vs raw ws', v('burrow-ws')?.sat.med, v('ws')?.sat.med, 1.15));
  L.push(target('SSE server CPU per message vs raw SSE+POST', v('burrow-sse')?.sat.med, v('http-sse')?.sat.med, 1.2));
  L.push(target('polling server CPU per message vs raw long-poll', v('burrow-polling')?.sat.med, v('http-poll')?.sat.med, 1.3));
  for (const [kind, what] of [['burrow-sse', 'SSE'], ['burrow-polling', 'polling']] as const) {
    for (const q of ['p50', 'p99'] as const) {
      if (!cr.has(kind)) continue;
      const { best, bestLabel } = crBest(kind, q);
      const mine = cr.get(kind)![q];
      const label = `Chromium ${what} ${q} vs the best peer (${bestLabel ?? 'none ran'})`;
      if (best === undefined) L.push(`| ${label} | ${fmt(mine)} ms | ≤ 1× | not measured |`);
      else {
        // Lost messages make a figure infinite: no worse only when Burrow lost none where the peer lost some.
        const met = Number.isFinite(mine) && mine <= best;
        const note = met && !Number.isFinite(best) ? ' (the peer lost messages)' : '';
        L.push(`| ${label} | ${fmt(mine)} vs ${fmt(best)} ms (${ratio(mine, best)}) | ≤ 1× | ${met ? 'met' : '**missed**'}${note} |`);
      }
    }
  }
  const memN = Math.max(...[...(v('burrow-ws')?.mem.keys() ?? [])]);
  L.push(target(`idle WebSocket session RSS (N = ${Number.isFinite(memN) ? memN : '–'})`, v('burrow-ws')?.mem.get(memN), 1, 12, 'KB'));

  const losses: string[] = [];
  for (const k of rows.filter((x) => x.family === 'burrow')) {
    const s = sum.get(k.kind)!;
    const check = (what: string, mine: number | undefined, cost: (kk: Kind) => number | undefined) => {
      const { best, bestLabel } = refs(sum, k, cost);
      if (mine !== undefined && best !== undefined && Number.isFinite(mine) && mine > best * 1.05) losses.push(`- ${k.label}: ${what} ${(mine / best).toFixed(2)}× ${bestLabel}`);
    };
    check('server CPU per echo', s.sat.med, satCost);
    for (const n of latNs) check(`p99 latency @ ${n}`, s.lat.get(n)?.p99.med, (kk) => sum.get(kk)?.lat.get(n)?.p99.med);
    check('broadcast cost', bcastCost(k.kind), bcastCost);
    check('lock-step broadcast server CPU / msg', stepCost(k.kind), stepCost);
    for (const n of memNs) check(`idle RSS @ ${n}`, s.mem.get(n), (kk) => sum.get(kk)?.mem.get(n));
    check('time to open', s.open.med, (kk) => sum.get(kk)?.open.med);
  }
  for (const b of BROWSER_ROWS.filter((x) => info(x.kind).family === 'burrow' && cr.has(x.kind))) {
    const k = info(b.kind);
    for (const [what, key] of [['p50', 'p50'], ['p99', 'p99'], ['server CPU per echo', 'serverUsPerEcho']] as const) {
      const { best, bestLabel } = crBest(b.kind, key);
      const mine = cr.get(b.kind)![key];
      if (best !== undefined && Number.isFinite(best) && (!Number.isFinite(mine) || mine > best * 1.05)) {
        losses.push(`- ${k.label}: in Chromium, ${what} ${Number.isFinite(mine) ? `${(mine / best).toFixed(2)}×` : 'lost messages vs'} ${bestLabel}`);
      }
    }
  }
  L.push('', '## Where Burrow is slower than the best peer (> 5 %)', '');
  L.push(losses.length ? losses.join('\n') : '- nowhere in this run');
  L.push('', 'Why, and what it would take: see bench/README.md, "Where Burrow loses and why".', '');

  return { markdown: `${L.join('\n')}\n`, svg: chart(sum, r) };
}

/** Two panels of horizontal bars (median, with min–max whiskers): CPU per echo and idle KB. */
function chart(sum: Summary, r: Results): string {
  const rows = KINDS.filter((k) => sum.has(k.kind));
  const color = { floor: '#8a8f98', burrow: '#e07b20', peer: '#3b74c4' } as const;
  const W = 900;
  const labelW = 230;
  const barW = W - labelW - 90;
  const rowH = 22;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="10" y="20" font-size="15" font-weight="bold">Burrow vs peers — ${esc(r.meta.date.slice(0, 10))}, ${esc(r.meta.machine.nproc)} cores, node ${esc(r.meta.machine.node)} (${esc(r.meta.mode)})</text>`);
  const panel = (title: string, get: (k: Kind) => { med: number; min: number; max: number } | undefined, unit: string): void => {
    y += 18;
    parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${esc(title)}</text>`);
    y += 8;
    const vals = rows.map((k) => get(k.kind)).filter((a): a is { med: number; min: number; max: number } => !!a && Number.isFinite(a.med));
    const max = Math.max(1e-9, ...vals.map((a) => (Number.isFinite(a.max) ? a.max : a.med)));
    for (const k of rows) {
      const a = get(k.kind);
      if (!a || !Number.isFinite(a.med)) continue;
      const w = (a.med / max) * barW;
      parts.push(`<text x="${labelW - 6}" y="${y + 15}" font-size="12" text-anchor="end">${esc(k.label)}</text>`);
      parts.push(`<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${color[k.family]}"/>`);
      if (Number.isFinite(a.min) && Number.isFinite(a.max) && a.max > a.min) {
        const x1 = labelW + (a.min / max) * barW;
        const x2 = labelW + (a.max / max) * barW;
        parts.push(`<line x1="${x1.toFixed(1)}" x2="${x2.toFixed(1)}" y1="${y + 11}" y2="${y + 11}" stroke="#222" stroke-width="1.5"/>`);
      }
      parts.push(`<text x="${(labelW + Math.max(w, Number.isFinite(a.max) ? (a.max / max) * barW : w) + 6).toFixed(1)}" y="${y + 15}" font-size="11">${fmt(a.med)} ${unit}</text>`);
      y += rowH;
    }
  };
  panel('Server CPU per echo at saturation (µs, lower is better)', (k) => sum.get(k)?.sat, 'µs');
  const memN = Math.max(...rows.flatMap((k) => [...(sum.get(k.kind)?.mem.keys() ?? [])]));
  panel(`Idle session RSS at N = ${memN} (KB, lower is better)`, (k) => {
    const x = sum.get(k)?.mem.get(memN);
    return x === undefined ? undefined : { med: x, min: x, max: x };
  }, 'KB');
  y += 10;
  const legend = (['floor', 'burrow', 'peer'] as const).map((f, i) => `<rect x="${10 + i * 110}" y="${y}" width="12" height="12" fill="${color[f]}"/><text x="${26 + i * 110}" y="${y + 11}" font-size="12">${f}</text>`);
  parts.push(...legend);
  y += 24;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, ''))) {
  const file = process.argv[2] ?? 'bench/results/latest.json';
  const res = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const { markdown, svg } = render(res);
  writeFileSync(file.replace(/\.json$/, '.md'), markdown);
  writeFileSync(file.replace(/\.json$/, '.svg'), svg);
  process.stdout.write(markdown);
}
void info;
