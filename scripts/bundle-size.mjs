#!/usr/bin/env node
// Prints the size of the browser bundle (minified, then gzip -9 and brotli) beside the browser builds
// of the peers installed for the benchmarks. Run by `npm test` after the build, so every run shows it.
// `--modules` also prints what each source module of the ESM bundle costs after gzip.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
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

if (process.argv.includes('--modules')) printModules('client/dist/burrow.esm.js');

/**
 * Gzip bytes per source module. The source map says which module each stretch of output comes from;
 * a stretch costs what it adds to the gzip size of the output up to it, so the costs add up to the
 * whole (a module compresses better where earlier ones said the same things).
 */
function printModules(path) {
  const code = readFileSync(root + path, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  const map = JSON.parse(readFileSync(`${root}${path}.map`, 'utf8'));
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1);
  const stretches = [];
  let source = 0;
  map.mappings.split(';').forEach((line, l) => {
    let column = 0;
    for (const segment of line ? line.split(',') : []) {
      const [dColumn, dSource] = decodeVlq(segment);
      column += dColumn;
      if (dSource === undefined) continue;
      source += dSource;
      if (stretches.at(-1)?.source !== source) stretches.push({ start: lineStarts[l] + column, source });
    }
  });
  const gz = (s) => gzipSync(s, { level: 9 }).length;
  const cost = new Map();
  let before = 0;
  stretches.forEach(({ start, source: s }, i) => {
    const upTo = gz(code.slice(0, stretches[i + 1]?.start ?? code.length));
    const name = relative(root, resolve(dirname(root + path), map.sources[s]));
    const c = cost.get(name) ?? { gz: 0, min: 0 };
    c.gz += upTo - before;
    c.min += (stretches[i + 1]?.start ?? code.length) - start;
    cost.set(name, c);
    before = upTo;
  });
  console.log(`Modules of ${path}, bytes (gzip -9 share, minified):\n`);
  console.log('| module | gzip | minified |\n| --- | ---: | ---: |');
  for (const [name, c] of [...cost].sort((a, b) => b[1].gz - a[1].gz)) console.log(`| ${name} | ${c.gz} | ${c.min} |`);
  console.log('');
}

/** The numbers of one source-map segment (base64 VLQ). */
function decodeVlq(segment) {
  const out = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >> 1) : value >> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}
