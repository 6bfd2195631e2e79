/**
 * The rig suites on @playwright/test: `rigSuite(name, declare)` declares the cases of
 * e2e/rigs/spec.ts for one rig (e2e/pw/rigs-<name>.spec.ts), each tagged with the transport it is
 * about (`@websocket`, `@sse`, `@polling`); e2e/playwright.config.ts runs each tag in its transport's
 * project. The cases of one rig and one transport run in order on one rig (serial: the log checks read
 * what the exchanges before them left; after a failure the rest are skipped rather than run on a
 * fresh rig).
 */
import type { RigName } from '../rigs/rigs.js';
import { rigCases, rigTitle } from '../rigs/spec.js';
import { type RigFixtures, rigTest } from './fixtures.js';

export { rigTest };

/**
 * `declare` is the spec file's own `(title, details, body) => rigTest(title, details, body)`:
 * Playwright takes a test's location from where `rigTest` is called, so this way reports and traces
 * name the rig's file rather than this one.
 */
export function rigSuite(
  name: RigName,
  declare: (title: string, details: { tag: string }, body: (fixtures: Pick<RigFixtures, 'rigEnv'>) => Promise<void>) => void,
): void {
  rigTest.describe(rigTitle(name), () => {
    rigTest.describe.configure({ mode: 'serial' });
    rigTest.use({ rigName: name });
    for (const c of rigCases(name)) {
      declare(c.title, { tag: `@${c.transport}` }, async ({ rigEnv }) => {
        if (c.timeout) rigTest.setTimeout(c.timeout);
        await c.run(rigEnv);
      });
    }
  });
}
