/**
 * The app under test: the chat demo (examples/chat), started once per worker in this process so a
 * test can reach its Burrow (`cutTransports`). A suite that starts its app with Playwright's
 * `webServer` instead needs no fixture at all, only the network modes.
 */
import type { Page } from '@playwright/test';
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
 * Records each WebSocket the page makes as the page's code sees it: opened or not, how it closed, how
 * many messages it got. An init script subclasses the page's `WebSocket` as it finds it: call it
 * after `restrictNetwork` (its `routeWebSocket` puts Playwright's stand-in in first), so the record is
 * of what the app sees behind the network.
 */
export async function recordWebSockets(page: Page): Promise<void> {
  await page.addInitScript(() => {
    type Rec = Omit<SocketRecord, 'readyState'>;
    const Base = globalThis.WebSocket;
    const log: Array<{ ws: WebSocket; rec: Rec }> = [];
    (globalThis as unknown as { __wsLog: typeof log }).__wsLog = log;
    const recs = new WeakMap<WebSocket, Rec>();
    globalThis.WebSocket = class WebSocket extends Base {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        const rec: Rec = { url: String(url), opened: false, messages: 0, closeCalled: false, closed: null };
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
