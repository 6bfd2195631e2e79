/**
 * The load process: `node --import tsx bench/peers/load.ts '<json job>'`.
 * Drives one server (started by the runner in another process, on another core) through the phases of
 * a job and prints one JSON line of results. Every loop is bounded in count and in time.
 *
 * Server CPU comes from the server's own `process.cpuUsage()` read over its control port before and
 * after each measured window; the load process reports its own CPU for the same window, so a run where
 * the client is the bottleneck shows (client CPU near 100 %).
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { openConn, openDefault, type Conn } from './clients.js';
import type { FallbackLib, Kind } from './kinds.js';

export type Job =
  | {
      mode: 'suite';
      kind: Kind;
      port: number;
      ctl: number;
      opens: number;
      satSessions: number;
      satWindow: number;
      satWarmMs: number;
      satMs: number;
      latRate: number;
      latMs: number;
      latSessions: number[];
      bcastSessions: number;
      bcastRounds: number;
      /** Set: the server profiles the broadcast window into this file (`--server-prof=bcast`). */
      bcastProfile?: string;
    }
  /** `snapshots`: a path prefix; the server writes heap snapshots `<prefix>-before/after.heapsnapshot` (BENCH_SNAPSHOTS=1). */
  | { mode: 'memory'; kind: Kind; port: number; ctl: number; n: number; snapshots?: string }
  /** The paced step alone (bench/paced.ts): for A/Bs of the latency figures without the whole suite. */
  | { mode: 'paced'; kind: Kind; port: number; ctl: number; latRate: number; latMs: number; latSessions: number[] }
  | { mode: 'fallback'; lib: FallbackLib; port: number; runs: number; faults: Array<'pass' | 'refuse' | 'hang'> };

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const PAYLOAD = 64;
/** Sessions open before the memory step's baseline (see there). */
const MEMORY_WARM = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pad = (s: string): string => s.padEnd(PAYLOAD, '.');

/** GET on the control port, over a fresh connection (never the pools the clients under test use). */
function ctlGet<T>(ctl: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ctl, path, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as T));
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`ctl ${path} timed out`)));
    req.end();
  });
}

interface Stats {
  cpuUs: number;
  rss: number;
  sessions: number;
  /** HTTP requests the server has served so far. */
  requests: number;
  /** TCP connections the server has accepted so far. */
  connections: number;
}

/** A measured window: server CPU, client CPU and wall time between start() and stop(). */
async function window(ctl: number): Promise<() => Promise<{ serverUs: number; clientUs: number; wallMs: number; requests: number; connections: number }>> {
  const s0 = await ctlGet<Stats>(ctl, '/stats');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return async () => {
    const wallMs = performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    const s1 = await ctlGet<Stats>(ctl, '/stats');
    return { serverUs: s1.cpuUs - s0.cpuUs, clientUs: c1.user + c1.system, wallMs, requests: s1.requests - s0.requests, connections: s1.connections - s0.connections };
  };
}

/** A pool of sessions whose incoming messages go to a swappable handler: (session index, text). */
class Pool {
  conns: Conn[] = [];
  handler: (i: number, s: string) => void = () => {};
  failures = 0;

  constructor(
    readonly kind: Kind,
    readonly port: number,
  ) {}

  /** Opens sessions until there are `n`, `batch` at a time, within `deadlineMs`. */
  async grow(n: number, batch: number, deadlineMs: number): Promise<void> {
    const end = performance.now() + deadlineMs;
    while (this.conns.length < n && performance.now() < end && this.failures < 50) {
      const want = Math.min(batch, n - this.conns.length);
      const base = this.conns.length;
      const opened = await Promise.allSettled(
        Array.from({ length: want }, (_, j) => openConn(this.kind, this.port, (s) => this.handler(base + j, s))),
      );
      // Keep indices dense: a failed open leaves a hole we fill with a dead conn and count.
      for (const r of opened) {
        if (r.status === 'fulfilled') this.conns.push(r.value);
        else {
          this.failures++;
          this.conns.push({ send: () => {}, close: () => {}, transport: () => 'failed' });
        }
      }
    }
  }

  closeAll(): void {
    for (const c of this.conns) {
      try {
        c.close();
      } catch {
        /* already gone */
      }
    }
    this.conns = [];
  }
}

function quantile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

async function timeToOpen(kind: Kind, port: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await openConn(kind, port, () => {});
    out.push(performance.now() - t0);
    c.close();
    await sleep(10);
  }
  return out;
}

