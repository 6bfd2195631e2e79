/** readBody on requests that end before or while it reads. */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { afterEach, test } from 'vitest';
import { readBody, type BodyResult } from '../src/http/respond.js';

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

test('a request aborted before readBody listens is refused at once, not after the body timeout', async () => {
  let result: Promise<BodyResult> | undefined;
  const handled = new Promise<void>((done) => {
    const server = createServer((req, res) => {
      res.on('error', () => {});
      req.on('error', () => {});
      // The body is still on its way; the request dies before anyone reads it.
      req.on('close', () => {
        result = readBody(req, 1024, 3_600_000);
        done();
      });
      req.destroy();
    });
    open.push(server);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': '100' } });
      c.on('error', () => {});
      c.write('partial');
    });
  });
  await handled;
  const r = await result!;
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'bad_request');
});
