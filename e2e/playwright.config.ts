/**
 * The project's own browser suites on @playwright/test (`npx playwright test -c e2e`), one project
 * per transport through @burrow/playwright; traces kept on failure. So far (e2e/pw/): the W3C
 * differential suite and the demo smoke; the rigs are still on
 * vitest (e2e/tests/rigs-*.test.ts). Debian's Chromium, nothing downloaded.
 */
import { defineConfig } from '@playwright/test';
import { burrowProjects, type BurrowOptions } from '@burrow/playwright';

export default defineConfig<BurrowOptions>({
  testDir: 'pw',
  testMatch: '*.spec.ts',
  // Two shared cores: one browser at a time, as the vitest e2e project runs one file at a time.
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  timeout: 30_000,
  use: {
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
    },
  },
  projects: burrowProjects(),
});
