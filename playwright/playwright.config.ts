/**
 * The kit's own tests (`npx playwright test -c playwright`): each network mode does what it says, the
 * hook pins what it says, and an app with no hook is untouched. One project: the tests pin transports
 * themselves. Chromium is Debian's (/usr/bin/chromium, or CHROMIUM_PATH); nothing is downloaded.
 */
import { defineConfig } from '@playwright/test';
import type { BurrowOptions } from './src/index.js';

export default defineConfig<BurrowOptions>({
  testDir: 'test',
  testMatch: '*.spec.ts',
  // Two cores shared with others: one browser at a time.
  workers: 1,
  fullyParallel: false,
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
  projects: [{ name: 'chromium' }],
});
