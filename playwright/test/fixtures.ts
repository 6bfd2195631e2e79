/** The kit's `test` plus a worker-scoped echo server (./server.ts) whose URL is the baseURL. */
import type { Page } from '@playwright/test';
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

/** What the page's code saw of one of its WebSockets (see {@link recordWebSockets}). */
export interface SocketRecord {
  url: string;
  /** It fired `open`. */
  opened: boolean;
  /** Its readyState now. */
  readyState: number;
  /** `message` events it fired. */
  messages: number;
  /** The page's own code called close() on it (at any time). */
  closeCalled: boolean;
  /** Its `close` event, if it fired: the code, and whether the page had called close() before it. */
  closed: { code: number; byClient: boolean } | null;
}

/**
 * Records, per WebSocket the page makes, its lifecycle as the page's code sees it: opened or not, how
 * it closed, how many messages it got. An init script subclasses the page's `WebSocket` as it finds
 * it, so call this after `restrictNetwork` (whose `routeWebSocket` installs Playwright's stand-in
 * first: the record is then of what the app sees behind the network, not of the real connection).
 */
export async function recordWebSockets(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Base = globalThis.WebSocket;
    const log: Array<{ ws: WebSocket; rec: Omit<SocketRecord, 'readyState'> }> = [];
    (globalThis as unknown as { __wsLog: typeof log }).__wsLog = log;
    const recs = new WeakMap<WebSocket, Omit<SocketRecord, 'readyState'>>();
    globalThis.WebSocket = class WebSocket extends Base {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        const rec = { url: String(url), opened: false, messages: 0, closeCalled: false, closed: null as SocketRecord['closed'] };
        recs.set(this, rec);
        log.push({ ws: this, rec });
        this.addEventListener('open', () => (rec.opened = true));
        this.addEventListener('message', () => rec.messages++);
        this.addEventListener('close', (e) => (rec.closed = { code: e.code, byClient: rec.closeCalled }));
      }
      override close(code?: number, reason?: string): void {
        const rec = recs.get(this);
        if (rec) rec.closeCalled = true;
        // Only the arguments given: close(undefined) is not close() for a WebSocket.
        return code === undefined ? super.close() : reason === undefined ? super.close(code) : super.close(code, reason);
      }
    };
  });
}

/** The page's WebSockets so far, as {@link recordWebSockets} saw them. */
export function webSockets(page: Page): Promise<SocketRecord[]> {
  return page.evaluate(() =>
    (globalThis as unknown as { __wsLog: Array<{ ws: WebSocket; rec: Omit<SocketRecord, 'readyState'> }> }).__wsLog.map(({ ws, rec }) => ({ ...rec, readyState: ws.readyState })),
  );
}
