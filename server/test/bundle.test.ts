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

function get(path: string, headers: Record<string, string> = {}, base = srv.http): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
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

/** The field names of a `Vary` header, lower-cased and sorted. */
const varyOf = (v: unknown): string[] => String(v).split(',').map((f) => f.trim().toLowerCase()).sort();

// Regressions (review of the HTTP edge, 2026-12-03).
describe('client bundle route: caches and CORS', () => {
  it('with allowedOrigins, Vary names both Origin and Accept-Encoding on 200 and 304 (it was Accept-Encoding alone)', async () => {
    const origin = 'https://app.example';
    const cors = await startTestServer({ clientBundleDir: dir, allowedOrigins: [origin] });
    try {
      const ok = await get('/client.js', { origin, 'accept-encoding': 'gzip' }, cors.http);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['access-control-allow-origin'], origin);
      assert.deepEqual(varyOf(ok.headers.vary), ['accept-encoding', 'origin']);
      const same = await get('/client.js', { origin, 'accept-encoding': 'gzip', 'if-none-match': String(ok.headers.etag) }, cors.http);
      assert.equal(same.status, 304);
      assert.deepEqual(varyOf(same.headers.vary), ['accept-encoding', 'origin']);
    } finally {
      await cors.close();
    }
  });

  it('each content coding has its own ETag; If-None-Match validates the coding the request gets, and its 304 carries that tag', async () => {
    const tag = async (accept: string): Promise<string> => String((await get('/client.js', { 'accept-encoding': accept })).headers.etag);
    const br = await tag('br');
    const gz = await tag('gzip');
    const id = await tag('identity');
    assert.equal(new Set([br, gz, id]).size, 3, `${br} ${gz} ${id}`);
    for (const [accept, etag] of [['br', br], ['gzip', gz], ['identity', id]] as const) {
      const r = await get('/client.js', { 'accept-encoding': accept, 'if-none-match': etag });
      assert.deepEqual([r.status, r.headers.etag, r.body.length], [304, etag, 0], accept);
    }
    // The identity copy does not validate the brotli body: that body is sent, with its own tag.
    const other = await get('/client.js', { 'accept-encoding': 'br', 'if-none-match': id });
    assert.deepEqual([other.status, other.headers.etag, other.headers['content-encoding']], [200, br, 'br']);
    assert.equal(brotliDecompressSync(other.body).toString(), esm);
    // A cache holding several variants sends all their tags: the 304 names the one it validates.
    const several = await get('/client.js', { 'accept-encoding': 'gzip', 'if-none-match': `${id}, W/${gz}, ${br}` });
    assert.deepEqual([several.status, several.headers.etag], [304, gz]);
  });
});
