/**
 * `GET {path}/client.js` and `{path}/client.global.js`: the browser bundles built into
 * `@burrow/client`'s `dist` folder, so a page can load the client from the server it talks to.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { refusal } from '../errors/refusals.js';
import { sendError } from './respond.js';

const FILES: ReadonlyMap<string, string> = new Map([
  ['/client.js', 'burrow.esm.js'],
  ['/client.global.js', 'burrow.global.js'],
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

export async function serveBundle(dir: string | undefined, rest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const file = FILES.get(rest);
  const base = dir ?? defaultBundleDir();
  let body: Buffer | undefined;
  if (file && base) body = await readFile(join(base, file)).catch(() => undefined);
  if (!body) return sendError(res, refusal('bundleMissing'));
  res.writeHead(200, {
    'Content-Type': 'text/javascript; charset=utf-8',
    'Content-Length': String(body.length),
    'Cache-Control': 'public, max-age=300',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
