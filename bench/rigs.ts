/**
 * Time-to-open per restrictive-network rig (e2e/rigs), in Chromium: for each rig, RUNS fresh browser
 * contexts load the drop-in chat page (default client) and report how long `new BurrowSocket(url)`
 * took to fire `open` (measured in the page) and the transport reached; then a second load in the same
 * context measures opening on the remembered transport. Prints medians as a Markdown table. Beside it,
 * in contexts of their own, the same page with the platform WebSocket (/native.html) on the same rig:
 * its time to the first event (open, or the error of a refused upgrade) is the floor Chromium puts
 * under any library here (bench/README.md, "Time to open through hostile networks").
 *
 * Then the peers beside Burrow in the same run and the same Chromium: each library's own browser build
 * with its default options (bench/peers/browser-frame.js, `t=default`), served by its bench server
 * behind the programmable proxy of the Node fallback bench (e2e/tests/fixtures/rig-proxy.ts: the same
 * faults as the nginx rigs, for any library's paths) and the 150 ms RTT relay. Burrow runs there too,
 * so each row compares like with like, and so does a frame with the platform WebSocket and no library
 * (`lib=native`, timed to its first event). Time to open is measured in the page, from the script's start.
 *
 *   npm run bench:rigs                 RUNS=5 by default; RIGS=refuse,squid to pick rigs; PEERS=0 skips the peers
 */
import type { Browser } from 'playwright-core';
import { haveChromium, launchChromium } from '../e2e/tests/fixtures/browser.js';
import { startLatencyRelay } from '../e2e/tests/fixtures/latency-relay.js';
import { type RigOptions, startRigProxy } from '../e2e/tests/fixtures/rig-proxy.js';
import { LATENCY_ONE_WAY, RIG_NAMES, RIGS, type RigName, startRig } from '../e2e/rigs/rigs.js';
import type { Kind } from './peers/kinds.js';
import { spawnServer, stopAll } from './peers/spawn.js';

const RUNS = Number(process.env.RUNS ?? 5);
const PEERS = process.env.PEERS !== '0';
const picked = (process.env.RIGS?.split(',').filter(Boolean) as RigName[] | undefined) ?? RIG_NAMES;
if (!haveChromium()) {
  console.error('bench:rigs needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH)');
  process.exit(1);
}

type W = { socket: { transport: string }; events: string[]; openedAt: number; startedAt: number; settledAt: number };
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function load(browser: Browser, ctx: Awaited<ReturnType<Browser['newContext']>>, url: string) {
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as W).events?.length > 0, null, { timeout: 30_000 });
  const r = await page.evaluate(() => {
    const w = window as unknown as W;
    return { events: w.events, ms: w.openedAt - w.startedAt, transport: w.socket.transport };
  });
  await page.close();
  if (r.events[0] !== 'open') throw new Error(`${url}: ${r.events.join(', ')}`);
  return r;
}

/** A native WebSocket that has said nothing after this long (a black hole) is reported as silent (ms). */
const NATIVE_BUDGET = 3_000;

/**
 * The floor under every library in this harness: the same page with the platform WebSocket
 * (/native.html) to the same rig's `/burrow/ws`, timed from the same line to its first event (`open`,
 * or the `error` of a refused or failed upgrade). Whatever Chromium spends before a page hears back
 * about its socket (the rest of the page's load, its first frames) is in it as in Burrow's figure.
 */
async function loadNative(ctx: Awaited<ReturnType<Browser['newContext']>>, origin: string) {
  const page = await ctx.newPage();
  try {
    await page.goto(`${origin}/native.html?url=${encodeURIComponent(`${origin.replace(/^http/, 'ws')}/burrow/ws`)}`);
    const settled = await page
      .waitForFunction(() => (window as unknown as W).settledAt > 0, null, { timeout: NATIVE_BUDGET })
      .then(() => true)
      .catch(() => false);
    if (!settled) return undefined;
    return page.evaluate(() => {
      const w = window as unknown as W;
      return { ms: w.settledAt - w.startedAt, event: w.events[0] ?? '' };
    });
  } finally {
    await page.close();
  }
}

