/**
 * The Chromium driver's collector: a small HTTP server on 127.0.0.1 to which the bench page
 * (browser-top.js) reports, instead of the driver reaching into the page over a debugging protocol.
 *
 *   POST /opened?id=  the page's frames opened (or failed): the answer is held until the driver says
 *                     the run may start, and carries {t0, rate, total, drainMs}
 *   POST /result?id=  the page's figures, once the run drained
 *
 * Both are simple cross-origin requests from the page (text/plain JSON body): answered with
 * Access-Control-Allow-Origin so the page can read them. Bodies are bounded; unknown ids get 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** Largest body a page may POST: the result of 50 frames × 10 s at 500 msg/s is ~0.2 MB. */
export const MAX_BODY = 16 * 1024 * 1024;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** What one page reported at `opened`, and the way to let it start. */
export interface Opened {
  body: unknown;
  /** Answers the held request: the page starts on this. */
  answer(o: unknown): void;
}

export interface JobChannel {
  /** The page's `opened` report; rejects after `ms`. */
  opened(ms: number): Promise<Opened>;
  /** The page's `result` report; rejects after `ms`. */
  result(ms: number): Promise<unknown>;
  /** Forgets the job and answers a still-held request (the page is being closed). */
  end(): void;
}

export interface Collector {
  /** http://127.0.0.1:port */
  origin: string;
  expect(id: string): JobChannel;
  close(): Promise<void>;
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no report from the page in ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
};

export async function startCollector(): Promise<Collector> {
  const jobs = new Map<string, { opened: Deferred<Opened>; result: Deferred<unknown>; held: Set<ServerResponse> }>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => {});
    res.on('error', () => {});
    const send = (status: number, body: string): void =>
      void res
        .writeHead(status, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*', 'Content-Length': Buffer.byteLength(body) })
        .end(body);
    const url = new URL(req.url ?? '/', 'http://x');
    const job = jobs.get(url.searchParams.get('id') ?? '');
    const path = url.pathname;
    if (req.method !== 'POST' || (path !== '/opened' && path !== '/result')) return send(404, '{"error":"no such route"}');
    if (!job) return send(404, '{"error":"no such job"}');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        send(413, '{"error":"body too large"}');
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, '{"error":"not JSON"}');
      }
      if (path === '/result') {
        job.result.resolve(body);
        return send(200, '{}');
      }
      job.held.add(res);
      res.on('close', () => job.held.delete(res));
      job.opened.resolve({
        body,
        answer: (o) => {
          job.held.delete(res);
          send(200, JSON.stringify(o));
        },
      });
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    expect(id) {
      const job = { opened: deferred<Opened>(), result: deferred<unknown>(), held: new Set<ServerResponse>() };
      jobs.set(id, job);
      return {
        opened: (ms) => within(job.opened.promise, ms, 'opened'),
        result: (ms) => within(job.result.promise, ms, 'result'),
        end: () => {
          jobs.delete(id);
          for (const r of job.held) r.writeHead(410).end();
          job.held.clear();
        },
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
