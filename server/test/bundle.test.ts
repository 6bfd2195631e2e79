// The client bundle routes: ETag and Last-Modified with 304, brotli and gzip when accepted, and the
// source map at the URL the bundle's own comment names (issue 16: it answered 404).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';

const dir = mkdtempSync(join(tmpdir(), 'burrow-bundle-'));
const esm = `export const x = ${JSON.stringify('burrow '.repeat(500))};\n//# sourceMappingURL=burrow.esm.js.map\n`;
const map = JSON.stringify({ version: 3, sources: ['../src/index.ts'], mappings: '' });
writeFileSync(join(dir, 'burrow.esm.js'), esm);
writeFileSync(join(dir, 'burrow.esm.js.map'), map);

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ clientBundleDir: dir });
});
afterAll(() => srv.close());

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${srv.http}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('client bundle route', () => {
  it('200 with a strong ETag, Last-Modified and Vary: Accept-Encoding; identity when nothing is accepted', async () => {
    const r = await get('/client.js');
    assert.equal(r.status, 200);
    assert.match(String(r.headers.etag), /^"[A-Za-z0-9_-]{22}"$/);
    assert.ok(Date.parse(String(r.headers['last-modified'])) > 0);
    assert.equal(r.headers.vary, 'Accept-Encoding');
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString(), esm);
  });

  it('If-None-Match with the ETag: 304 and no body; a stale ETag: 200', async () => {
    const { headers } = await get('/client.js');
    const same = await get('/client.js', { 'if-none-match': String(headers.etag) });
    assert.deepEqual([same.status, same.body.length, same.headers.etag], [304, 0, headers.etag]);
    const stale = await get('/client.js', { 'if-none-match': '"something-else"' });
    assert.equal(stale.status, 200);
  });

  it('If-Modified-Since at or after Last-Modified: 304', async () => {
    const { headers } = await get('/client.js');
    assert.equal((await get('/client.js', { 'if-modified-since': String(headers['last-modified']) })).status, 304);
    assert.equal((await get('/client.js', { 'if-modified-since': new Date(0).toUTCString() })).status, 200);
  });

  it.each([
    ['gzip, deflate, br', 'br'],
    ['gzip', 'gzip'],
    ['br;q=0, gzip;q=0.5', 'gzip'],
    ['identity', undefined],
  ] as const)('Accept-Encoding %s: served as %s, and decodes to the bundle', async (accept, expected) => {
    const r = await get('/client.js', { 'accept-encoding': accept });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], expected);
    const body = expected === 'br' ? brotliDecompressSync(r.body) : expected === 'gzip' ? gunzipSync(r.body) : r.body;
    assert.equal(body.toString(), esm);
    if (expected) assert.ok(r.body.length < esm.length / 4, `compressed ${r.body.length} of ${esm.length}`);
  });

  it("the bundle's sourceMappingURL resolves to its map", async () => {
    const js = (await get('/client.js')).body.toString();
    const name = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(js)?.[1];
    assert.ok(name);
    const url = new URL(name, `${srv.http}/client.js`);
    const r = await get(url.pathname.slice(new URL(srv.http).pathname.length));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.deepEqual(JSON.parse(r.body.toString()).sources, ['../src/index.ts']);
  });

  it('a bundle that is not built: 404 JSON', async () => {
    const r = await get('/client.global.js');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body.toString()).error, 'not_found');
  });
});