/** Closed loop: every session keeps `inFlight` 64 B messages in flight; measures a window after a warm-up. */
async function saturate(pool: Pool, ctl: number, n: number, inFlight: number, warmMs: number, ms: number) {
  let count = 0;
  let running = true;
  const msg = pad('e');
  pool.handler = (i) => {
    count++;
    if (running && count < 2_000_000) pool.conns[i]!.send(msg);
  };
  for (let k = 0; k < inFlight; k++) for (let i = 0; i < n; i++) pool.conns[i]!.send(msg);
  await sleep(warmMs);
  const c0 = count;
  const stop = await window(ctl);
  await sleep(ms);
  const c1 = count;
  const w = await stop();
  running = false;
  await sleep(300);
  const echoes = c1 - c0;
  return {
    sessions: n,
    inFlight,
    echoes,
    echoesPerSec: (echoes / w.wallMs) * 1000,
    serverUsPerEcho: w.serverUs / Math.max(1, echoes),
    clientUsPerEcho: w.clientUs / Math.max(1, echoes),
    serverCpuPct: (w.serverUs / 1000 / w.wallMs) * 100,
    clientCpuPct: (w.clientUs / 1000 / w.wallMs) * 100,
    /**
     * HTTP requests the server answered per echo (0 on WebSocket): on SSE and polling the server's
     * cost per echo is mostly cost per request × this, and this is set by how many echoes each
     * library's client batches into one POST or poll at the rate the load process reaches.
     */
    requestsPerEcho: w.requests / Math.max(1, echoes),
  };
}

/**
 * Between opening sessions and a paced window: a full GC in the server (its control port's `/gc`) and
 * in this process. Opening 900 sessions leaves both heaps' young generations full of objects that
 * live on, and the scavenge that promotes them took 10-24 ms in either process; whether it fell
 * inside the 2 s window or just before it was chance (it decided a run's p99 for any library), and
 * a steady state with 1,000 sessions open is what the window is meant to time.
 */
async function settle(ctl: number): Promise<void> {
  await ctlGet(ctl, '/gc');
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(200);
}

/** Open loop at a fixed total rate over the first `n` sessions; latency from the *scheduled* send. */
async function paced(pool: Pool, ctl: number, n: number, rate: number, ms: number) {
  const total = Math.max(1, Math.round((rate * ms) / 1000));
  const lat = new Float64Array(total).fill(-1);
  const interval = 1000 / rate;
  let got = 0;
  let t0 = 0;
  pool.handler = (_i, s) => {
    if (s.charCodeAt(0) !== 108 /* l */) return;
    const id = Number.parseInt(s.slice(1), 10);
    if (id >= 0 && id < total && lat[id] === -1) {
      lat[id] = performance.now() - (t0 + id * interval);
      got++;
    }
  };
  const stop = await window(ctl);
  t0 = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) {
        pool.conns[next % n]!.send(pad(`l${next}.`));
        next++;
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const drainEnd = performance.now() + 3000;
  while (got < total && performance.now() < drainEnd) await sleep(5);
  const w = await stop();
  if (process.env.PACED_SLOW) {
    const idx = Array.from(lat.keys()).sort((a, b) => lat[b]! - lat[a]!).slice(0, Math.ceil(total / 50));
    process.stderr.write(`slowest: ${idx.sort((a, b) => a - b).map((i) => `${i}:${lat[i]!.toFixed(0)}`).join(' ')}\n`);
  }
  const received = Array.from(lat).filter((x) => x >= 0);
  received.sort((a, b) => a - b);
  const lost = total - received.length;
  // Anything not back by the end counts as slower than everything that was: p99.9 is honest.
  const all = [...received, ...Array<number>(lost).fill(Number.POSITIVE_INFINITY)];
  return {
    sessions: n,
    rate,
    sent: total,
    lost,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    p999: quantile(all, 0.999),
    max: received.at(-1) ?? NaN,
    serverUsPerEcho: w.serverUs / Math.max(1, received.length),
    /** HTTP requests the server answered per echo (0 on WebSocket): upstream POSTs, polls, ack-only POSTs. */
    requestsPerEcho: w.requests / Math.max(1, received.length),
    /** TCP connections the server accepted per echo: a client whose pool lets connections go pays a handshake. */
    connectionsPerEcho: w.connections / Math.max(1, received.length),
    clientCpuPct: (w.clientUs / 1000 / w.wallMs) * 100,
  };
}

