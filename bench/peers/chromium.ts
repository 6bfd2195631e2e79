/**
 * How the Chromium paced run (browser.ts) starts a browser on its page: directly, as a user would,
 * with no automation attached. Playwright (or any CDP client that auto-attaches to pages) enables the
 * Network domain, among others, on every page and frame, so Chromium serialises each WebSocket frame
 * and each HTTP request to the driver; with 50 sockets at 500 msg/s that cost Chromium more CPU than
 * the sockets themselves (bench/README.md, "Chromium"). `CHROMIUM_VIA=playwright` opens the same page
 * through Playwright instead, to measure that cost again; with `CHROMIUM_PROF=<dir>` also, the
 * renderer's JavaScript is profiled (CDP `Profiler`, 200 µs sampling) for the whole job, into
 * `<dir>/<host>-<time>.cpuprofile` (same-site frames share the renderer's isolate: one profile covers
 * every socket of the page). Read it with `bench/peers/profile.ts`.
 *
 * Direct: `/usr/bin/chromium --headless ... <url>` in its own process group, a fresh user-data-dir in
 * the temp dir, and `--remote-debugging-pipe` on which nothing is ever sent: it ties the browser's life
 * to ours (Chromium exits when the pipe closes, so a driver killed outright leaves no browser behind)
 * and attaches nothing to any page. Stopping kills the whole group and removes the profile.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, launchChromium } from '../../e2e/tests/fixtures/browser.js';

/** A browser showing one page. */
export interface PageBrowser {
  /** Its last words on stderr (launch failures), trimmed. */
  stderrTail(): string;
  /** Whether it exited on its own. */
  exited(): boolean;
  /** Ends it and everything it started (bounded), and removes its profile. */
  stop(): Promise<void>;
}

/** Flags of both ways: what the e2e fixture uses, plus the run's own. */
export function benchArgs(domain: string): string[] {
  return [
    `--host-resolver-rules=MAP *.${domain} 127.0.0.1`,
    // Nothing here is in the background, but a headless page is never "visible" to every heuristic.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ];
}

/** Flags of the direct launch (the e2e fixture's, which Playwright gets too). */
const DIRECT = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-sync',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-extensions',
  '--window-size=1280,800',
];

/** How long a browser gets to exit on SIGTERM before its group is killed. */
const STOP_GRACE_MS = 2_000;

export async function openPage(url: string, domain: string): Promise<PageBrowser> {
  return process.env.CHROMIUM_VIA === 'playwright' ? viaPlaywright(url, domain) : direct(url, domain);
}

function direct(url: string, domain: string): PageBrowser {
  const profile = mkdtempSync(join(tmpdir(), 'burrow-bench-chromium-'));
  // fds 3 and 4: the debugging pipe (ours to write, Chromium's to answer); nothing is written to it.
  // BENCH_CHROMIUM_ARGS: more flags, space-separated, for looking inside (e.g. `--js-flags=--prof`).
  const more = (process.env.BENCH_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(CHROMIUM, [...DIRECT, ...benchArgs(domain), ...more, '--remote-debugging-pipe', `--user-data-dir=${profile}`, url], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => void (tail = (tail + c).slice(-2000)));
  child.stdio[4]?.on('data', () => {});
  for (const s of [child.stderr, child.stdio[3], child.stdio[4]]) s?.on('error', () => {});
  child.on('error', (err) => void (tail += `\n${String(err)}`));
  let gone = false;
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  void exit.then(() => (gone = true));
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* the group is gone */
    }
  };
  // A driver that exits (hard stop, error) takes the browser along even if stop() never ran.
  const onExit = (): void => {
    killGroup('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return {
    stderrTail: () => tail.trim(),
    exited: () => gone,
    stop: async () => {
      process.off('exit', onExit);
      if (!gone) {
        killGroup('SIGTERM');
        await Promise.race([exit, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
      }
      // Whatever of the group outlived the browser process (renderers, zygote) goes too.
      killGroup('SIGKILL');
      await Promise.race([exit, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
      rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

async function viaPlaywright(url: string, domain: string): Promise<PageBrowser> {
  const browser = await launchChromium({ args: benchArgs(domain) });
  let gone = false;
  browser.on('disconnected', () => void (gone = true));
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const profDir = process.env.CHROMIUM_PROF;
  const cdp = profDir ? await ctx.newCDPSession(page) : undefined;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  // Not awaited to the end: the page runs the job and reports to the collector itself.
  void page.goto(url, { timeout: 30_000 }).catch(() => {});
  return {
    stderrTail: () => '',
    exited: () => gone,
    stop: async () => {
      if (cdp && profDir && !gone) {
        const r = await cdp.send('Profiler.stop').catch(() => undefined);
        if (r) {
          mkdirSync(profDir, { recursive: true });
          writeFileSync(join(profDir, `${new URL(url).hostname}-${Date.now()}.cpuprofile`), JSON.stringify(r.profile));
        }
      }
      await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3 * STOP_GRACE_MS))]);
    },
  };
}
