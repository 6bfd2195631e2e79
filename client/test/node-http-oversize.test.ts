/**
 * Regression (codec review, 2026-12-03): the Node client read an answer with no bound, and past V8's
 * longest string the append threw inside a 'data' listener: an uncaught RangeError that ended the
 * app's process (a poll, a send answer, a handshake or a refused SSE answer from a hostile or broken
 * server). The bound is lowered here so the test streams kilobytes, not half a gigabyte.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, test, vi } from 'vitest';

vi.mock('../src/platform/http-client.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/platform/http-client.js')>()),
  MAX_ANSWER_CHARS: 64 * 1024,
}));
const { nodeHttpClient } = await import('../src/platform/node-http.js');

let writes = 0;
const srv = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  // More than the bound, in chunks, until the client goes.
  const more = (): void => {
    if (res.destroyed || writes > 1000) return void res.end();
    writes++;
    res.write('x'.repeat(4096), more);
  };
  res.on('error', () => {});
  more();
});
await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
afterAll(() => {
  srv.closeAllConnections();
  srv.close();
});

test('an answer past the bound fails the request (null), with no uncaught exception, and stops the download', async () => {
  const uncaught: unknown[] = [];
  const on = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', on);
  try {
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/poll`;
    const answer = await new Promise((resolve) => nodeHttpClient.request('GET', url, null, 10_000, resolve));
    assert.equal(answer, null);
    assert.ok(writes < 1000, `the client stopped reading (${writes} chunks of 4 KiB written)`);
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', on);
  }
});
