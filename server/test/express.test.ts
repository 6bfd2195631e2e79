// The Express adapter on both supported majors (issue 16: only Express 5 was exercised, while most
// apps still run 4): Burrow's routes through app.use(), WebSocket upgrades through attach(), the app's
// own routes untouched, and a mount under a sub-path.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import { WebSocket } from 'ws';
import { afterEach, describe, it } from 'vitest';
import { burrowExpress, createBurrow, type Burrow } from '../src/index.js';

/** The part of an Express app this test uses, the same on 4 and 5. */
interface App {
  (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void;
  use(...args: unknown[]): unknown;
  get(path: string, handler: (req: unknown, res: { json(v: unknown): void }) => void): unknown;
}

const majors: ReadonlyArray<readonly [string, () => App]> = [
  ['Express 4', () => express4() as unknown as App],
  ['Express 5', () => express5() as unknown as App],
];

const open: Array<{ server: Server; burrow: Burrow }> = [];
afterEach(async () => {
  for (const { server, burrow } of open.splice(0)) {
    await burrow.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

async function start(make: () => App, mount: string | undefined, path: string, adapter: 'middleware' | 'burrowExpress'): Promise<string> {
  const app = make();
  const burrow = createBurrow({ path });
  burrow.on('message', (session, data) => void session.send(data));
  const mw = adapter === 'middleware' ? burrow.middleware() : burrowExpress(burrow);
  if (mount) app.use(mount, mw);
  else app.use(mw);
  app.get('/app-route', (_req, res) => res.json({ app: true }));
  const server = createServer(app);
  burrow.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  open.push({ server, burrow });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe.each(majors)('%s', (_name, make) => {
  it.each(['middleware', 'burrowExpress'] as const)('%s: handshake, send and poll over HTTP, WebSocket via attach, app routes untouched', async (adapter) => {
    const host = await start(make, undefined, '/burrow', adapter);
    const hs = await fetch(`http://${host}/burrow/sessions`, { method: 'POST', body: '{"v":1}' });
    assert.equal(hs.status, 200);
    const { sid, token } = (await hs.json()) as { sid: string; token: string };
    const sent = await fetch(`http://${host}/burrow/sessions/${sid}/send?token=${token}`, {
      method: 'POST',
      body: JSON.stringify({ frames: [{ t: 'd', seq: 1, text: 'hi' }] }),
    });
    assert.deepEqual(await sent.json(), { ack: 1 });
    const polled = (await (await fetch(`http://${host}/burrow/sessions/${sid}/poll?token=${token}&ack=0`)).json()) as { frames: unknown[] };
    assert.deepEqual(polled.frames, [{ t: 'd', seq: 1, text: 'hi' }]);
    // Not Burrow's: Express's next route answers.
    assert.deepEqual(await (await fetch(`http://${host}/app-route`)).json(), { app: true });
    const unknown = await fetch(`http://${host}/burrow/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'not_found');

    const ws = new WebSocket(`ws://${host}/burrow/ws`);
    ws.on('error', () => {});
    const [first] = (await once(ws, 'message')) as [Buffer];
    assert.match(first.toString(), /^\{"t":"open"/);
    ws.close();
  });

  it('regression: a body parser mounted before Burrow gets a 400 that says so at once, not "request aborted"', async () => {
    const app = make();
    const parser = (make === majors[0]![1] ? express4 : express5).text();
    app.use(parser);
    const burrow = createBurrow();
    app.use(burrow.middleware());
    const server = createServer(app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    open.push({ server, burrow });
    const hs = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/burrow/sessions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"v":1}' });
    assert.equal(hs.status, 400);
    assert.match(((await hs.json()) as { message: string }).message, /already read .*mount Burrow first/);
  });

  it('mounted under a sub-path (app.use("/api", ...)) with path "/api/burrow"', async () => {
    const host = await start(make, '/api', '/api/burrow', 'middleware');
    const hs = await fetch(`http://${host}/api/burrow/sessions`, { method: 'POST', body: '{"v":1}' });
    assert.equal(hs.status, 200);
    assert.equal(((await hs.json()) as { t: string }).t, 'open');
    const health = await fetch(`http://${host}/api/burrow/health`);
    assert.equal(health.status, 200);
  });
});
