/**
 * Fixtures of the project's own browser suites on @playwright/test (e2e/playwright.config.ts): the
 * kit's `test` (its `burrowTransport` names the project's transport) plus worker-scoped servers, so
 * one set of servers serves every test a worker runs, among them `rigs`, the restrictive-network rig
 * (e2e/rigs/: nginx or Squid with the app and relays); and `rigTest` for the rig suites. One `test`
 * for all, so that the rig files share their project's worker (and browser) with the other suites.
 */
import type { BrowserContext } from '@playwright/test';
import { test as kit } from '@burrow/playwright';
import { startChat } from '../../examples/chat/app.mjs';
import { type Rig, type RigName, startRig } from '../rigs/rigs.js';
import type { RigEnv } from '../rigs/spec.js';
import { type EchoServers, startEchoServers } from '../tests/fixtures/echo-servers.js';

/** The chat demo as `startChat` returns it. */
export interface Chat {
  url: string;
  close(): Promise<void>;
}

/**
 * The rig a worker runs: started on first use, kept for the worker's next tests (a rig's file runs
 * in one worker, its tests one after another), stopped when a test asks for another rig and when the
 * worker ends. A failed test ends its worker, so its rig is stopped then too, and the next worker
 * starts a fresh one.
 */
export class WorkerRig {
  private running: { name: RigName; rig: Promise<Rig> } | undefined;

  /** Rig `name`, started now if the worker's rig is another one or none. */
  async get(name: RigName): Promise<Rig> {
    if (this.running?.name !== name) {
      await this.stop();
      this.running = { name, rig: startRig(name) };
    }
    return this.running.rig;
  }

  /** Stops the running rig, if any (a rig that failed to start cleaned up after itself). */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    const rig = await running?.rig.catch(() => undefined);
    await rig?.close();
  }
}

/** Options and fixtures of the rig suites (e2e/pw/rig-suite.ts). */
export interface RigFixtures {
  /** The rig the file's tests run behind: `rigTest.use({ rigName })`. */
  rigName: RigName | null;
  /** That rig, running. */
  rig: Rig;
  /** What a case of e2e/rigs/spec.ts gets: the rig, and contexts closed after the test. */
  rigEnv: RigEnv;
}

/** The kit's `test` with the suites' servers: `echo`, `chat` and `rigs` per worker, the rig per test. */
export const test = kit.extend<RigFixtures, { echo: EchoServers; chat: Chat; rigs: WorkerRig }>({
  chat: [
    async ({}, use) => {
      const chat = (await startChat({ port: 0 })) as Chat;
      await use(chat);
      await chat.close();
    },
    { scope: 'worker' },
  ],
  echo: [
    async ({}, use) => {
      const servers = await startEchoServers();
      await use(servers);
      await servers.close();
    },
    { scope: 'worker' },
  ],
  rigs: [
    async ({}, use) => {
      const rigs = new WorkerRig();
      try {
        await use(rigs);
      } finally {
        await rigs.stop();
      }
    },
    { scope: 'worker' },
  ],
  rigName: [null, { option: true }],
  rig: async ({ rigs, rigName }, use) => {
    if (!rigName) throw new Error('the rig fixtures need test.use({ rigName })');
    await use(await rigs.get(rigName));
  },
  rigEnv: async ({ rig, browser }, use) => {
    const contexts: BrowserContext[] = [];
    try {
      await use({
        rig,
        async newContext() {
          const ctx = await browser.newContext(rig.contextOptions);
          contexts.push(ctx);
          return ctx;
        },
      });
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
  },
});

export { expect } from '@burrow/playwright';

/**
 * `test` for the rigs. Their pages live in contexts of their own (`rigEnv.newContext()`: the rig's
 * proxy, no test hook), since the default client's choice is what most cases check: the kit's hook
 * is off here.
 */
export const rigTest = test.extend({
  // Still automatic (an override keeps that), now without the kit's context and hook.
  burrowHook: async ({}, use) => use(),
});
