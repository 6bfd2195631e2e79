/**
 * What the page's own code saw of its WebSockets: opened or not, how each closed and by whom, how
 * many messages it got. A hostile network mode is then checked by its signature (a refused upgrade
 * closes before it opens, a black-holed one never answers, a silent one opens and stays quiet)
 * rather than by where the client ended up, which several modes share.
 */
import type { Page } from '@playwright/test';

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
