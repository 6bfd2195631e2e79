/**
 * Fixtures of the project's own browser suites on @playwright/test (e2e/playwright.config.ts): the
 * kit's `test` (its `burrowTransport` names the project's transport) plus worker-scoped servers, so
 * one set of servers serves every test a worker runs.
 */
import { test as kit } from '@burrow/playwright';
import { startChat } from '../../examples/chat/app.mjs';
import { type EchoServers, startEchoServers } from '../tests/fixtures/echo-servers.js';

/** The chat demo as `startChat` returns it. */
export interface Chat {
  url: string;
  close(): Promise<void>;
}

export const test = kit.extend<object, { echo: EchoServers; chat: Chat }>({
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
});
export { expect } from '@burrow/playwright';
