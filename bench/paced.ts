/**
 * The paced-latency step of `npm run bench` alone, for A/Bs of its tail without the whole suite:
 * `node --import tsx bench/paced.ts [kinds] [rounds] [sessions]`, e.g.
 * `node --import tsx bench/paced.ts burrow-sse,sockjs-xhr-streaming 3 100,1000`.
 * Same servers, load process, pinning and job as the suite (bench/peers); kinds alternate per round.
 * Prints one line per run: p50 / p99 / p99.9 ms, HTTP requests and server µs per echo, client CPU.
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const kinds = (process.argv[2] ?? 'burrow-sse,sockjs-xhr-streaming').split(',');
const rounds = Number(process.argv[3] ?? 3);
const sessions = (process.argv[4] ?? '1000').split(',').map(Number);
const pin = cpus().length >= 2;

function node(core: number, args: string[]) {
  const full = ['--import', 'tsx', ...args];
  return pin ? spawn('taskset', ['-c', String(core), process.execPath, ...full], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] }) : spawn(process.execPath, full, { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
}

type Lat = { sessions: number; p50: number; p99: number; p999: number; lost: number; requestsPerEcho: number; connectionsPerEcho: number; serverUsPerEcho: number; clientCpuPct: number };

for (let r = 0; r < rounds; r++) {
  for (const kind of r % 2 ? [...kinds].reverse() : kinds) {
    const sprof = process.env.PACED_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PACED_PROF}/${kind}-server-r${r + 1}`] : [];
    // PACED_SERVER_FLAGS: extra node flags for the server (e.g. --trace-gc: its major GCs are shown).
    const sflags = process.env.PACED_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [];
    const server = node(0, ['--expose-gc', ...sflags, ...sprof, 'bench/peers/servers.ts', kind]);
    server.on('error', () => {});
    const lines = createInterface({ input: server.stdout });
    const first = await new Promise<string>((resolve) =>
      lines.on('line', (l) => {
        if (l.startsWith('{')) resolve(l);
        else if (/Mark-Compact|Mark-sweep/i.test(l)) console.log(`  ${kind} server: ${l.trim()}`);
      }),
    );
    const { port, ctl } = JSON.parse(first) as { port: number; ctl: number };
    // PACED_PROF=dir: CPU profiles of the load process and the server, one pair per run.
    const prof = process.env.PACED_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PACED_PROF}/${kind}-load-r${r + 1}`] : [];
    // PACED_LOAD_FLAGS: extra node flags for the load process (e.g. --trace-gc).
    const flags = process.env.PACED_LOAD_FLAGS?.split(' ').filter(Boolean) ?? [];
    const load = node(1, [...flags, ...prof, 'bench/peers/load.ts', JSON.stringify({ mode: 'paced', kind, port, ctl, latRate: 1000, latMs: 2000, latSessions: sessions })]);
    load.on('error', () => {});
    load.stdin.end();
    let out = '';
    load.stdout.on('data', (c: Buffer) => (out += c));
    await new Promise((res) => load.once('exit', res));
    server.kill('SIGTERM');
    await new Promise((res) => server.once('exit', res));
    // --trace-gc and the like print on stdout: the major GCs are shown, the result is the last JSON line.
    for (const l of out.split('\n')) if (/Mark-Compact|Mark-sweep/i.test(l)) console.log(`  ${kind}: ${l.trim()}`);
    const last = out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '';
    try {
      for (const l of (JSON.parse(last) as { latency: Lat[] }).latency) {
        const f = (x: number) => x.toFixed(2);
        console.log(`round ${r + 1} ${kind.padEnd(22)} N=${l.sessions} p50 ${f(l.p50)} p99 ${f(l.p99)} p99.9 ${f(l.p999)} lost ${l.lost} req/echo ${f(l.requestsPerEcho)} conn/echo ${f(l.connectionsPerEcho)} server µs/echo ${l.serverUsPerEcho.toFixed(0)} client ${l.clientCpuPct.toFixed(0)} %`);
      }
    } catch {
      console.log(`round ${r + 1} ${kind}: no result (${out.slice(-200)})`);
    }
  }
}
