/**
 * Time-to-open per fallback case: how long `new BurrowSocket(url)` takes to fire `open` when a proxy
 * refuses the upgrade, black-holes it, opens it but delivers nothing, or buffers responses. Prints the
 * median, min and max of RUNS runs per case and the transport reached. Loopback only; bounded.
 *
 *   npm run bench:fallback            (RUNS=9 by default)
 */
import { performance } from 'node:perf_hooks';
import { BurrowSocket } from '@burrow/client';
import { startTestServer } from '@burrow/test-support';
import { type RigOptions, startRigProxy } from '../e2e/tests/fixtures/rig-proxy.js';

const RUNS = Number(process.env.RUNS ?? 9);
const cases: Array<[string, RigOptions]> = [
  ['direct (no proxy fault)', { upgrade: 'pass' }],
  ['upgrade refused (403)', { upgrade: 'refuse' }],
  ['upgrade hangs (black hole)', { upgrade: 'hang' }],
  ['upgrade ok, no open frame', { upgrade: 'silent' }],
  ['buffering proxy + refused upgrade', { upgrade: 'refuse', buffer: true }],
];

const srv = await startTestServer({}, { app: true });
const rows: string[] = [];
for (const [name, rig] of cases) {
  const times: number[] = [];
  const reached = new Set<string>();
  for (let i = 0; i < RUNS; i++) {
    const proxy = await startRigProxy({ port: srv.port }, rig);
    const t0 = performance.now();
    const s = new BurrowSocket(`ws://127.0.0.1:${proxy.port}/burrow`, undefined, { remember: false, upgrade: false });
    await new Promise<void>((resolve, reject) => {
      s.addEventListener('open', () => resolve(), { once: true });
      s.addEventListener('close', () => reject(new Error(`${name}: closed before open`)), { once: true });
    });
    times.push(performance.now() - t0);
    reached.add(s.transport);
    const closed = new Promise((r) => s.addEventListener('close', r, { once: true }));
    s.close();
    await closed;
    await proxy.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  rows.push(
    `| ${name} | ${[...reached].join(', ')} | ${median.toFixed(1)} | ${times[0]!.toFixed(1)} | ${times.at(-1)!.toFixed(1)} |`,
  );
}
await srv.close();

console.log(`time to open, ${RUNS} runs per case, node ${process.version}, loopback\n`);
console.log('| case | transport reached | median ms | min ms | max ms |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
