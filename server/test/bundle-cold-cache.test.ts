/**
 * Regression (review of the HTTP edge, 2026-12-03): on a cold cache every concurrent request of a
 * bundle file compressed it again, synchronously on the main thread (brotli quality 11 of the 240 KB
 * source map: ~300 ms each; ten requests stalled the node for 1.3 s, any client could trigger it).
 * Now the first request's load is shared, and the compression runs in zlib's thread pool.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, test, vi } from 'vitest';
import { startTestServer } from '@burrow/test-support';

const calls = vi.hoisted(() => ({ brotli: 0, brotliSync: 0 }));
vi.mock('node:zlib', async (importOriginal) => {
  const z = await importOriginal<typeof import('node:zlib')>();
  return {
    ...z,
    brotliCompress: ((...args: Parameters<typeof z.brotliCompress>) => {
      calls.brotli++;
      return (z.brotliCompress as (...a: unknown[]) => void)(...args);
    }) as typeof z.brotliCompress,
    brotliCompressSync: ((...args: Parameters<typeof z.brotliCompressSync>) => {
      calls.brotliSync++;
      return z.brotliCompressSync(...args);
    }) as typeof z.brotliCompressSync,
  };
});

const dir = mkdtempSync(join(tmpdir(), 'burrow-bundle-cold-'));
writeFileSync(join(dir, 'burrow.esm.js.map'), JSON.stringify({ version: 3, sources: ['a.ts'], mappings: 'A'.repeat(200_000) }));
const srv = await startTestServer({ clientBundleDir: dir });
afterAll(() => srv.close());

test('ten concurrent requests of a cold file compress it once, off the main thread, and all get the same bytes', async () => {
  const answers = await Promise.all(
    Array.from({ length: 10 }, async () => {
      const r = await fetch(`${srv.http}/burrow.esm.js.map`, { headers: { 'accept-encoding': 'br' } });
      return { status: r.status, etag: r.headers.get('etag'), length: (await r.arrayBuffer()).byteLength };
    }),
  );
  assert.ok(answers.every((a) => a.status === 200 && a.etag === answers[0]!.etag && a.length === answers[0]!.length));
  assert.deepEqual(calls, { brotli: 1, brotliSync: 0 });
});