const rows: string[] = [];
for (const name of picked) {
  const def = RIGS[name];
  if (!def) throw new Error(`unknown rig ${name} (one of ${RIG_NAMES.join(', ')})`);
  if (!def.needs()) {
    rows.push(`| ${name} | ${def.title} | (skipped: binary missing) | | | | | | |`);
    continue;
  }
  const rig = await startRig(name);
  let browser: Browser | undefined;
  try {
    browser = await launchChromium({ args: rig.browserArgs });
    /** Burrow HTTP requests (handshake, streams, polls, sends) nginx logged during first loads. */
    let httpRequests = 0;
    const burrowHttp = (): number => rig.nginx?.accessLog().filter((l) => l.includes('/burrow/sessions')).length ?? 0;
    const first: number[] = [];
    const again: number[] = [];
    const reached = new Set<string>();
    const remembered = new Set<string>();
    const native: number[] = [];
    const nativeEvents = new Set<string>();
    let nativeSilent = 0;
    for (let i = 0; i < RUNS; i++) {
      // The native page first, in a context of its own: fresh like Burrow's, and its failed upgrade
      // cannot touch anything Burrow's context remembers.
      const nctx = await browser.newContext();
      try {
        const n = await loadNative(nctx, rig.origin);
        if (n) {
          native.push(n.ms);
          nativeEvents.add(n.event);
        } else nativeSilent++;
      } finally {
        await nctx.close();
      }
      const ctx = await browser.newContext();
      try {
        const before = burrowHttp();
        const a = await load(browser, ctx, `${rig.origin}/`);
        httpRequests = Math.max(httpRequests, burrowHttp() - before);
        first.push(a.ms);
        reached.add(a.transport);
        const b = await load(browser, ctx, `${rig.origin}/`);
        again.push(b.ms);
        remembered.add(b.transport);
      } finally {
        await ctx.close();
      }
    }
    const nativeCell = native.length
      ? `${median(native).toFixed(0)} (${Math.min(...native).toFixed(0)}–${Math.max(...native).toFixed(0)}) ${[...nativeEvents].join('/')}${nativeSilent ? `, ${nativeSilent} silent` : ''}`
      : `—, ${nativeSilent} silent ${NATIVE_BUDGET / 1000} s`;
    rows.push(
      `| ${name} | ${def.title} | ${[...reached].join(', ')} | ${median(first).toFixed(0)} | ${Math.min(...first).toFixed(0)}–${Math.max(...first).toFixed(0)} | ${nativeCell} | ${rig.nginx ? httpRequests : '—'} | ${[...remembered].join(', ')} | ${median(again).toFixed(0)} |`,
    );
  } finally {
    await browser?.close();
    await rig.close();
  }
}

