/**
 * A user's Playwright config on @burrow/playwright: one project per transport, so every test of the
 * app runs over WebSocket, SSE and long polling. Run it with `npx playwright test -c examples/playwright`
 * (`npm test` does, after the build). Chromium is Debian's /usr/bin/chromium (CHROMIUM_PATH to change
 * it); with Playwright's own browsers installed, drop `launchOptions`.
 */
import { defineConfig } from '@playwright/test';
import { burrowProjects, type BurrowOptions } from '@burrow/playwright';

export default defineConfig<BurrowOptions>({
  testDir: '.',
  testMatch: '*.spec.ts',
  // The machine this runs on in CI has two cores shared with other jobs: one browser at a time.
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  timeout: 20_000,
  use: {
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    },
  },
  projects: burrowProjects(),
});
