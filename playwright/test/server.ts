/**
 * The kit's own test app: a Burrow echo server on 127.0.0.1 with one page whose script is plain app
 * code (`new BurrowSocket(url, [], options)`, the options from `?options=<json>`), knowing nothing of
 * the test hook. One per worker (see fixtures.ts).
 */
import { createServer, type Server } from 'node:http';
import { createBurrow, type Burrow } from '@burrow/server';

export interface KitServer {
  readonly burrow: Burrow;
  readonly url: string;
  close(): Promise<void>;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>kit</title>
<script type="module">
import { BurrowSocket } from '/burrow/client.js';
const options = JSON.parse(new URLSearchParams(location.search).get('options') ?? '{}');
const socket = new BurrowSocket(new URL('/burrow', location.href), [], options);
window.app = { socket, received: [], events: [] };
socket.onmessage = (e) => window.app.received.push(e.data);
for (const t of ['open', 'error', 'close']) socket.addEventListener(t, () => window.app.events.push(t));
</script>`;

export async function startKitServer(): Promise<KitServer> {
  // Short heartbeats and polls, as behind the idle-cutting proxy of Burrow's own rigs, so a 1 s idle
  // cut meets live traffic (heartbeats) as well as idle connections.
  const burrow = createBurrow({ path: '/burrow', heartbeat: 1000, heartbeatTimeout: 1500, pollTimeout: 1500 });
  burrow.on('message', (session, data) => {
    if (typeof data !== 'string') return;
    // "flood:N" asks for N numbered messages; anything else is echoed.
    const n = data.startsWith('flood:') ? Number(data.slice(6)) : 0;
    const out = n > 0 ? Array.from({ length: n }, (_, i) => `s${i + 1}`) : [data];
    for (const m of out) session.send(m).catch(() => {});
  });
  const server: Server = createServer((req, res) => {
    if (burrow.handle(req, res)) return;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(PAGE);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  burrow.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  // A listening server's later errors (none expected on loopback) must not crash the test worker.
  server.on('error', () => {});
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    burrow,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await burrow.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
