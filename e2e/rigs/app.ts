/**
 * The app behind every rig: one node:http server that serves the chat page (e2e/rigs/pages/chat.html)
 * in three variants and runs a Burrow echo app on `/burrow`:
 *   /            the page with its one `new WebSocket(url)` line replaced by `new Burrow.BurrowSocket(url)`
 *   /native.html the page as written, against the platform WebSocket
 *   /harness.html the Burrow page with client options from `?options=<json>` (forced transports, upgrade off)
 * Every message a session sends is recorded and answered with "echo:<message>". The test side can wait
 * for conditions on what the app saw (`until`), cut every connection the server holds (`killConnections`),
 * and knows when an SSE response ended on the server (`sseEnded`), which proves a buffering proxy.
 * `GET /hold` is never answered (a witness that an idle-cutting proxy really cuts).
 * `startNativeEcho()` is a plain `ws` server with the same echo, for the page's native variant.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type BurrowOptions, createBurrow } from '@burrow/server';
import { WebSocketServer } from 'ws';

const PAGE = new URL('./pages/chat.html', import.meta.url);
const NATIVE_LINE = '  var socket = new WebSocket(url);';
const BURROW_LINE = '  var socket = new Burrow.BurrowSocket(url);';
const HARNESS_LINE =
  "  var socket = new Burrow.BurrowSocket(url, undefined, JSON.parse(new URLSearchParams(location.search).get('options') || '{}'));";

export interface PageSources {
  native: string;
  burrow: string;
  harness: string;
}

/** The page source and its two Burrow variants, each made by replacing exactly one line. */
export function pageSources(): PageSources {
  const native = readFileSync(PAGE, 'utf8');
  const lines = native.split('\n');
  const at = lines.indexOf(NATIVE_LINE);
  if (at < 0 || lines.lastIndexOf(NATIVE_LINE) !== at) throw new Error('chat.html: the one `new WebSocket` line is missing');
  const variant = (line: string) => lines.map((l, i) => (i === at ? line : l)).join('\n');
  return { native, burrow: variant(BURROW_LINE), harness: variant(HARNESS_LINE) };
}

/** Line numbers (1-based) where two sources differ; sources of different length count every extra line. */
export function differingLines(a: string, b: string): number[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const out: number[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) out.push(i + 1);
  return out;
}

export interface RigApp {
  readonly port: number;
  readonly origin: string;
  readonly burrow: ReturnType<typeof createBurrow>;
  /** What each session delivered to the app, by session id. */
  readonly received: Map<string, string[]>;
  /** Server-side close events by session id. */
  readonly closes: Map<string, { code: number; reason: string }>;
  /** SSE responses the server ended, by session id. */
  readonly sseEnded: Map<string, number>;
  /** Resolves when `predicate()` holds, checked after every app event (message, close, SSE end). */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  killConnections(): number;
  close(): Promise<void>;
}

export async function startRigApp(options: Partial<BurrowOptions> = {}): Promise<RigApp> {
  const pages = pageSources();
  const burrow = createBurrow({ path: '/burrow', ...options });
  const received = new Map<string, string[]>();
  const closes = new Map<string, { code: number; reason: string }>();
  const sseEnded = new Map<string, number>();
  const changed = new EventEmitter();
  changed.setMaxListeners(0);

  burrow.on('message', (session, data) => {
    const text = typeof data === 'string' ? data : `<binary ${data.length}>`;
    let list = received.get(session.id);
    if (!list) received.set(session.id, (list = []));
    list.push(text);
    session.send(`echo:${text}`).catch(() => {});
    changed.emit('change');
  });
  burrow.on('close', (session, code, reason) => {
    closes.set(session.id, { code, reason });
    changed.emit('change');
  });
  burrow.on('error', () => {});

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const page = path === '/' || path === '/chat.html' ? pages.burrow : path === '/native.html' ? pages.native : path === '/harness.html' ? pages.harness : null;
    if (page !== null) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
      return;
    }
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    if (path === '/hold') return; // never answered: an idle request for proxies that cut idle connections
    const sse = /\/sessions\/([^/]+)\/sse$/.exec(path);
    if (sse) {
      res.on('close', () => {
        sseEnded.set(sse[1]!, (sseEnded.get(sse[1]!) ?? 0) + 1);
        changed.emit('change');
      });
    }
    if (!burrow.handle(req, res)) res.writeHead(404).end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  burrow.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    burrow,
    received,
    closes,
    sseEnded,
    until(predicate, what, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        if (predicate()) return resolve();
        const timer = setTimeout(() => {
          changed.off('change', check);
          reject(new Error(`timed out waiting for: ${what}`));
        }, timeoutMs);
        function check() {
          if (!predicate()) return;
          clearTimeout(timer);
          changed.off('change', check);
          resolve();
        }
        changed.on('change', check);
      });
    },
    killConnections() {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
    async close() {
      await burrow.close().catch(() => {});
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A plain `ws` echo server ("echo:<message>") for the page's native WebSocket variant. */
export async function startNativeEcho(): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const received: string[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '<binary>' : data.toString();
      received.push(text);
      ws.send(`echo:${text}`);
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    received,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