/** The server sends `rounds` 64 B messages to every session; msgs/s until the last one arrives. */
async function broadcast(pool: Pool, ctl: number, rounds: number, profile?: string) {
  const n = pool.conns.length;
  const expected = n * rounds;
  let got = 0;
  let tLast = 0;
  pool.handler = (_i, s) => {
    if (s.charCodeAt(0) === 98 /* b */) {
      got++;
      tLast = performance.now();
    }
  };
  if (profile) await ctlGet(ctl, '/prof');
  const stop = await window(ctl);
  const t0 = performance.now();
  const sent = ctlGet(ctl, `/bcast?k=${rounds}`);
  const end = t0 + 20_000;
  while (got < expected && performance.now() < end) await sleep(2);
  await sent;
  const w = await stop();
  if (profile) await ctlGet(ctl, `/prof?stop=${encodeURIComponent(profile)}`);
  const ms = (got >= expected ? tLast : performance.now()) - t0;
  return {
    sessions: n,
    rounds,
    expected,
    received: got,
    msgsPerSec: (got / ms) * 1000,
    serverUsPerMsg: w.serverUs / Math.max(1, got),
    /** HTTP requests (polls, acks, sends) per delivered message: how batched the delivery was. */
    requestsPerMsg: w.requests / Math.max(1, got),
    clientCpuPct: (w.clientUs / 1000 / w.wallMs) * 100,
  };
}

/**
 * Lock-step broadcast: one round at a time, the next only once every session received the last. Each
 * message then reaches each session in a delivery of its own (one poll answer per message on
 * polling), whatever the client library's speed: in the burst above, a client that turns its polls
 * around faster gets fewer messages per poll, so its *server* pays more polls per message, and a
 * single load process for 1,000 sessions makes that turnaround the client library's CPU cost, not
 * the network's. Server CPU per message here compares the servers' fan-out at equal work.
 */
async function lockstep(pool: Pool, ctl: number, rounds: number, first: number) {
  const n = pool.conns.length;
  let got = 0;
  pool.handler = (_i, s) => {
    if (s.charCodeAt(0) === 98 /* b */) got++;
  };
  const stop = await window(ctl);
  const end = performance.now() + 20_000;
  for (let r = 0; r < rounds && performance.now() < end; r++) {
    await ctlGet(ctl, `/bcast?k=1&from=${first + r}`);
    while (got < n * (r + 1) && performance.now() < end) await sleep(1);
  }
  const w = await stop();
  return {
    sessions: n,
    rounds,
    expected: n * rounds,
    received: got,
    serverUsPerMsg: w.serverUs / Math.max(1, got),
    requestsPerMsg: w.requests / Math.max(1, got),
    clientCpuPct: (w.clientUs / 1000 / w.wallMs) * 100,
  };
}

/** A proxy in front of the server: passes HTTP through, and passes, refuses or black-holes upgrades. */
async function startProxy(target: number, fault: 'pass' | 'refuse' | 'hang') {
  const sockets = new Set<Socket>();
  const proxy = createServer((req, res) => {
    const up = request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  proxy.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (fault === 'refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (fault === 'hang') return; // held open, never answered
    const up = connect(target, '127.0.0.1', () => {
      let head0 = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) head0 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${head0}\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    port: (proxy.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => proxy.close(() => r()));
    },
  };
}

/** Starts a CPU profile here and in the server (its `/prof`); the returned function writes both. */
async function windowProfile(ctl: number, prefix: string): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const s = new Session();
  s.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => s.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await ctlGet(ctl, '/prof');
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    s.disconnect();
    writeFileSync(`${prefix}-load.cpuprofile`, JSON.stringify(profile));
    await ctlGet(ctl, `/prof?stop=${encodeURIComponent(`${prefix}-server.cpuprofile`)}`);
  };
}

