/**
 * The Chromium paced run's driver: `node --import tsx bench/peers/browser.ts`, started by the runner
 * (run.ts) pinned to core 1, so Chromium and every process it forks are on core 1 too, as the Node load
 * process is; the servers stay on core 0. It starts its collector (collector.ts), prints
 * `{"ready":true}`, then reads one job per stdin line (a server the runner started). Per job it prints
 * `{"opened":n}` once the sockets are open, waits for a `go` line (the runner starts the next row's
 * server meanwhile, so that start stays out of the measured window), runs, and prints one JSON result
 * line. It exits when stdin ends.
 *
 * Per job: a fresh headless Chromium (chromium.ts), with no automation attached, opens
 * /bench-page/top.html from the server under test. That page (browser-top.js) holds N iframes, each on
 * its own host name (s<j>.bench.test, mapped to 127.0.0.1) and each opening one socket of that library
 * forced onto one transport (browser-frame.js), and runs the job itself, reporting to the collector
 * over HTTP. One page, N sockets; the host per frame keeps Chromium's 6-connections-per-host limit of
 * HTTP/1.1 per socket, as if each socket were a page on its own site: with all N on one host, the SSE
 * streams and held polls would take the 6 connections and the rest of the sessions (and every POST)
 * would wait forever. The browser's process group is killed at the end of the job.
 *
 * Open loop: message i is due at t0 + i / rate on socket i mod N and its latency is timed from when
 * it was due. Warm-up first; then the measured window, over which the server's CPU is read from its
 * control port and Chromium's (all its processes, by kind and by thread) from /proc; then a bounded
 * drain in the page.
 */
import { request, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { haveChromium } from '../../e2e/tests/fixtures/browser.js';
import { openPage } from './chromium.js';
import { startCollector, type Collector } from './collector.js';
import { descendantsCpu, pctDiff } from './proc-cpu.js';
import type { BrowserLib } from './kinds.js';

export interface BrowserJob {
  kind: string;
  lib: BrowserLib;
  transport: string;
  port: number;
  ctl: number;
  sockets: number;
  rate: number;
  warmMs: number;
  measureMs: number;
  drainMs: number;
}

export interface BrowserResult {
  kind: string;
  sockets: number;
  opened: number;
  transports: string[];
  /** From adding the frames to every socket open (or failed), ms. */
  openMs: number;
  /** Wall time of each phase of the job, ms: context + top page, frames + opens, run, drain, collect. */
  phases: Record<string, number>;
  rate: number;
  measureMs: number;
  sent: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
  /** The fastest echoes: a fixed delay on the path shows here even when the machine is busy. */
  min: number;
  p10: number;
  /** p50 / p99 timed from the send instead of from when it was due (the page's lateness left out). */
  fromSendP50: number;
  fromSendP99: number;
  /** How late the page itself sent, ms after due (its timers): p99 and max over the window. */
  sendLagP50: number;
  sendLagP99: number;
  sendLagMax: number;
  serverUsPerEcho: number;
  /** HTTP requests the server was sent per echo in the window (0 on WebSocket): Chromium's largest cost per echo. */
  requestsPerEcho?: number;
  /** TCP connections accepted per echo in the window: above 0, a client or server is not keeping them alive. */
  connectionsPerEcho?: number;
  serverCpuPct: number;
  /** Chromium's processes together, % of one core over the window. */
  browserCpuPct: number;
  /** The same by kind of process (browser, renderer, network, ...), and by thread (≥ 2 %). */
  browserCpuBy: Record<string, number>;
  browserThreads: Record<string, number>;
  /** This driver's own CPU over the window, % of one core (the collector; CDP's too via Playwright). */
  driverCpuPct: number;
  /** Sockets that closed during the run, and the page's uncaught errors. */
  closed: number;
  errors: string[];
}

const DOMAIN = 'bench.test';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ctlGet<T>(ctl: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ctl, path, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('error', reject);
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`ctl ${path} timed out`)));
    req.end();
  });
}

