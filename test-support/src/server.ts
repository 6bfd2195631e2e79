/**
 * The one Burrow test server of every suite: a node:http server on 127.0.0.1 with a Burrow on it.
 * The server unit tests register their own handlers; the e2e suites, the rigs and the cluster nodes
 * turn on the scripted app (./app.ts). Whatever runs, the fixture records what each session delivered
 * and how it closed, can wait for a condition on those (re-checked on every message and close: no
 * polling), and can cut every connection it holds, as a crash of the network path would.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Burrow, type BurrowOptions, createBurrow } from '@burrow/server';
import { runScriptApp, type ScriptAppOptions } from './app.js';

export interface TestServerOptions {
  /** Runs the scripted app (./app.ts) on the Burrow. Default: off, the test registers its own handlers. */
  app?: boolean | ScriptAppOptions;
  /**
   * Sees every request before Burrow does and returns true when it answered it (pages, control
   * endpoints); false leaves the request to Burrow (it may still watch it, or set a header).
   */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** node:http server options: the header and request timeouts a deployment sets. */
  http?: ServerOptions;
  /** false: Burrow is not attached for upgrades, which are destroyed, as a proxy that drops them would. */
  attach?: boolean;
  /** Port on 127.0.0.1. Default 0 (a free one); a cluster node restarted behind nginx keeps its port. */
  port?: number;
  /**
   * false: `received` stays empty and `until` is not re-checked per message. For a benchmark node,
   * whose every message would otherwise stay in memory for the life of the process (GC cost that
   * grows with the run, paid by the rig rather than by Burrow). Default true.
   */
  record?: boolean;
}

export interface TestServer {
  readonly burrow: Burrow;
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:port` */
  readonly origin: string;
  /** `http://127.0.0.1:port{path}`: the HTTP base of the Burrow endpoints. */
  readonly http: string;
  /** `ws://127.0.0.1:port{path}`: what a BurrowSocket (or a raw `/ws` client) is given. */
  readonly ws: string;
  /** What each session delivered to the app, in order, by session id. */
  readonly received: Map<string, Array<string | Buffer>>;
  /** The close event of each session that ended, by session id. */
  readonly closes: Map<string, { code: number; reason: string }>;
  /**
   * Resolves when `predicate()` holds, checked now and after every message and close. Rejects after
   * `timeoutMs` with `what` when given; without it the test's own timeout bounds the wait.
   */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Destroys every socket the server holds (WebSocket, SSE, polls, POSTs); returns how many. */
  killConnections(): number;
  /**
   * Resolves once the server holds a connection: at once when it does, else on the next one. A
   * polling client (or one behind a proxy that opens a connection per request) holds none between
   * two requests, so a cut waits for one to be in flight.
   */
  whenConnected(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a test server on a Burrow made from `burrow` (options), or on the Burrow given. */
export async function startTestServer(burrow: Burrow | BurrowOptions = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const b = burrow instanceof Burrow ? burrow : createBurrow(burrow);
  const received = new Map<string, Array<string | Buffer>>();
  const closes = new Map<string, { code: number; reason: string }>();
  const changed = new EventEmitter();
  changed.setMaxListeners(0);
  // Registered before the app's listener, so a flood or an echo comes after the message is recorded.
  if (options.record !== false) {
    b.on('message', (session, data) => {
      let list = received.get(session.id);
      if (!list) received.set(session.id, (list = []));
      list.push(data);
      changed.emit('change');
    });
  }
  b.on('close', (session, code, reason) => {
    closes.set(session.id, { code, reason });
    changed.emit('change');
  });
  if (options.app) runScriptApp(b, options.app === true ? {} : options.app);

  const server = createServer(options.http ?? {}, (req, res) => {
    if (options.routes?.(req, res)) return;
    if (!b.handle(req, res)) res.writeHead(404).end('not burrow');
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  if (options.attach === false) server.on('upgrade', (_req, socket: Socket) => socket.destroy());
  else b.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      // Listening: a later server error (EMFILE on accept) is reported, not an uncaught exception
      // that ends the test process.
      server.on('error', (err) => process.emitWarning(`test server: ${err.message}`));
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  const path = b.options.path;

  return {
    burrow: b,
    server,
    port,
    origin: `http://${host}`,
    http: `http://${host}${path}`,
    ws: `ws://${host}${path}`,
    received,
    closes,
    until(predicate, what, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        if (predicate()) return resolve();
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                changed.off('change', check);
                reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`));
              }, timeoutMs);
        function check(): void {
          if (!predicate()) return;
          clearTimeout(timer);
          changed.off('change', check);
          resolve();
        }
        changed.on('change', check);
      });
    },
    whenConnected() {
      if (sockets.size > 0) return Promise.resolve();
      return new Promise<void>((resolve) => server.once('connection', () => resolve()));
    },
    killConnections() {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
    async close() {
      await b.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
