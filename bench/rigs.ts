/**
 * Time-to-open per restrictive-network rig (e2e/rigs), in Chromium: for each rig, RUNS fresh browser
 * contexts load the drop-in chat page (default client) and report how long `new BurrowSocket(url)`
 * took to fire `open` (measured in the page) and the transport reached; then a second load in the same
 * context measures opening on the remembered transport. Prints medians as a Markdown table.
 *
 *   npm run bench:rigs                 RUNS=5 by default; RIGS=refuse,squid to pick rigs
 */
import type { Browser } from 'playwright-core';
import { haveChromium, launchChromium } from '../e2e/tests/fixtures/browser.js';
import { RIG_NAMES, RIGS, type RigName, startRig } from '../e2e/rigs/rigs.js';

const RUNS = Number(process.env.RUNS ?? 5);
const picked = (process.env.RIGS?.split(',').filter(Boolean) as RigName[] | undefined) ?? RIG_NAMES;
if (!haveChromium()) {
  console.error('bench:rigs needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH)');
  process.exit(1);
}

type W = { socket: { transport: string }; events: string[]; openedAt: number; startedAt: number };
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

const rows: string[] = [];
for (const name of picked) {
  const def = RIGS[name];
  if (!def) throw new Error(`unknown rig ${name} (one of ${RIG_NAMES.join(', ')})`);
  if (!def.needs()) {
    rows.push(`| ${name} | ${def.title} | (skipped: binary missing) | | | | | |`);
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
    for (let i = 0; i < RUNS; i++) {
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
    rows.push(
      `| ${name} | ${def.title} | ${[...reached].join(', ')} | ${median(first).toFixed(0)} | ${Math.min(...first).toFixed(0)}–${Math.max(...first).toFixed(0)} | ${rig.nginx ? httpRequests : '—'} | ${[...remembered].join(', ')} | ${median(again).toFixed(0)} |`,
    );
  } finally {
    await browser?.close();
    await rig.close();
  }
}

console.log(`time to open in Chromium, ${RUNS} runs per rig (fresh context each), node ${process.version}, loopback\n`);
console.log('| rig | network | transport reached | median ms | range ms | Burrow HTTP requests, first load (max) | second load on | second load median ms |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
