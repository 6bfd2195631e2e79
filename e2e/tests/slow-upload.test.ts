/**
 * An upload link slower than the server's `bodyMinRate` for the client's biggest batch: the server
 * cuts that POST (408), the client resumes and resends. Before the upload cap (transport.ts,
 * UploadCap) it resent the same whole batch, which was cut again, for ever: the session stayed open
 * and nothing arrived. Now each cut halves the next batch, so the messages get through in order and
 * exactly once, in smaller POSTs.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterEach, describe, it } from 'vitest';
import { BurrowSocket } from '@burrow/client';
import { startTestServer, type TestServer } from '@burrow/test-support';

const transports = ['sse', 'polling'] as const;
/** Client-to-server bytes per second through the proxy: half the server's bodyMinRate below. */
const RATE = 32 * 1024;
const TICK_MS = 20;

/**
 * A TCP proxy to `port` whose client-to-server direction carries at most RATE bytes per second (the
 * other direction is not limited): a slow uplink, as on a congested mobile link.
 */
async function slowUplink(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const queue: Buffer[] = [];
    const end = (): void => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    const timer = setInterval(() => {
      let budget = Math.floor((RATE * TICK_MS) / 1000);
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const part = head.subarray(0, budget);
        upstream.write(part);
        budget -= part.length;
        if (part.length === head.length) queue.shift();
        else queue[0] = head.subarray(part.length);
      }
    }, TICK_MS);
    client.on('data', (d: Buffer) => queue.push(d));
    upstream.on('data', (d: Buffer) => client.write(d));
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.each(transports)('%s', (transport) => {
  it('regression: a batch too slow for bodyMinRate was resent whole for ever; now the batches shrink until they pass, nothing lost or repeated', async () => {
    // 300 ms plus a second per 64 KiB received: at 32 KiB/s a body is cut after ~0.6 s, ~19 KB in.
    const srv: TestServer = await startTestServer({ bodyTimeout: 300, bodyMinRate: 64 * 1024 }, { record: true });
    cleanups.push(() => srv.close());
    const proxy = await slowUplink(srv.port);
    cleanups.push(() => proxy.close());
    const url = new URL(srv.ws);
    url.port = String(proxy.port);
    const s = new BurrowSocket(url, undefined, { transports: [transport], remember: false, upgrade: false, reconnectDelay: 50 });
    cleanups.push(() => s.close());
    const closed: CloseEvent[] = [];
    s.addEventListener('close', (e) => closed.push(e));
    await new Promise((resolve) => s.addEventListener('open', resolve, { once: true }));
    // 80 KiB sent at once: one batch of it would never get through.
    const sent = Array.from({ length: 80 }, (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(1020)}`);
    for (const m of sent) s.send(m);
    const got = (): Array<string | Buffer> => srv.received.get(s.sessionId) ?? [];
    await srv.until(() => got().length >= sent.length, 'every message received', 20_000);
    assert.deepEqual(got().map(String), sent);
    assert.deepEqual(closed, []);
  });
});
