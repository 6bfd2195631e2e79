/**
 * One vitest run for every package: `npm test` (after the build), or one project with
 * `npx vitest run --project server`, one file with `npx vitest run e2e/tests/fallback.test.ts`.
 *
 * The unit projects (shared, server, client) run together and in parallel. The e2e project runs after
 * them (groupOrder), one file at a time: its files start real servers, proxies, browsers and clusters,
 * restart nodes and time fallbacks, and two at once on two cores would race for ports and CPU.
 */
import { availableParallelism } from 'node:os';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/**
 * Tests run on the TypeScript sources: the workspace packages' `burrow-src` export condition (what
 * tsconfig's customConditions and `node --conditions=burrow-src` use) comes first. Tests run in
 * Vite's SSR environment, so its conditions are the ones that count; the rest are Vite's defaults.
 */
const conditions = ['burrow-src', 'module', 'node', 'development|production'];

/** A unit project: the package's `test/**` files; they run in parallel with each other. */
function unit(name: string, testTimeout: number): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include: [`${name}/test/**/*.test.ts`],
      testTimeout,
      sequence: { groupOrder: 0 },
    },
  };
}

export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    environment: 'node',
    // vitest's default is one worker per core minus one, a single one on a 2-core machine; the unit
    // files wait on loopback I/O and timers more than they compute, so one per core, two at least.
    maxWorkers: Math.max(2, availableParallelism()),
    // A test that needs longer says so itself (a cluster run, the packed install).
    testTimeout: 5_000,
    hookTimeout: 15_000,
    projects: [
      unit('shared', 5_000),
      // Real loopback servers and Redis (127.0.0.1:6379, and servers of its own for outages).
      unit('server', 10_000),
      unit('client', 5_000),
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['e2e/tests/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 30_000,
          // Starting a cluster (redis-server, three node processes, nginx) or Chromium.
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
