#!/usr/bin/env node
// Builds the browser bundles the server serves at {path}/client.js (ESM) and {path}/client.global.js
// (classic script exposing `Burrow.BurrowSocket`). The browser entry has no Node imports.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = {
  entryPoints: [`${root}client/src/index.ts`],
  bundle: true,
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  conditions: ['burrow-src', 'browser'],
  sourcemap: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};
await Promise.all([
  build({ ...common, format: 'esm', outfile: `${root}client/dist/burrow.esm.js` }),
  build({ ...common, format: 'iife', globalName: 'Burrow', outfile: `${root}client/dist/burrow.global.js` }),
]);
