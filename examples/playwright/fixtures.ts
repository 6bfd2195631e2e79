/**
 * The app under test: the chat demo (examples/chat), started once per worker in this process so a
 * test can reach its Burrow (`cutTransports`). A suite that starts its app with Playwright's
 * `webServer` instead needs no fixture at all, only the network modes.
 */
import { test as burrowTest } from '@burrow/playwright';
import type { Burrow } from '@burrow/server';
import { startChat } from '../chat/app.mjs';

interface Chat {
  url: string;
  burrow: Burrow;
  close(): Promise<void>;
}

export const test = burrowTest.extend<object, { chat: Chat }>({
  chat: [
    async ({}, use) => {
      // Short heartbeats and polls, as a deployment behind an idle-cutting proxy would configure.
      const chat = (await startChat({ port: 0, burrowOptions: { heartbeat: 1000, heartbeatTimeout: 1500, pollTimeout: 1500 } })) as Chat;
      await use(chat);
      await chat.close();
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ chat }, use) => use(chat.url),
});

export { expect } from '@burrow/playwright';

export { recordWebSockets, type SocketRecord, webSockets } from '@burrow/playwright';
