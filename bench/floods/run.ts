/**
 * Floods of each hostile input of issue 10 while an unrelated WebSocket session echoes a message every
 * 10 ms: prints that session's echo latency (p50 / p99 / max) and the server's RSS per flood. The
 * server, the flood and this process each run in their own process (pinned to cores with taskset when
 * it exists). Loopback only; every flood stops by itself.
 *
 *   npm run bench:floods              (SECONDS=4 per flood)
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const SECONDS = Number(process.env.SECONDS ?? 4);
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();
const node = ['--conditions=burrow-src', '--import', 'tsx'];

const server = fork(here('./server.ts'), [], { execArgv: node });
server.on('error', () => {});
const [{ port }] = (await once(server, 'message')) as [{ port: number }];
if (hasTaskset) execFileSync('taskset', ['-a', '-p', '-c', '0', String(server.pid)], { stdio: 'ignore' });

interface Stats {
  rss: number;
  sessions: number;
  errors: number;
  cpuMs: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

async function stats(): Promise<Stats> {
  const reply = once(server, 'message') as Promise<[Stats]>;
  server.send({ cmd: 'stats' });
  return (await reply)[0];
}

/** The unrelated session: one echo every 10 ms, latency of each. */
async function canary(ms: number): Promise<number[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/burrow/ws`);
  ws.on('error', () => {});
  const [first] = (await once(ws, 'message')) as [Buffer];
  if (!first.toString().startsWith('{"t":"open"')) throw new Error('no open frame');
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  ws.on('message', (d: Buffer, isBinary: boolean) => {
    const s = d.toString();
    if (isBinary || s.startsWith('{')) return;
    const colon = s.indexOf(':');
    const seq = Number(s.slice(0, colon));
    const n = Number(s.slice(colon + 1));
    const t0 = sentAt.get(n);
    if (t0 !== undefined) rtts.push(performance.now() - t0);
    ws.send(JSON.stringify({ t: 'ack', ack: seq }));
  });
  const end = Date.now() + ms;
  for (let n = 1; Date.now() < end; n++) {
    sentAt.set(n, performance.now());
    ws.send(`${n}:${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  ws.close();
  return rtts;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

const floods = ['none', 'hostile frames on accept-then-close', 'handshakes ws refuses (orphan class)', '8 MiB POSTs to made-up ids', 'ping batches, SSE never read'];
const rows: string[] = [];
for (const flood of floods) {
  const before = await stats();
  let attacker: ChildProcess | undefined;
  let sent: Promise<number> = Promise.resolve(0);
  if (flood !== 'none') {
    const args = [...node, here('./attack.ts'), flood, String(port), String(SECONDS)];
    attacker = hasTaskset ? spawn('taskset', ['-c', '1', process.execPath, ...args]) : spawn(process.execPath, args);
    attacker.on('error', () => {});
    let out = '';
    attacker.stdout?.on('data', (c) => (out += c));
    sent = once(attacker, 'exit').then(() => (JSON.parse(out.trim().split('\n').pop() ?? '{"sent":0}') as { sent: number }).sent);
  }
  const rtts = await canary(SECONDS * 1000);
  const n = await sent;
  const after = await stats();
  rows.push(
    `| ${flood} | ${n} | ${rtts.length} | ${pct(rtts, 50).toFixed(2)} | ${pct(rtts, 99).toFixed(2)} | ${Math.max(...rtts).toFixed(1)} | ` +
      `${(((after.cpuMs - before.cpuMs) / (SECONDS * 1000)) * 100).toFixed(0)} % | ${after.loopP99Ms.toFixed(1)} / ${after.loopMaxMs.toFixed(1)} | ${(before.rss / 2 ** 20).toFixed(0)} → ${(after.rss / 2 ** 20).toFixed(0)} | ${after.errors - before.errors} |`,
  );
  console.error(rows[rows.length - 1]);
}
server.kill();
console.log(`\nFloods of issue 10, ${SECONDS} s each, ${new Date().toISOString().slice(0, 10)}, node ${process.version}${hasTaskset ? ', server on core 0, flood on core 1' : ''}\n`);
console.log('| flood | hostile inputs sent | canary echoes | p50 ms | p99 ms | max ms | server CPU | server event-loop delay p99 / max ms | server RSS MiB | error events |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
