#!/usr/bin/env node
// Prints the size of the browser bundle (minified, then gzip -9 and brotli) beside the browser builds
// of the peers installed for the benchmarks. Run by `npm test` after the build, so every run shows it.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = [
  ['Burrow client (ESM)', 'client/dist/burrow.esm.js'],
  ['Burrow client (classic script)', 'client/dist/burrow.global.js'],
  ['engine.io-client', 'node_modules/engine.io-client/dist/engine.io.min.js'],
  ['socket.io-client', 'node_modules/socket.io-client/dist/socket.io.min.js'],
  ['sockjs-client', 'node_modules/sockjs-client/dist/sockjs.min.js'],
];
const kb = (n) => (n / 1000).toFixed(1);
const rows = [];
for (const [name, path] of files) {
  const full = root + path;
  if (!existsSync(full)) continue;
  // Source-map comments are not part of what a browser has to fetch and parse.
  const code = readFileSync(full, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  const min = Buffer.byteLength(code);
  const gz = gzipSync(code, { level: 9 }).length;
  const br = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  rows.push(`| ${name} | ${kb(min)} | ${kb(gz)} | ${kb(br)} |`);
}
console.log('\nBrowser bundle sizes, kB (1000 bytes):\n');
console.log('| bundle | minified | gzip -9 | brotli |\n| --- | --- | --- | --- |');
for (const r of rows) console.log(r);
console.log('');
