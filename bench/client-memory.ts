/**
 * V8 heap per open connection on the client side (the Node load process), after GC:
 * `node --expose-gc --import tsx bench/client-memory.ts [kinds] [n]`, e.g.
 * `node --expose-gc --import tsx bench/client-memory.ts burrow-ws,sockjs-ws,ws 1000`.
 * Each kind's bench server (bench/peers/servers.ts) runs in a child process; the connections are the
 * bench's own client adapters (bench/peers/clients.ts), whose wrapper objects (~1 KB, the same for
 * every library) are counted too. `SNAP=dir` writes heap snapshots before and after for
 * bench/peers/snapdiff.ts-style comparisons. A 1,000-session load process's heap is what its major
 * GCs walk: the paced step's tail at 1,000 sessions.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { openConn } from './peers/clients.js';
import type { Kind } from './peers/kinds.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const kinds = (process.argv[2] ?? 'burrow-ws,sockjs-ws,ws').split(',') as Kind[];
const n = Number(process.argv[3] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const WARM = 50;

for (const kind of kinds) {
  // The server lives while its stdin is open (servers.ts): a pipe we end when done.
  const server = spawn(process.execPath, ['--import', 'tsx', 'bench/peers/servers.ts', kind], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  server.on('error', () => {});
  const first = await new Promise<string>((resolve) => createInterface({ input: server.stdout }).once('line', resolve));
  const { port } = JSON.parse(first) as { port: number };
  const conns: Array<{ close(): void }> = [];
  let failures = 0;
  const open = async (): Promise<void> => {
    try {
      conns.push(await openConn(kind, port, () => {}));
    } catch {
      failures++;
    }
  };
  // The first connections load and compile the client's code: not counted.
  for (let i = 0; i < WARM; i++) await open();
  await new Promise((r) => setTimeout(r, 500));
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  if (process.env.SNAP) writeHeapSnapshot(`${process.env.SNAP}/${kind}-0.heapsnapshot`);
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, open));
  await new Promise((r) => setTimeout(r, 1000));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (process.env.SNAP) writeHeapSnapshot(`${process.env.SNAP}/${kind}-1.heapsnapshot`);
  const added = conns.length - WARM;
  console.log(`${kind.padEnd(22)} ${((after - before) / Math.max(1, added) / 1024).toFixed(2)} KB heap per connection (${added} open, ${failures} failed)`);
  for (const c of conns) c.close();
  server.stdin.end();
  await new Promise((r) => server.once('exit', r));
}
process.exit(0);