console.log(`time to open in Chromium, ${RUNS} runs per rig (fresh context each), node ${process.version}, loopback\n`);
console.log('| rig | network | transport reached | median ms | range ms | native WebSocket, same page and rig: ms to its first event | Burrow HTTP requests, first load (max) | second load on | second load median ms |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);

// ---- peers, same Chromium, same faults ----------------------------------------------------------------

/** The faults of the rigs, as the programmable proxy makes them for any library's paths. */
const faults: Array<{ name: string; rig: RigOptions; latency?: number }> = [
  { name: 'upgrade refused (403)', rig: { upgrade: 'refuse' } },
  { name: 'upgrade black-holed', rig: { upgrade: 'hang' } },
  { name: 'upgrade ok, frames never arrive', rig: { upgrade: 'silent' } },
  { name: 'buffering proxy, upgrade refused', rig: { upgrade: 'refuse', buffer: true } },
  { name: `${2 * LATENCY_ONE_WAY} ms RTT, upgrade ok`, rig: { upgrade: 'pass' }, latency: LATENCY_ONE_WAY },
  { name: `${2 * LATENCY_ONE_WAY} ms RTT, upgrade black-holed`, rig: { upgrade: 'hang' }, latency: LATENCY_ONE_WAY },
];
/** Each library's default client (`t`), on its bench server. */
const libs: Array<{ label: string; lib: string; t: string; server: Kind }> = [
  // No library: the frame's own WebSocket to Burrow's endpoint, timed to its first event (open or error).
  { label: 'native WebSocket (first event)', lib: 'native', t: 'default', server: 'burrow-ws' },
  { label: 'Burrow', lib: 'burrow', t: 'default', server: 'burrow-ws' },
  { label: 'SockJS', lib: 'sockjs', t: 'default', server: 'sockjs-ws' },
  { label: 'Socket.IO (default: polling first)', lib: 'socketio', t: 'default', server: 'socketio-ws' },
  { label: "Socket.IO (['websocket','polling'])", lib: 'socketio', t: 'wsfirst', server: 'socketio-ws' },
];
/** A library that has not opened after this long is counted as failed (ms). */
const OPEN_BUDGET = 10_000;

type Bench = { bench: { state: string; error: string; transport: string; openMs: number; settledMs: number } };

if (PEERS) {
  const cells = new Map<string, string>();
  const browser = await launchChromium();
  try {
    for (const l of libs) {
      const server = await spawnServer(l.server);
      try {
        for (const f of faults) {
          const times: number[] = [];
          const reached = new Set<string>();
          let failed = 0;
          for (let i = 0; i < RUNS; i++) {
            const proxy = await startRigProxy({ port: server.port }, f.rig);
            const relay = f.latency ? await startLatencyRelay({ port: proxy.port }, f.latency) : undefined;
            const ctx = await browser.newContext();
            try {
              const page = await ctx.newPage();
              await page.goto(`http://127.0.0.1:${relay?.port ?? proxy.port}/bench-page/frame.html?lib=${l.lib}&t=${l.t}`);
              const r = await page
                .waitForFunction(() => ((window as unknown as Bench).bench?.state !== 'opening' ? (window as unknown as Bench).bench : undefined), null, {
                  timeout: l.lib === 'native' ? NATIVE_BUDGET : OPEN_BUDGET,
                })
                .then((h) => h.jsonValue() as Promise<Bench['bench']>)
                .catch(() => undefined);
              if (r?.state === 'open') {
                times.push(r.openMs);
                reached.add(r.transport);
              } else if (l.lib === 'native' && r && !Number.isNaN(r.settledMs)) {
                // A refused native socket: how long the page took to hear so.
                times.push(r.settledMs);
                reached.add('error');
              } else failed++;
            } finally {
              await ctx.close();
              await relay?.close();
              await proxy.close();
            }
          }
          const fig = times.length ? `${median(times).toFixed(0)} (${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)})` : '—';
          cells.set(`${l.label}|${f.name}`, `${fig}${reached.size ? ` ${[...reached].join('/')}` : ''}${failed ? `, ${failed} failed` : ''}`);
        }
      } finally {
        server.stop();
      }
    }
  } finally {
    await browser.close();
    stopAll();
  }
  console.log(`\npeers in Chromium, same run: default clients through the programmable proxy (e2e/tests/fixtures/rig-proxy.ts), ${RUNS} fresh contexts each; ms to open, median (min–max), transport reached; failed: no open within ${OPEN_BUDGET / 1000} s (native: no event within ${NATIVE_BUDGET / 1000} s)\n`);
  console.log(`| fault | ${libs.map((l) => l.label).join(' | ')} |`);
  console.log(`| --- | ${libs.map(() => '---').join(' | ')} |`);
  for (const f of faults) console.log(`| ${f.name} | ${libs.map((l) => cells.get(`${l.label}|${f.name}`) ?? '').join(' | ')} |`);
}
process.exit(0);
