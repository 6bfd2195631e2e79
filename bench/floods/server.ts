/**
 * The server under flood: a Burrow echo app on defaults, alone in its process. Reports its port, and
 * on request its RSS and error events, over IPC. Started by bench/floods/run.ts.
 */
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { createBurrow } from '@burrow/server';

const burrow = createBurrow();
/** The server's own event-loop delay: a stall here is the server's, not the machine's or the client's. */
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
let errors = 0;
burrow.on('error', () => errors++);
burrow.on('message', (session, data) => {
  session.send(data).catch(() => {});
});
const server = createServer((req, res) => {
  if (!burrow.handle(req, res)) res.writeHead(404).end();
});
burrow.attach(server);
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('message', (m: { cmd: string }) => {
  if (m.cmd !== 'stats') return;
  const cpu = process.cpuUsage();
  process.send?.({
    rss: process.memoryUsage().rss,
    sessions: burrow.sessions,
    errors,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopP99Ms: loop.percentile(99) / 1e6,
    loopMaxMs: loop.max / 1e6,
  });
  loop.reset();
});
