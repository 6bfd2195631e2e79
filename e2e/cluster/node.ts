/**
 * One Burrow node of the cluster rig, as its own process:
 *
 *   node --conditions=burrow-src --import tsx e2e/cluster/node.ts --name=n1 --port=0 \
 *     --redis=redis://127.0.0.1:6380 | --redis-cluster=127.0.0.1:7000,127.0.0.1:7001,... \
 *     --prefix=burrow-test: [--store=memory] [--clock-skew-ms=600000] [--sweep-interval-ms=2000] \
 *     [--heartbeat=2000 --heartbeat-timeout=2000 --poll-timeout=3000 --resume-window=8000 --close-linger=2000]
 *     [--quiet]
 *
 * --quiet (the cluster bench): no "msg" line and no in-memory record per message. Both are the rig's
 * cost, not Burrow's, and on a cheap path (MemoryStore, SSE) they were a third of the node's CPU per
 * echo, so they skewed a MemoryStore-vs-RedisStore ratio; every other line is still printed.
 *
 * It is the one test server of @burrow/test-support with its scripted app (echo; "quiet:…" only
 * records; "flood:N" sends "s1".."sN"; "cmd:close:CODE:REASON" closes; "join:ROOM" joins a room and
 * "room:ROOM:TEXT" sends to one). Every response carries `X-Burrow-Node: <name>`.
 *
 * stdout is JSON lines (synchronous on a pipe, so a `kill -9` loses nothing already printed):
 *   {"ready": port}
 *   {"node","kind":"http","method","path","sid"}     one per HTTP request (path without the query: no token)
 *   {"node","kind":"upgrade","path","sid"}           one per WebSocket upgrade ("sid" only on a resume)
 *   {"node","kind":"open","sid","transport"}         `connection` event (the node that created the session)
 *   {"node","kind":"msg","sid","m","t"}              every message the app received (not with --quiet); `t` = CLOCK_MONOTONIC ns
 *                                                    (system-wide, so lines of different nodes can be ordered)
 *   {"node","kind":"close","sid","code","reason"}    `close` event
 *   {"node","kind":"error","message"}                `error` event
 *
 * Control endpoints (straight to a node's port, never through nginx):
 *   POST /_ctl/room?room=R&n=N&prefix=P   awaits burrow.to(R).send(`${P}${i}`) for i = 1..N, in order
 *   POST /_ctl/broadcast?text=T            burrow.broadcast(T)
 *   POST /_ctl/drain?deadline=MS           burrow.drain(): answers { moved, remaining } once done
 */
import type { IncomingMessage } from 'node:http';

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (m) args.set(m[1]!, m[2] ?? 'true');
}
const arg = (k: string, env: string, fallback?: string): string | undefined => args.get(k) ?? process.env[env] ?? fallback;
const num = (k: string, env: string): number | undefined => {
  const v = arg(k, env);
  return v === undefined ? undefined : Number(v);
};

const name = arg('name', 'BURROW_NODE_NAME', `node-${process.pid}`)!;
const quiet = arg('quiet', 'BURROW_QUIET') === 'true';
const skew = num('clock-skew-ms', 'BURROW_CLOCK_SKEW_MS') ?? 0;
if (skew) {
  // Before anything of Burrow is loaded: every Date.now() of this process (and `new Date()`) is skewed.
  const realNow = Date.now.bind(Date);
  const RealDate = Date;
  Date.now = () => realNow() + skew;
  globalThis.Date = class extends RealDate {
    constructor(...a: unknown[]) {
      if (a.length === 0) super(realNow() + skew);
      else super(...(a as [number]));
    }
    static override now() {
      return realNow() + skew;
    }
  } as DateConstructor;
}

const write = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const log = (o: Record<string, unknown>) => write({ node: name, ...o });

const { createBurrow } = await import('@burrow/server');
const { startTestServer } = await import('@burrow/test-support');
type BurrowOptions = import('@burrow/server').BurrowOptions;

const storeKind = arg('store', 'BURROW_STORE', 'redis');
let store: BurrowOptions['store'];
let storeReady: () => Promise<void> = async () => {};
if (storeKind === 'redis') {
  const { RedisStore } = await import('@burrow/server/redis');
  // --redis-cluster=host:port,...: a Redis Cluster, through an ioredis Cluster (fail fast, as the store's own connections do).
  const seeds = arg('redis-cluster', 'BURROW_REDIS_CLUSTER');
  let conn: import('@burrow/server/redis').RedisStoreOptions['redis'];
  if (seeds) {
    const { Cluster } = await import('ioredis');
    conn = new Cluster(
      seeds.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })),
      { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 0 } },
    );
  } else conn = arg('redis', 'BURROW_REDIS', 'redis://127.0.0.1:6379')!;
  const sweep = num('sweep-interval-ms', 'BURROW_SWEEP_INTERVAL_MS');
  const redis = new RedisStore({ redis: conn, prefix: arg('prefix', 'BURROW_PREFIX', 'burrow:')!, ...(sweep !== undefined ? { sweepIntervalMs: sweep } : {}) });
  store = redis;
  storeReady = () => redis.ready();
}

