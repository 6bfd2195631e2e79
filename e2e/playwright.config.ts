/**
 * The project's own browser suites on @playwright/test (`npx playwright test -c e2e`), one project
 * per transport through @burrow/playwright; traces kept on failure. In e2e/pw/: the W3C differential
 * suite, the demo smoke, and the restrictive-network rigs (real nginx and Squid, e2e/rigs/README.md).
 * Debian's Chromium, nothing downloaded.
 *
 * Every test of the differential suite and the smoke runs in all three projects. A rig test is about
 * one transport (the one it forces, or the one the default client must end on) and carries its tag
 * (`@sse`): a project leaves out the tests tagged with the other transports.
 */
import { defineConfig } from '@playwright/test';
import { BURROW_TRANSPORTS, burrowProjects, type BurrowOptions } from '@burrow/playwright';

const otherTransportTags = (t: string) => new RegExp(`@(?:${BURROW_TRANSPORTS.filter((o) => o !== t).join('|')})\\b`);

export default defineConfig<BurrowOptions>({
  testDir: 'pw',
  testMatch: '*.spec.ts',
  // Two shared cores: one browser at a time, as the vitest e2e project runs one file at a time.
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  timeout: 30_000,
  use: {
    // Traces of failed tests are kept, with DOM snapshots and network but no screencast: a rig page
    // repaints for each of its 1000 messages and the screencast encodes a frame each time, which on
    // two shared cores made the rig suite about 40% slower and ate into the client's 500 ms wait
    // for a first SSE event (`sseTimeout`).
    trace: { mode: 'retain-on-failure', screenshots: false },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
    },
  },
  projects: burrowProjects().map((p) => ({ ...p, grepInvert: otherTransportTags(p.use.burrowTransport) })),
});
