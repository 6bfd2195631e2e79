/**
 * `GET {path}/client.js` and `{path}/client.global.js`: the browser bundles built into
 * `@burrow/client`'s `dist` folder, so a page can load the client from the server it talks to, and
 * their source maps at the names the bundles' `sourceMappingURL` comments give (`{path}/burrow.esm.js.map`,
 * `{path}/burrow.global.js.map`).
 *
 * Each file is read and compressed once per version on disk (size and mtime), off the event loop
 * (zlib's thread pool), by the first request that misses it, the others of the moment waiting for that
 * same load; then served from memory with `Last-Modified` (304 on `If-Modified-Since`), brotli or gzip
 * when the request accepts it, and a strong ETag per content coding (304 on `If-None-Match` naming the
 * tag of the coding the request would get): the three bodies are different representations, and a
 * cache must not take one for another.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { refusal } from '../errors/refusals.js';
import { addVary } from './cors.js';
import { sendError } from './respond.js';

const JS = 'text/javascript; charset=utf-8';
const MAP = 'application/json; charset=utf-8';

const FILES: ReadonlyMap<string, { readonly file: string; readonly type: string }> = new Map([
  ['/client.js', { file: 'burrow.esm.js', type: JS }],
  ['/client.global.js', { file: 'burrow.global.js', type: JS }],
  ['/burrow.esm.js.map', { file: 'burrow.esm.js.map', type: MAP }],
  ['/burrow.global.js.map', { file: 'burrow.global.js.map', type: MAP }],
]);

export function isBundleRoute(rest: string): boolean {
  return FILES.has(rest);
}

/** `@burrow/client`'s dist folder, found from its package root; undefined when not installed. */
function defaultBundleDir(): string | undefined {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve('@burrow/client')));
    for (let i = 0; i < 5; i++) {
      if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist');
      dir = dirname(dir);
    }
  } catch {
    // Not installed: the routes answer 404.
  }
  return undefined;
}

type Coding = 'identity' | 'gzip' | 'br';

/** One file as served: its bytes in each encoding, computed once per version on disk. */
interface Served {
  readonly version: string;
  /** The strong ETag of each coding's body. */
  readonly etag: { readonly [C in Coding]: string };
  readonly lastModified: string;
  readonly identity: Buffer;
  readonly gzip: Buffer;
  readonly br: Buffer;
}

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/**
 * The load of each file, by path: a promise, so that requests arriving while a version is being
 * compressed share that one load. A cold cache once made every such request compress on the main
 * thread (brotli at quality 11 of the 240 KB source map: ~300 ms each, stalling every session).
 */
const cache = new Map<string, { readonly version: string; readonly served: Promise<Served | undefined> }>();

async function load(path: string): Promise<Served | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  const version = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(path);
  if (hit?.version === version) return hit.served;
  const served = build(path, version, st.mtimeMs);
  const entry = { version, served };
  cache.set(path, entry);
  // A failed load is not kept: the next request tries again.
  void served.then((s) => {
    if (!s && cache.get(path) === entry) cache.delete(path);
  });
  return served;
}

async function build(path: string, version: string, mtimeMs: number): Promise<Served | undefined> {
  try {
    const identity = await readFile(path);
    const [gz, br] = await Promise.all([
      gzipAsync(identity, { level: 9 }),
      brotliAsync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } }),
    ]);
    const tag = createHash('sha256').update(identity).digest('base64url').slice(0, 22);
    return {
      version,
      etag: { identity: `"${tag}"`, gzip: `"${tag}-gzip"`, br: `"${tag}-br"` },
      lastModified: new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString(),
      identity,
      gzip: gz,
      br,
    };
  } catch {
    return undefined;
  }
}

/** The best encoding the request accepts (brotli, then gzip), ignoring those it gives q=0. */
function pickEncoding(header: string | undefined): Coding {
  if (!header) return 'identity';
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    accepted.add(name.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return 'identity';
}

/**
 * Is the client's copy of the representation it would get (`etag`) current (RFC 9110: If-None-Match,
 * weak comparison, wins over If-Modified-Since)?
 */
function notModified(req: IncomingMessage, s: Served, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*');
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && since >= Date.parse(s.lastModified);
}

export async function serveBundle(dir: string | undefined, rest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = FILES.get(rest);
  const base = dir ?? defaultBundleDir();
  const served = route && base ? await load(join(base, route.file)) : undefined;
  if (!route || !served) return sendError(res, refusal('bundleMissing'));
  const encoding = pickEncoding(req.headers['accept-encoding']);
  // Added to the `Vary: Origin` CORS may have set: a cache keyed on one alone would mix them up.
  addVary(res, 'Accept-Encoding');
  const common = {
    ETag: served.etag[encoding],
    'Last-Modified': served.lastModified,
    'Cache-Control': 'public, max-age=300',
  };
  if (notModified(req, served, served.etag[encoding])) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  const body = served[encoding];
  res.writeHead(200, {
    ...common,
    'Content-Type': route.type,
    'Content-Length': String(body.length),
    ...(encoding === 'identity' ? {} : { 'Content-Encoding': encoding }),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
