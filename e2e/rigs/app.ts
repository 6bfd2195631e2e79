/**
 * The app behind every rig: one node:http server that serves the chat page (e2e/rigs/pages/chat.html)
 * in three variants and runs a Burrow echo app on `/burrow`:
 *   /            the page with its one `new WebSocket(url)` line replaced by `new Burrow.BurrowSocket(url)`
 *   /native.html the page as written, against the platform WebSocket
 *   /harness.html the Burrow page with client options from `?options=<json>` (forced transports, upgrade off)
 * It is the one test server (@burrow/test-support) with the scripted app answering "echo:<message>":
 * the test side can wait for conditions on what the app saw (`until`), cut every connection the server
 * holds (`killConnections`), and knows when an SSE response ended on the server (`sseEnded`), which
 * proves a buffering proxy.
 * `GET /hold` is never answered (a witness that an idle-cutting proxy really cuts).
 * `startNativeEcho()` is a plain `ws` server with the same echo, for the page's native variant.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { BurrowOptions } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';
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

export interface RigApp extends TestServer {
  /** SSE responses the server ended, by session id. */
  readonly sseEnded: Map<string, number>;
}

/** The test server with the scripted app answering "echo:<message>", and the pages beside Burrow. */
export async function startRigApp(options: BurrowOptions = {}): Promise<RigApp> {
  const pages = pageSources();
  const sseEnded = new Map<string, number>();
  const srv = await startTestServer(options, {
    app: { echoPrefix: 'echo:' },
    routes(req, res) {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const page = path === '/' || path === '/chat.html' ? pages.burrow : path === '/native.html' ? pages.native : path === '/harness.html' ? pages.harness : null;
      if (page !== null) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
        return true;
      }
      if (path === '/favicon.ico') {
        res.writeHead(204).end();
        return true;
      }
      if (path === '/hold') return true; // never answered: an idle request for proxies that cut idle connections
      const sid = /\/sessions\/([^/]+)\/sse$/.exec(path)?.[1];
      if (sid) res.on('close', () => sseEnded.set(sid, (sseEnded.get(sid) ?? 0) + 1));
      return false;
    },
  });
  // Errors of sessions the rigs cut on purpose are expected; the assertions are on what the app saw.
  srv.burrow.on('error', () => {});
  return { ...srv, sseEnded };
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
