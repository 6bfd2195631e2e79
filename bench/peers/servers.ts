/**
 * One benchmark server per process: `node --expose-gc --import tsx
 * bench/peers/servers.ts <kind>`. Every kind is an echo server on 127.0.0.1 (port chosen by the OS)
 * plus a control server on a second port that the load process uses to read this process's CPU time and
 * RSS, force a GC and start a broadcast. The first stdout line is `{"port":P,"ctl":C}`.
 *
 * Burrow uses its public API only: createBurrow, handle, attach, on('message') echo.
 *
 * The library kinds (Burrow, Socket.IO, SockJS) also serve the pages of the Chromium run under
 * /bench-page/ (page.ts), so the browser's sockets are same-origin with their page.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import { BENCH_PATHS, type Kind } from './kinds.js';
import { benchPage } from './page.js';

const kind = process.argv[2] as Kind;
/** `--memory`: a server of the memory step (see run.ts, MEMORY_FLAGS). */
const memoryStep = process.argv.includes('--memory');
const gc = (globalThis as { gc?: (o?: object) => void }).gc;
/** Two full GCs: objects freed by the first one's finalizers go in the second. */
function fullGc(): void {
  if (memoryStep) {
    // Short-lived garbage through the whole young generation (32 MB and more), so all of its pages
    // are resident before every sample, however much the opens happened to touch.
    let keep: unknown[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      keep.push({ i });
      if (keep.length > 1000) keep = [];
    }
  }
  gc?.();
  gc?.();
}

/** What every kind provides to the control server. */
interface Impl {
  sessions(): number;
  /** Sends `msg` once to every live session. */
  broadcast(msg: string): void;
}

const server = createServer();
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;
/**
 * HTTP requests served: a polling broadcast's cost depends on how many polls carried it. Counted at
 * `emit`, as sockjs replaces the server's 'request' listeners with its own.
 */
let requests = 0;
/** TCP connections accepted (HTTP and WebSocket): a client that does not keep its connections alive pays more. */
let connections = 0;
const emit = server.emit.bind(server);
server.emit = ((event: string, ...args: unknown[]) => {
  if (event === 'request') requests++;
  else if (event === 'connection') connections++;
  return emit(event, ...args);
}) as typeof server.emit;
let impl: Impl;

if (kind === 'ws') {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : data.toString(), { binary: isBinary }));
  });
  impl = { sessions: () => wss.clients.size, broadcast: (m) => wss.clients.forEach((c) => c.send(m)) };
} else if (kind.startsWith('burrow-')) {
  const { createBurrow } = await import('@burrow/server');
  const burrow = createBurrow({ path: BENCH_PATHS.burrow, limits: { maxSessions: 20_000 }, ...(process.env.BENCH_ACK_DELAY ? { ackDelay: Number(process.env.BENCH_ACK_DELAY) } : {}) });
  burrow.on('message', (s, data) => void s.send(data));
  burrow.on('error', () => {});
  server.on('request', (req, res) => {
    if (!burrow.handle(req, res) && !benchPage(req, res)) res.writeHead(404).end();
  });
  burrow.attach(server);
  impl = {
    sessions: () => burrow.sessions,
    // Burrow's own fan-out, as Socket.IO's row uses `io.emit`: no set of sessions kept by the app.
    broadcast: (m) => void burrow.broadcast(m).catch(() => {}),
  };
} else if (kind.startsWith('socketio-')) {
  const { Server } = await import('socket.io');
  // engine.io keeps the listeners present when it attaches and calls them for what is not its path.
  server.on('request', (req, res) => {
    if (!benchPage(req, res)) res.writeHead(404).end();
  });
  const io = new Server(server, { transports: ['polling', 'websocket'], serveClient: false, pingInterval: 25_000, pingTimeout: 20_000 });
  io.on('connection', (socket) => {
    socket.on('m', (d: string) => socket.emit('m', d));
  });
  impl = { sessions: () => io.engine.clientsCount, broadcast: (m) => void io.emit('m', m) };
} else if (kind.startsWith('sockjs-')) {
  const sockjs = (await import('sockjs')).default;
  const echo = sockjs.createServer({ prefix: BENCH_PATHS.sockjs, log: () => {}, disconnect_delay: 5_000 });
  const conns = new Set<{ write(d: string): boolean }>();
  echo.on('connection', (conn) => {
    if (!conn) return;
    conns.add(conn);
    conn.on('data', (d: string) => conn.write(d));
    conn.on('close', () => conns.delete(conn));
  });
  echo.installHandlers(server);
  server.on('request', (req, res) => {
    // sockjs answers its prefix itself; anything else is ours to refuse.
    if (!req.url?.startsWith(BENCH_PATHS.sockjs) && !benchPage(req, res)) res.writeHead(404).end();
  });
  impl = { sessions: () => conns.size, broadcast: (m) => conns.forEach((c) => c.write(m)) };
} else if (kind === 'http-sse') {
  // The floor for Burrow's SSE: POST /open → id; GET /sse?id= streams; POST /send?id= carries a JSON
  // array of messages, each echoed as one `data:` event, and is answered 204. No seqs, acks or log.
  const streams = new Map<string, ServerResponse>();
  let next = 0;
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const id = url.searchParams.get('id') ?? '';
    if (req.method === 'POST' && url.pathname === '/open') {
      const sid = String(++next);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(sid);
    } else if (req.method === 'GET' && url.pathname === '/sse') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.socket?.setNoDelay(true);
      res.write(':ok\n\n');
      streams.set(id, res);
      res.on('close', () => streams.delete(id));
    } else if (req.method === 'POST' && url.pathname === '/send') {
      readBody(req, (body) => {
        let out = '';
        for (const m of JSON.parse(body) as string[]) out += `data: ${m}\n\n`;
        streams.get(id)?.write(out);
        res.writeHead(204).end();
      });
    } else res.writeHead(404).end();
  });
  impl = { sessions: () => streams.size, broadcast: (m) => streams.forEach((r) => r.write(`data: ${m}\n\n`)) };
} else if (kind === 'http-poll') {
  // The floor for long polling: POST /open → id; GET /poll?id= is held until something is queued
  // (or 20 s), then answered with a JSON array; POST /send?id= queues a JSON array and answers 204.
  interface P { queue: string[]; held: ServerResponse | undefined; timer: NodeJS.Timeout | undefined }
  const polls = new Map<string, P>();
  let next = 0;
  const flush = (p: P): void => {
    const res = p.held;
    if (!res || p.queue.length === 0) return;
    p.held = undefined;
    clearTimeout(p.timer);
    const body = JSON.stringify(p.queue);
    p.queue = [];
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const id = url.searchParams.get('id') ?? '';
    if (req.method === 'POST' && url.pathname === '/open') {
      const sid = String(++next);
      polls.set(sid, { queue: [], held: undefined, timer: undefined });
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(sid);
      return;
    }
    const p = polls.get(id);
    if (!p) return void res.writeHead(404).end();
    if (req.method === 'GET' && url.pathname === '/poll') {
      p.held = res;
      p.timer = setTimeout(() => {
        if (p.held === res) {
          p.held = undefined;
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 }).end('[]');
        }
      }, 20_000);
      res.on('close', () => {
        if (p.held === res) p.held = undefined;
      });
      flush(p);
    } else if (req.method === 'POST' && url.pathname === '/send') {
      readBody(req, (body) => {
        for (const m of JSON.parse(body) as string[]) p.queue.push(m);
        flush(p);
        res.writeHead(204).end();
      });
    } else if (req.method === 'POST' && url.pathname === '/close') {
      polls.delete(id);
      res.writeHead(204).end();
    } else res.writeHead(404).end();
  });
  impl = {
    sessions: () => polls.size,
    broadcast: (m) =>
      polls.forEach((p) => {
        p.queue.push(m);
        flush(p);
      }),
  };
} else {
  throw new Error(`unknown kind ${kind}`);
}