/** stdin, one line at a time: jobs, and the `go` of each. */
const input: string[] = [];
let inputEnded = false;
let inputWake: (() => void) | undefined;
const rl = createInterface({ input: process.stdin });
rl.on('line', (l) => {
  if (l.trim()) input.push(l.trim());
  inputWake?.();
});
rl.on('close', () => {
  inputEnded = true;
  inputWake?.();
});
/** The next stdin line; undefined when stdin ended or after `ms`. */
async function nextLine(ms: number): Promise<string | undefined> {
  const until = Date.now() + ms;
  while (input.length === 0 && !inputEnded && Date.now() < until) {
    await new Promise<void>((r) => {
      const t = setTimeout(r, Math.max(1, until - Date.now()));
      inputWake = () => {
        clearTimeout(t);
        r();
      };
    });
    inputWake = undefined;
  }
  return input.shift();
}
const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface FrameState {
  state: string;
  error: string;
  transport: string;
  closes: number;
  openMs: number;
}

async function runJob(collector: Collector, job: BrowserJob): Promise<BrowserResult> {
  const tJob = Date.now();
  const phases: Record<string, number> = {};
  let tPhase = tJob;
  const phase = (name: string): void => {
    const now = Date.now();
    phases[name] = now - tPhase;
    tPhase = now;
  };
  const id = randomUUID();
  const channel = collector.expect(id);
  const url =
    `http://top.${DOMAIN}:${job.port}/bench-page/top.html?c=${encodeURIComponent(collector.origin)}&id=${id}` +
    `&lib=${job.lib}&t=${encodeURIComponent(job.transport)}&n=${job.sockets}`;
  const browser = await openPage(url, DOMAIN);
  try {
    // The page adds the frames and reports once every socket opened or failed (it waits 30 s at most).
    const { body, answer } = await channel.opened(55_000).catch((err: Error) => {
      throw new Error(`${err.message}${browser.exited() ? ' (Chromium exited)' : ''}${browser.stderrTail() ? `: ${browser.stderrTail().slice(-300)}` : ''}`);
    });
    const report = body as { states: Array<FrameState | null>; openMs: number; pageAt: number; errors: string[] };
    const st = report.states;
    const errors = [...report.errors];
    const openMs = report.openMs;
    // Launch until the page's navigation started, then page + frames + opens.
    phases.launch = Math.round(report.pageAt - tJob);
    tPhase = report.pageAt;
    phase('open');
    if (process.env.BENCH_DEBUG) process.stderr.write(`${JSON.stringify(st.map((s) => [s?.state, Math.round(s?.openMs ?? -1), s?.error]))}\n`);
    const opened = st.filter((s) => s?.state === 'open').length;
    const failures = st.filter((s) => s?.state !== 'open').map((s) => s?.error || s?.state || 'no frame');
    if (opened === 0) throw new Error(`no socket opened: ${[...new Set(failures)].slice(0, 3).join('; ')}`);
    for (const e of new Set(failures)) if (errors.length < 5) errors.push(`open: ${e}`);
    out({ opened });
    const go = await nextLine(60_000);
    if (go !== 'go') throw new Error(`expected "go" from the runner, got ${go === undefined ? 'nothing' : JSON.stringify(go.slice(0, 80))}`);
    phase('go');

    const total = Math.max(1, Math.round((job.rate * (job.warmMs + job.measureMs)) / 1000));
    const first = Math.round((job.rate * job.warmMs) / 1000);
    const t0 = Date.now() + 300;
    answer({ t0, rate: job.rate, total, drainMs: job.drainMs });
    await sleep(Math.max(0, t0 + job.warmMs - Date.now()));
    const s0 = await ctlGet<{ cpuUs: number; requests: number; connections: number }>(job.ctl, '/stats');
    const b0 = descendantsCpu();
    const d0 = process.cpuUsage();
    const w0 = Date.now();
    await sleep(Math.max(0, t0 + job.warmMs + job.measureMs - Date.now()));
    const s1 = await ctlGet<{ cpuUs: number; requests: number; connections: number }>(job.ctl, '/stats');
    const b1 = descendantsCpu();
    const d1 = process.cpuUsage(d0);
    const wallMs = Date.now() - w0;
    phase('run');
    // The page drains (until every echo is back, or drainMs after the last was due) and collects.
    const res = (await channel.result(job.drainMs + 20_000)) as {
      got?: Array<{ lat: Record<number, number>; lag: Record<number, number>; closed: number } | null>;
      error?: string;
      errors: string[];
    };
    if (res.error) throw new Error(`page: ${res.error}`);
    for (const e of res.errors) if (errors.length < 5 && !errors.includes(e)) errors.push(e);
    const got = res.got ?? [];
    phase('drain');
    const lat: number[] = [];
    const lag: number[] = [];
    /** From the send itself to the echo: the transport's share, without the page's lateness in sending. */
    const net: number[] = [];
    let lost = 0;
    let closed = 0;
    for (let i = first; i < total; i++) {
      const r = got[i % job.sockets];
      const l = r?.lat[i];
      const g = r?.lag[i];
      if (g !== undefined) lag.push(g);
      if (l === undefined) lost++;
      else {
        lat.push(l);
        net.push(l - (g ?? 0));
      }
    }
    for (const r of got) closed += r?.closed ?? 0;
    lat.sort((a, b) => a - b);
    lag.sort((a, b) => a - b);
    net.sort((a, b) => a - b);
    const inf = Array<number>(lost).fill(Number.POSITIVE_INFINITY);
    const all = [...lat, ...inf];
    const allNet = [...net, ...inf];
    const serverUs = s1.cpuUs - s0.cpuUs;
    const inWindow = total - first;
    return {
      kind: job.kind,
      sockets: job.sockets,
      opened,
      transports: [...new Set(st.map((s) => s?.transport).filter((t): t is string => !!t))],
      openMs,
      phases,
      rate: job.rate,
      measureMs: job.measureMs,
      sent: inWindow,
      lost,
      p50: quantile(all, 0.5),
      p99: quantile(all, 0.99),
      max: lat.at(-1) ?? NaN,
      min: lat[0] ?? NaN,
      p10: quantile(all, 0.1),
      fromSendP50: quantile(allNet, 0.5),
      fromSendP99: quantile(allNet, 0.99),
      sendLagP50: quantile(lag, 0.5),
      sendLagP99: quantile(lag, 0.99),
      sendLagMax: lag.at(-1) ?? NaN,
      serverUsPerEcho: serverUs / Math.max(1, inWindow - lost),
      requestsPerEcho: (s1.requests - s0.requests) / Math.max(1, inWindow - lost),
      connectionsPerEcho: (s1.connections - s0.connections) / Math.max(1, inWindow - lost),
      serverCpuPct: (serverUs / 1000 / wallMs) * 100,
      browserCpuPct: ((b1.total - b0.total) / wallMs) * 100,
      browserCpuBy: pctDiff(b0.byKind, b1.byKind, wallMs),
      browserThreads: pctDiff(b0.byThread, b1.byThread, wallMs, 2),
      driverCpuPct: ((d1.user + d1.system) / 1000 / wallMs) * 100,
      closed,
      errors,
    };
  } finally {
    channel.end();
    await browser.stop();
  }
}

async function main(): Promise<void> {
  if (!haveChromium()) {
    out({ error: 'no Chromium at /usr/bin/chromium (or CHROMIUM_PATH)' });
    return;
  }
  const collector = await startCollector();
  try {
    out({ ready: true });
    // Bounded: the runner sends one job per row and then ends stdin.
    for (let n = 0; n < 1000; n++) {
      const line = await nextLine(600_000);
      if (line === undefined) break;
      if (line === 'go') continue;
      const job = JSON.parse(line) as BrowserJob;
      try {
        out(await runJob(collector, job));
      } catch (err) {
        out({ kind: job.kind, error: String((err as Error)?.message ?? err).slice(0, 500) });
      }
    }
  } finally {
    await collector.close();
  }
}

// A lost runner cannot leave us (and Chromium) behind for long.
const hardStop = setTimeout(() => process.exit(2), 600_000);
hardStop.unref();
process.stdin.on('error', () => {});
process.stdout.on('error', () => process.exit(1));
// exit handlers (chromium.ts) then end the browser's process group.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => process.exit(143));
await main();
process.exit(0);