const opts: BurrowOptions = { path: '/burrow', ...(store ? { store } : {}) };
const timings: Array<[keyof BurrowOptions, string, string]> = [
  ['heartbeat', 'heartbeat', 'BURROW_HEARTBEAT'],
  ['heartbeatTimeout', 'heartbeat-timeout', 'BURROW_HEARTBEAT_TIMEOUT'],
  ['pollTimeout', 'poll-timeout', 'BURROW_POLL_TIMEOUT'],
  ['resumeWindow', 'resume-window', 'BURROW_RESUME_WINDOW'],
  ['closeLinger', 'close-linger', 'BURROW_CLOSE_LINGER'],
  ['ackDelay', 'ack-delay', 'BURROW_ACK_DELAY'],
];
for (const [key, flag, env] of timings) {
  const v = num(flag, env);
  if (v !== undefined) (opts as Record<string, unknown>)[key] = v;
}
const burrow = createBurrow(opts);
const b = burrow;

// The log listeners are registered before the test server's recorder and app: a message is logged
// before the app floods or echoes in answer to it.
burrow.on('connection', (session) => log({ kind: 'open', sid: session.id, transport: session.transport }));
if (!quiet) {
  burrow.on('message', (session, data, info) => {
    const m = typeof data === 'string' ? data : `<binary ${data.length}>`;
    log({
      kind: 'msg',
      sid: session.id,
      m: m.length > 200 ? m.slice(0, 200) : m,
      seq: info.seq,
      redelivered: info.redelivered,
      t: process.hrtime.bigint().toString(),
    });
  });
}
burrow.on('close', (session, code, reason) => log({ kind: 'close', sid: session.id, code, reason }));
burrow.on('error', (err: unknown) => log({ kind: 'error', message: String((err as Error)?.stack ?? err) }));

const SID_IN_PATH = /\/sessions\/([^/?]+)/;
function sidOf(req: IncomingMessage): string | undefined {
  const url = req.url ?? '';
  const m = SID_IN_PATH.exec(url);
  if (m) return decodeURIComponent(m[1]!);
  const q = url.indexOf('?');
  return q < 0 ? undefined : (new URLSearchParams(url.slice(q + 1)).get('sid') ?? undefined);
}
const pathOf = (req: IncomingMessage): string => (req.url ?? '').split('?')[0] ?? '';

async function control(req: IncomingMessage, url: URL): Promise<[number, unknown]> {
  if (url.pathname === '/_ctl/room') {
    const room = url.searchParams.get('room')!;
    const n = Number(url.searchParams.get('n') ?? 1);
    const prefix = url.searchParams.get('prefix') ?? '';
    const pace = Number(url.searchParams.get('pace') ?? 0);
    let sent = 0;
    const errors: string[] = [];
    for (let i = 1; i <= n; i++) {
      try {
        await b.to(room).send(`${prefix}${i}`);
        sent++;
      } catch (e) {
        errors.push(`${i}: ${String(e)}`);
        if (errors.length > 5) break;
      }
      if (pace && i % pace === 0) await new Promise((r) => setTimeout(r, 1));
    }
    return [errors.length ? 500 : 200, { node: name, sent, errors }];
  }
  if (url.pathname === '/_ctl/drain') {
    const result = await b.drain({ deadline: Number(url.searchParams.get('deadline') ?? 10_000) });
    return [200, { node: name, ...result }];
  }
  if (url.pathname === '/_ctl/broadcast') {
    await b.broadcast(url.searchParams.get('text') ?? '');
    return [200, { node: name }];
  }
  void req;
  return [404, { error: 'no such control' }];
}

const srv = await startTestServer(burrow, {
  port: Number(arg('port', 'PORT', '0')),
  record: !quiet,
  app: {
    onError: (what, session, e) =>
      log(what === 'send' ? { kind: 'send-error', sid: session.id, message: String(e) } : { kind: 'error', sid: session.id, message: `${what}: ${String(e)}` }),
  },
  routes(req, res) {
    res.setHeader('X-Burrow-Node', name);
    const path = pathOf(req);
    if (path.startsWith('/_ctl/')) {
      control(req, new URL(req.url ?? '/', 'http://x')).then(
        ([status, body]) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
        (e) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ node: name, error: String(e) })),
      );
      return true;
    }
    log({ kind: 'http', method: req.method, path, sid: sidOf(req) });
    return false;
  },
});
srv.server.on('upgrade', (req) => log({ kind: 'upgrade', path: pathOf(req), sid: sidOf(req) }));
// Ready means able to serve: a node whose store is still connecting answers 503 to every handshake,
// which a test starting at once (on a loaded machine) took for a failure.
await storeReady();
write({ ready: srv.port, node: name, pid: process.pid });

const stop = () => {
  srv.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
// The rig holds our stdin open; when it goes away (the test runner died), so do we.
if (!process.stdin.isTTY) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGINT', stop);
process.on('uncaughtException', (e) => {
  log({ kind: 'crash', message: String(e?.stack ?? e) });
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  log({ kind: 'crash', message: `unhandledRejection: ${String((e as Error)?.stack ?? e)}` });
  process.exit(70);
});
