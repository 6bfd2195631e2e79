/**
 * Time-to-open per fallback case: how long `new BurrowSocket(url)` takes to fire `open` when a proxy
 * refuses the upgrade, black-holes it, opens it but delivers nothing, or buffers responses, and on a
 * 150 ms RTT path (a latency relay) with the upgrade passing and hanging. Each run is a first load
 * (nothing remembered) and a second load (what the first remembered: transport and open time).
 * Prints the median, min and max of RUNS runs per case, the transport reached, the HTTP requests the
 * first load made, and SockJS's and Socket.IO's default clients through the same rigs in the same run.
 * Loopback only; bounded.
 *
 *   npm run bench:fallback            (RUNS=9 by default; PEERS=0 skips SockJS and Socket.IO)
 */
import { performance } from 'node:perf_hooks';
import { BurrowSocket, type RememberStorage } from '@burrow/client';
import { startTestServer } from '@burrow/test-support';
import { startLatencyRelay } from '../e2e/tests/fixtures/latency-relay.js';
import { type RigOptions, startRigProxy } from '../e2e/tests/fixtures/rig-proxy.js';
import { openDefault } from './peers/clients.js';
import type { FallbackLib, Kind } from './peers/kinds.js';
import { spawnServer, stopAll } from './peers/spawn.js';

const RUNS = Number(process.env.RUNS ?? 9);
const PEERS = process.env.PEERS !== '0';
/** One-way delay of the latency relay (ms): 75 each way is a 150 ms RTT. */
const ONE_WAY = 75;

interface Case {
  name: string;
  rig: RigOptions;
  /** One-way delay added in front of the rig (ms), if any. */
  latency?: number;
}
const cases: Case[] = [
  { name: 'direct (no proxy fault)', rig: { upgrade: 'pass' } },
  { name: 'upgrade refused (403)', rig: { upgrade: 'refuse' } },
  { name: 'upgrade hangs (black hole)', rig: { upgrade: 'hang' } },
  { name: 'upgrade ok, no open frame', rig: { upgrade: 'silent' } },
  { name: 'buffering proxy + refused upgrade', rig: { upgrade: 'refuse', buffer: true } },
  { name: `${2 * ONE_WAY} ms RTT, upgrade ok`, rig: { upgrade: 'pass' }, latency: ONE_WAY },
  { name: `${2 * ONE_WAY} ms RTT, upgrade hangs`, rig: { upgrade: 'hang' }, latency: ONE_WAY },
];

function memoryStorage(): RememberStorage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

/** A rig (and the relay in front of it) on the way to `port`; `port` of the returned path is what clients dial. */
async function path(c: Case, port: number): Promise<{ port: number; httpRequests(): number; close(): Promise<void> }> {
  const proxy = await startRigProxy({ port }, c.rig);
  const relay = c.latency ? await startLatencyRelay({ port: proxy.port }, c.latency) : undefined;
  return {
    port: relay?.port ?? proxy.port,
    httpRequests: () => proxy.seen.requests,
    async close() {
      await relay?.close();
      await proxy.close();
    },
  };
}

async function openBurrow(port: number, storage: RememberStorage): Promise<{ ms: number; transport: string }> {
  const t0 = performance.now();
  const s = new BurrowSocket(`ws://127.0.0.1:${port}/burrow`, undefined, { remember: storage, upgrade: false });
  s.addEventListener('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.addEventListener('open', () => resolve(), { once: true });
    s.addEventListener('close', () => reject(new Error('closed before open')), { once: true });
  });
  const ms = performance.now() - t0;
  const transport = s.transport;
  const closed = new Promise((r) => s.addEventListener('close', r, { once: true }));
  s.close();
  await closed;
  return { ms, transport };
}

const stats = (xs: number[]): string => {
  const t = [...xs].sort((a, b) => a - b);
  return `${t[Math.floor(t.length / 2)]!.toFixed(0)} (${t[0]!.toFixed(0)}–${t.at(-1)!.toFixed(0)})`;
};

const srv = await startTestServer({}, { app: true });
const rows: string[] = [];
for (const c of cases) {
  const first: number[] = [];
  const second: number[] = [];
  const reached = new Set<string>();
  const reached2 = new Set<string>();
  let maxRequests = 0;
  for (let i = 0; i < RUNS; i++) {
    const p = await path(c, srv.port);
    const storage = memoryStorage();
    const a = await openBurrow(p.port, storage);
    maxRequests = Math.max(maxRequests, p.httpRequests());
    const b = await openBurrow(p.port, storage);
    first.push(a.ms);
    second.push(b.ms);
    reached.add(a.transport);
    reached2.add(b.transport);
    await p.close();
  }
  rows.push(`| ${c.name} | ${[...reached].join(', ')} | ${stats(first)} | ${maxRequests} | ${[...reached2].join(', ')} | ${stats(second)} |`);
}
await srv.close();

// ---- peers, through the same rigs ------------------------------------------------------------------

const peerRows: string[] = [];
const peers: Array<{ lib: FallbackLib; kind: Kind; label: string }> = [
  { lib: 'sockjs', kind: 'sockjs-ws', label: 'SockJS' },
  { lib: 'socketio', kind: 'socketio-ws', label: 'Socket.IO (default: polling first)' },
  { lib: 'socketio-wsfirst', kind: 'socketio-ws', label: "Socket.IO (['websocket','polling'])" },
];
if (PEERS) {
  for (const peer of peers) {
    const ps = await spawnServer(peer.kind);
    for (const c of cases) {
      const times: number[] = [];
      const reached = new Set<string>();
      let failed = 0;
      for (let i = 0; i < RUNS; i++) {
        const p = await path(c, ps.port);
        const t0 = performance.now();
        try {
          const conn = await openDefault(peer.lib, p.port, () => {}, 5000);
          times.push(performance.now() - t0);
          reached.add(conn.transport());
          conn.close();
        } catch {
          failed++;
        }
        await p.close();
      }
      const fig = times.length ? stats(times) : '—';
      peerRows.push(`| ${peer.label} | ${c.name} | ${[...reached].join(', ') || '—'} | ${fig} | ${failed ? `${failed} failed (5 s)` : ''} |`);
    }
    ps.stop();
  }
}

console.log(`time to open, ${RUNS} runs per case, node ${process.version}, loopback; ms as median (min–max)\n`);
console.log('| case | first load: transport | first load ms | HTTP requests (max) | second load: transport | second load ms |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
if (PEERS) {
  console.log(`\npeers, same run, same rigs (no memory: every load is a first load)\n`);
  console.log('| client | case | transport reached | ms | |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of peerRows) console.log(r);
}
stopAll();
process.exit(0);
