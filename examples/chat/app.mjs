// The Burrow chat demo: the classic WebSocket chat (handles and messages) on Burrow. Messages go out
// with `burrow.broadcast()`, which reaches every open session through the store, so the same code
// works on one node (in-memory store) or several behind a balancer (a shared store such as Redis).
// `startChat()` is used by `npm start` and by the e2e tests.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import express from 'express';
import { createBurrow } from '@burrow/server';

const page = new URL('./index.html', import.meta.url);
const script = new URL('./chat.js', import.meta.url);
const MAX_NAME = 32;
const MAX_TEXT = 2000;

/**
 * Starts the chat on `host:port` (port 0 picks a free one). Resolves with its URL and a `close()`.
 * @param {{ port?: number, host?: string, burrowOptions?: object, node?: string }} [opts] `node` names this
 *   node in the page's live panel (the cluster demo runs several).
 */
export async function startChat({ port = 3000, host = '127.0.0.1', burrowOptions = {}, node = 'single node' } = {}) {
  const burrow = createBurrow({ path: '/burrow', ...burrowOptions });
  const store = burrow.options.store;

  /** Open sessions on every node sharing the store. */
  const online = async () => (await store.members(undefined)).length;

  /** To every open session, on whichever node serves it; a failure (store down) only loses this notice. */
  const broadcast = (msg) => burrow.broadcast(JSON.stringify(msg)).catch(() => {});

  burrow.on('connection', async (session) => {
    try {
      await session.send(JSON.stringify({ type: 'welcome', online: await online() }));
    } catch {
      // Closed already, or the store is down: nothing to tell.
    }
  });
  burrow.on('message', async (session, data) => {
    if (typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg?.type === 'hello' && typeof msg.name === 'string') {
      const name = msg.name.trim().slice(0, MAX_NAME) || 'anonymous';
      session.data = { ...session.data, name };
      broadcast({ type: 'joined', name, online: await online().catch(() => undefined) });
    } else if (msg?.type === 'say' && typeof msg.text === 'string') {
      const text = msg.text.slice(0, MAX_TEXT);
      const name = session.data?.name ?? 'anonymous';
      broadcast({ type: 'say', name, text, at: Date.now() });
    }
  });
  // "served by": each node tells a session it carries so, over the session itself, whenever the
  // session takes a transport here (new, switched, resumed or upgraded), so the page names the node
  // its connection is on, not whichever node a balancer sent its GET /stats to. Coalesced per tick:
  // one attach may raise several of these events.
  const announce = new Map(); // sid -> session, to tell on the next tick
  const tellNode = (session) => {
    if (announce.size === 0) setImmediate(flushNode);
    announce.set(session.id, session);
  };
  const flushNode = () => {
    const due = [...announce.values()];
    announce.clear();
    for (const session of due) {
      if (!session.closed) session.send(JSON.stringify({ type: 'node', node, transport: session.transport })).catch(() => {});
    }
  };
  burrow.on('transport', tellNode);
  burrow.on('resume', tellNode);
  burrow.on('upgrade', tellNode);

  // The live panel (/stats): sessions with a live transport on this node, by transport, and messages
  // per second received here. The counts are Burrow's own `burrow_sessions` gauge: counting from
  // events cannot work on a cluster (a session raises `transport` on every node it attaches to, but
  // `close` on one only, and nothing when its transport leaves a node). The gauge needs prom-client
  // (a dev dependency of the repository); without it the counts read "–".
  const recent = []; // timestamps of messages in the last WINDOW ms
  const WINDOW = 5000;
  burrow.on('message', () => recent.push(Date.now()));
  let metrics;
  try {
    metrics = burrow.metrics();
  } catch {
    // No prom-client: no counts.
  }
  const sessionCounts = async () => {
    if (!metrics) return null;
    try {
      const text = await metrics.text();
      const sessions = { websocket: 0, sse: 0, polling: 0 };
      for (const m of text.matchAll(/^burrow_sessions\{transport="(websocket|sse|polling)"\} (\d+)$/gm)) sessions[m[1]] = Number(m[2]);
      return sessions;
    } catch {
      return null;
    }
  };
  const stats = async () => {
    const now = Date.now();
    while (recent.length > 0 && recent[0] < now - WINDOW) recent.shift();
    return { node, sessions: await sessionCounts(), messagesPerSecond: Math.round((recent.length / (WINDOW / 1000)) * 10) / 10 };
  };

  burrow.on('close', async (session) => {
    const name = session.data?.name;
    if (name) broadcast({ type: 'left', name, online: await online().catch(() => undefined) });
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(burrow.middleware());
  const [html, js] = await Promise.all([readFile(page, 'utf8'), readFile(script, 'utf8')]);
  app.get('/stats', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(await stats());
  });
  app.get('/chat.js', (_req, res) => {
    res.set('Content-Type', 'text/javascript; charset=utf-8');
    res.send(js);
  });
  app.get('/', (_req, res) => {
    res.set('Content-Type', 'text/html; charset=utf-8');
    res.set('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:");
    res.send(html);
  });

  const server = createServer(app);
  burrow.attach(server);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  // The address it is bound to, not "localhost": that name may resolve to ::1 first, where another
  // program can hold the same port (a busy port there is never reported here).
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  return {
    url,
    port: addr.port,
    burrow,
    async close() {
      await burrow.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
