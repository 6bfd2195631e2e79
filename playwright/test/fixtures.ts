/** The kit's `test` plus a worker-scoped echo server (./server.ts) whose URL is the baseURL. */
import { test as kit } from '../src/index.js';
import { type KitServer, startKitServer } from './server.js';

export const test = kit.extend<object, { app: KitServer }>({
  app: [
    async ({}, use) => {
      const app = await startKitServer();
      await use(app);
      await app.close();
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ app }, use) => use(app.url),
});

/** The page's app state (see server.ts). */
export interface PageApp {
  socket: { transport: string; readyState: number };
  received: string[];
  events: string[];
}

/** The page path with the app's own BurrowSocket options. */
export const pagePath = (options: object = {}): string => `/?options=${encodeURIComponent(JSON.stringify(options))}`;

export { recordWebSockets, type SocketRecord, webSockets } from '../src/index.js';