function readBody(req: IncomingMessage, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

let profiler: import('node:inspector').Session | undefined;
/** Starts the V8 CPU profiler (no `file`) or stops it and writes the profile to `file`. */
async function profile(file: string | undefined): Promise<void> {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const post = (s: import('node:inspector').Session, method: string): Promise<unknown> =>
    new Promise((resolve, reject) => s.post(method, (err, r) => (err ? reject(err) : resolve(r))));
  if (file === undefined) {
    profiler ??= new Session();
    profiler.connect();
    await post(profiler, 'Profiler.enable');
    // 100 µs rather than 1 ms: a broadcast window is a fraction of a second of CPU.
    await new Promise<void>((resolve, reject) =>
      profiler!.post('Profiler.setSamplingInterval', { interval: 100 }, (err) => (err ? reject(err) : resolve())),
    );
    await post(profiler, 'Profiler.start');
    return;
  }
  if (!profiler) throw new Error('profiler not started');
  const { profile: p } = (await post(profiler, 'Profiler.stop')) as { profile: unknown };
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(file, JSON.stringify(p));
}

const ctl = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (o: unknown): void => void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(o));
  if (url.pathname === '/stats') {
    const cpu = process.cpuUsage();
    json({ cpuUs: cpu.user + cpu.system, rss: process.memoryUsage.rss(), sessions: impl.sessions(), requests, connections });
  } else if (url.pathname === '/gc') {
    fullGc();
    setTimeout(() => {
      fullGc();
      // V8 gives freed pages back from a background task after the GC: sampled once that had time.
      setTimeout(() => sample(), memoryStep ? 300 : 0);
    }, 300);
    const sample = (): void => {
      // The parts, so a swing in RSS can be told apart: V8's heap (and its new space, which a burst of
      // opens grows and a GC does not always give back), Buffers, and the rest (malloc'd: sockets, TLS...).
      const m = process.memoryUsage();
      const newSpace = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
      json({
        rss: m.rss,
        sessions: impl.sessions(),
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        newSpace: newSpace?.space_size ?? 0,
      });
    };
  } else if (url.pathname === '/snap' && process.env.BENCH_SNAPSHOTS) {
    fullGc();
    void import('node:v8').then((v8) => json({ file: v8.writeHeapSnapshot(url.searchParams.get('file') ?? undefined) }));
  } else if (url.pathname === '/prof') {
    // A CPU profile of one measured window (`--server-prof=bcast`): start, then stop into `file`.
    const file = url.searchParams.get('stop');
    void profile(file ?? undefined).then(
      () => json({ ok: true }),
      (err: unknown) => json({ error: String(err) }),
    );
  } else if (url.pathname === '/bcast') {
    // k rounds, each its own turn of the event loop, so the writes can drain between rounds.
    const k = Math.min(1000, Number(url.searchParams.get('k') ?? 10));
    // `from`: the first round's number (the lock-step step asks for one round at a time).
    let i = Math.max(0, Math.min(1e6, Number(url.searchParams.get('from') ?? 0) || 0));
    const last = i + k;
    const round = (): void => {
      const msg = `b${String(i).padStart(4, '0')}`.padEnd(64, '.');
      impl.broadcast(msg);
      if (++i < last) setImmediate(round);
      else json({ sent: k, sessions: impl.sessions() });
    };
    round();
  } else res.writeHead(404).end();
});

await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
await new Promise<void>((r) => ctl.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
const ctlPort = (ctl.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ port, ctl: ctlPort })}\n`);
// The runner ends us with SIGTERM; a lost runner (stdin closed) ends us too.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
