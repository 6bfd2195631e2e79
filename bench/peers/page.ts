/**
 * The pages of the Chromium paced run, served by each library's bench server (servers.ts) on its own
 * port under /bench-page/, so every socket is same-origin with the page that opens it (no CORS, no
 * preflight: what a site serving its own realtime endpoint gets).
 *
 *   /bench-page/top.html?c=&id=&lib=&t=&n=
 *                                        the page Chromium opens: it holds the frames and runs the job
 *                                        (browser-top.js), reporting to the driver's collector `c`
 *   /bench-page/top.js                   browser-top.js
 *   /bench-page/frame.html?lib=&t=&j=&assets=
 *                                        one socket (browser-frame.js) with that library's browser build
 *   /bench-page/frame.js                 browser-frame.js
 *   /bench-page/lib/{burrow,sockjs,socketio}.js
 *                                        client/dist/burrow.global.js (`npm run build`), sockjs-client's
 *                                        and socket.io-client's own minified browser builds
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PAGE_PREFIX = '/bench-page/';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const LIBS: Record<string, () => string> = {
  burrow: () => join(root, 'client', 'dist', 'burrow.global.js'),
  sockjs: () => join(root, 'node_modules', 'sockjs-client', 'dist', 'sockjs.min.js'),
  socketio: () => join(root, 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js'),
};

const cache = new Map<string, Buffer>();
/** A file's bytes, read once per server process (the pages are loaded before the measured window). */
function file(path: string): Buffer {
  let b = cache.get(path);
  if (!b) cache.set(path, (b = readFileSync(path)));
  return b;
}

const TOP = `<!doctype html><meta charset="utf-8"><title>burrow bench</title>
<style>body{margin:0;display:flex;flex-wrap:wrap}iframe{width:120px;height:60px;border:0;margin:1px}</style>
<body><script src="/bench-page/top.js"></script>`;

/**
 * `assets`: the origin the scripts come from. The top page names its own, so the 50 frames share
 * one cached copy (and V8's code cache) instead of fetching and compiling the library 50 times.
 */
const frameHtml = (lib: string, assets: string): string =>
  `<!doctype html><meta charset="utf-8"><body style="margin:0;font:10px sans-serif">${lib}` +
  (lib === NATIVE ? '' : `<script src="${assets}/bench-page/lib/${lib}.js"></script>`) +
  `<script src="${assets}/bench-page/frame.js"></script>`;

/** The frame's platform WebSocket with no library (bench:rigs' floor): no script of its own. */
const NATIVE = 'native';

/** Answers a /bench-page/ request; false when `req` is not one (the caller's other routes go on). */
export function benchPage(req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '/';
  if (!url.startsWith(PAGE_PREFIX)) return false;
  req.on('error', () => {});
  res.on('error', () => {});
  const send = (status: number, type: string, body: string | Buffer, cache = 'no-store'): void => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': cache }).end(body);
  };
  // One server process serves one run: its scripts cannot change under it.
  const script = (body: Buffer): void => send(200, 'text/javascript; charset=utf-8', body, 'max-age=600');
  if (req.method !== 'GET') {
    send(405, 'text/plain', 'GET only');
    return true;
  }
  const u = new URL(url, 'http://x');
  const name = u.pathname.slice(PAGE_PREFIX.length);
  try {
    if (name === 'top.html') send(200, 'text/html; charset=utf-8', TOP);
    else if (name === 'frame.html') {
      const lib = u.searchParams.get('lib') ?? '';
      const assets = u.searchParams.get('assets') ?? '';
      if (!(lib in LIBS) && lib !== NATIVE) send(404, 'text/plain', `no lib ${lib}`);
      else if (assets && !/^http:\/\/[a-z0-9.-]+:\d+$/.test(assets)) send(400, 'text/plain', 'bad assets origin');
      else send(200, 'text/html; charset=utf-8', frameHtml(lib, assets));
    } else if (name === 'frame.js') script(file(join(here, 'browser-frame.js')));
    else if (name === 'top.js') script(file(join(here, 'browser-top.js')));
    else if (name.startsWith('lib/') && name.endsWith('.js') && name.slice(4, -3) in LIBS) script(file(LIBS[name.slice(4, -3)]!()));
    else send(404, 'text/plain', 'not found');
  } catch (err) {
    // e.g. client/dist not built: the frame then reports that its library is missing.
    send(500, 'text/plain', String(err));
  }
  return true;
}