async function main(): Promise<unknown> {
  if (job.mode === 'suite') {
    const { kind, port, ctl } = job;
    const opens = await timeToOpen(kind, port, job.opens);
    const pool = new Pool(kind, port);
    await pool.grow(job.satSessions, 50, 30_000);
    const sat = await saturate(pool, ctl, job.satSessions, job.satWindow, job.satWarmMs, job.satMs);
    const latency: unknown[] = [];
    for (const n of job.latSessions) {
      await pool.grow(n, 100, 60_000);
      await settle(ctl);
      latency.push(await paced(pool, ctl, n, job.latRate, job.latMs));
    }
    await pool.grow(job.bcastSessions, 100, 60_000);
    await sleep(200);
    // An unmeasured burst first: the first fan-out of a process compiles its code (on the server's
    // one core, in V8's background threads), which cost 2-4x the later ones in every library.
    let warm = 0;
    pool.handler = (_i, s) => void (s.charCodeAt(0) === 98 /* b */ && warm++);
    await ctlGet(ctl, `/bcast?k=5&from=9000`);
    const warmEnd = performance.now() + 10_000;
    while (warm < pool.conns.length * 5 && performance.now() < warmEnd) await sleep(5);
    await sleep(200);
    const bcast = await broadcast(pool, ctl, job.bcastRounds, job.bcastProfile);
    await sleep(200);
    const bcastStep = await lockstep(pool, ctl, job.bcastRounds, 5000);
    const transports = [...new Set(pool.conns.slice(0, 5).map((c) => c.transport()))];
    const failures = pool.failures;
    pool.closeAll();
    return { kind, opens, sat, latency, bcast, bcastStep, transports, openFailures: failures };
  }
  if (job.mode === 'paced') {
    const pool = new Pool(job.kind, job.port);
    const latency: unknown[] = [];
    // PACED_WINDOW_PROF=dir: CPU profiles of the last window alone, load process and server.
    const profDir = process.env.PACED_WINDOW_PROF;
    for (const n of job.latSessions) {
      await pool.grow(n, 100, 60_000);
      await settle(job.ctl);
      const prof = profDir && n === job.latSessions.at(-1) ? await windowProfile(job.ctl, `${profDir}/${job.kind}-N${n}`) : undefined;
      latency.push(await paced(pool, job.ctl, n, job.latRate, job.latMs));
      await prof?.();
    }
    pool.closeAll();
    return { kind: job.kind, latency };
  }
  if (job.mode === 'memory') {
    const { kind, port, ctl, n } = job;
    type Mem = { rss: number; sessions: number; heapUsed: number; heapTotal: number; external: number };
    const pool = new Pool(kind, port);
    // The baseline is taken with MEMORY_WARM sessions open: the first sessions of a process compile
    // its code and fill its pools (parsers, buffers), a few MB that do not scale with sessions and
    // that, divided by N = 1,000, were a third of some libraries' figure.
    await pool.grow(MEMORY_WARM, 100, 30_000);
    await sleep(1000);
    const before = await ctlGet<Mem>(ctl, '/gc');
    if (job.snapshots) await ctlGet(ctl, `/snap?file=${encodeURIComponent(`${job.snapshots}-before.heapsnapshot`)}`);
    const t0 = performance.now();
    await pool.grow(MEMORY_WARM + n, 200, 120_000);
    const openMs = performance.now() - t0;
    await sleep(1000);
    const after = await ctlGet<Mem>(ctl, '/gc');
    if (job.snapshots) await ctlGet(ctl, `/snap?file=${encodeURIComponent(`${job.snapshots}-after.heapsnapshot`)}`);
    const added = Math.max(1, after.sessions - before.sessions);
    const result = {
      kind,
      n,
      warm: MEMORY_WARM,
      opened: pool.conns.length - pool.failures,
      serverSessions: after.sessions,
      rssBefore: before.rss,
      rssAfter: after.rss,
      bytesPerSession: (after.rss - before.rss) / added,
      /** V8 heap in use after GC per added session: the objects alone, without page residency. */
      heapPerSession: (after.heapUsed - before.heapUsed) / added,
      /** V8 heap reserved (used or not) and memory outside it (Buffers, sockets' native parts), per session: where RSS moved. */
      heapTotalPerSession: (after.heapTotal - before.heapTotal) / added,
      externalPerSession: (after.external - before.external) / added,
      openMs,
    };
    return result;
  }
  const out: Record<string, { ms: number[]; transports: string[]; errors: number }> = {};
  for (const fault of job.faults) {
    const r = { ms: [] as number[], transports: [] as string[], errors: 0 };
    for (let i = 0; i < job.runs; i++) {
      const proxy = await startProxy(job.port, fault);
      const t0 = performance.now();
      try {
        const c = await openDefault(job.lib, proxy.port, () => {}, 12_000);
        r.ms.push(performance.now() - t0);
        r.transports.push(c.transport());
        c.close();
      } catch {
        r.errors++;
      }
      await proxy.close();
      await sleep(50);
    }
    out[fault] = r;
  }
  return { lib: job.lib, faults: out };
}

const hardStop = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: 'load process hit its time limit' })}\n`);
  process.exit(2);
}, 240_000);
hardStop.unref();
try {
  const result = (await main()) as Record<string, unknown>;
  const own = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ ...result, loadCpuUs: own.user + own.system })}\n`);
  process.exit(0);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: String((err as Error)?.stack ?? err) })}\n`);
  process.exit(1);
}
