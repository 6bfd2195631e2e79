#!/usr/bin/env node
// Builds the browser bundles the server serves at {path}/client.js (ESM) and {path}/client.global.js
// (classic script exposing `Burrow.BurrowSocket`). The browser entry has no Node imports.
//
// Rolldown, with Oxc's minifier: on this code it comes out about 2.5% smaller after gzip than
// esbuild's, and every byte of the bundle counts (issue #16). Terser's compressor then goes over
// Oxc's output: alone it does worse than Oxc, after it it takes off another ~90 B of gzip (the two
// minifiers find different things). Its source map is composed with Rolldown's, so the published
// map still points at the TypeScript sources.
import { rolldown } from 'rolldown';
import { minify as terser } from 'terser';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkOwnNames } from './bundle-names.mjs';
import { browserTarget, stripCodecMessages } from './bundle-transforms.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Property names that only the engine's own objects carry (transport contexts and handlers, down
 * reasons, the engine's parts and their hosts): the bundle renames them to a letter or two, which
 * minifying alone does not do for a property. A name belongs here only if nothing outside the bundle
 * reads or writes it: never a name of the public API or the options, of the wire (JSON keys, URL
 * parameters), of stored data, or of a platform object the client touches. checkInternalNames()
 * refuses a name that the public or wire types declare, that the server reads as a URL parameter, or
 * that TypeScript's DOM and ES libraries declare as a member; the browser suites run the renamed bundle.
 */
const INTERNAL_NAMES = [
  // Transports and what they are given
  'ctx', 'handlers', 'cleanup', 'down', 'deliver', 'probeAck', 'whenIdle', 'ackDelay', 'why', 'retryAfter',
  'onOpen', 'onFrame', 'onAlive', 'onAcked', 'onWritten', 'onDown', 'alive', 'lost',
  'wsBase', 'httpBase', 'session', 'ackCarried', 'openTimeout', 'requestTimeout', 'http',
  // The engine's parts and their hosts
  'gen', 'carrier', 'chain', 'factories', 'memory', 'owns', 'opened', 'failed', 'fail', 'begin', 'resumeOn',
  'handOver', 'scout', 'settled', 'atOnce', 'later', 'restartSoon', 'giveUp', 'wanted', 'accepts', 'promote', 'establish', 'nextGen', 'handlersFor', 'retrying',
  'delivered', 'behind', 'resendSeen', 'carried', 'schedule', 'live', 'sent', 'received', 'pong',
  'nextSeq', 'unacked', 'isNewAck', 'cum', 'closing', 'payload', 'cap',
  // The options as the engine holds them (setup.ts Timing), named apart from the options themselves
  'raceMs', 'sseWait', 'backoffMs', 'backoffCap', 'upgradeOn', 'upgradeWait',
];

/**
 * Names that the DOM, ES or Node typings may declare too (so checkInternalNames() would refuse them
 * there), but that the bundle only ever uses as members of its own types: down reasons and link
 * states, the transports' `name`, `done` and `closeCode`, the engine's setup, parts and hosts, the
 * HTTP client's `request`, an outbox entry's `frame`, the race's held answer. checkOwnNames()
 * (bundle-names.mjs) proves it with the type checker on every build, for every module of the bundle:
 * a use on a platform object, or on a bag of strings, fails the build (it refused `resume`, which is
 * also a URL hint written as `h.resume = '1'`).
 */
const OWN_NAMES = ['written', 'release', 'bind', 'websocket', 'sse', 'polling', 'kind', 'state', 'done', 'name', 'timing', 'context', 'start', 'stop', 'sample', 'hints', 'frame', 'request', 'timer', 'win', 'closeCode', 'handshake', 'flush', 'pause', 'silent', 'options', 'upload'];

/** Member names declared in `.d.ts` text: `name:`, `name?:`, `name(`, `get name()`, inline `{ name: …; }` too. */
function declaredMembers(dts) {
  const code = dts.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");
  const names = new Set();
  const member = /(?:^|[{;])\s*(?:(?:readonly|static|get|set|protected|abstract|public)\s+)*([A-Za-z_$][\w$]*)\??\s*[:(<]/gm;
  for (const m of code.matchAll(member)) names.add(m[1]);
  return names;
}

/** The `.ts` files under `dir`, recursively. */
function tsFiles(dir) {
  return readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f}`);
}

function checkInternalNames() {
  const tsLib = `${createRequire(import.meta.url).resolve('typescript/package.json').replace(/package\.json$/, '')}lib/`;
  const libs = readdirSync(tsLib).filter((f) => /^lib\.(dom|es\d{4}|es5|esnext)[\w.]*\.d\.ts$/.test(f)).map((f) => tsLib + f);
  // The public surface: client's entry types and everything the shared wire package declares.
  // tsc's declarations: `npm run build` compiles them before it bundles.
  if (!existsSync(`${root}client/dist/index.d.ts`) || !existsSync(`${root}shared/dist/index.d.ts`)) {
    throw new Error('bundle-client: the check of INTERNAL_NAMES reads client/dist and shared/dist; run `npm run build`');
  }
  const publicTypes = ['burrow-socket', 'events', 'types', 'engine/test-hook'].map((f) => `${root}client/dist/${f}.d.ts`);
  const wireTypes = readdirSync(`${root}shared/dist`).filter((f) => f.endsWith('.d.ts')).map((f) => `${root}shared/dist/${f}`);
  const taken = new Map();
  // The URL parameters the server reads (`query.get('name')`): the client writes them as object keys
  // ({ carry: id }), so a renamed one leaves the wire unnoticed (`down` went out as `?l=` once).
  // Every read must name its parameter literally, so that none escapes this check.
  const read = /\b(?:query|searchParams)\??\.(?:get|getAll|has)\(([^)]*)\)/g;
  for (const file of tsFiles(`${root}server/src`)) {
    for (const [call, arg] of readFileSync(file, 'utf8').matchAll(read)) {
      const name = /^\s*(['"`])([\w$]+)\1\s*$/.exec(arg)?.[2];
      if (name === undefined) throw new Error(`bundle-client: ${file.replace(root, '')} reads a URL parameter by a computed name (${call}): name it literally`);
      if (!taken.has(name)) taken.set(name, `${file} (a URL parameter)`);
    }
  }
  // Public and wire types next: OWN_NAMES may be declared by the platform's typings, never by ours.
  for (const file of [...publicTypes, ...wireTypes, ...libs]) {
    for (const name of declaredMembers(readFileSync(file, 'utf8'))) if (!taken.has(name)) taken.set(name, file);
  }
  const clashes = [...INTERNAL_NAMES, ...OWN_NAMES]
    .filter((n) => taken.has(n) && !(OWN_NAMES.includes(n) && libs.includes(taken.get(n))))
    .map((n) => `${n} (declared in ${taken.get(n).replace(root, '')})`);
  if (clashes.length > 0) throw new Error(`bundle-client: not internal, cannot be renamed: ${clashes.join(', ')}`);
}

checkInternalNames();
const bundle = await rolldown({
  input: `${root}client/src/index.ts`,
  platform: 'browser',
  resolve: { conditionNames: ['burrow-src', 'browser', 'import', 'default'] },
  transform: { target: ['es2022', 'chrome110', 'firefox110', 'safari16'] },
  logLevel: 'warn',
  experimental: { nativeMagicString: true },
  plugins: [browserTarget([`${root}client/src/platform/target.ts`, `${root}shared/src/target.ts`]), stripCodecMessages(`${root}shared/src/`)],
});
const output = {
  sourcemap: true,
  // The bundle is served as is, never bundled again: pure annotations would only cost bytes.
  comments: false,
  // `Burrow` stays a plain object, as it was: no Symbol.toStringTag 'Module' on the classic script's global.
  generatedCode: { symbols: false },
  minify: {
    // Oxc joins statements with commas here, Terser after it does not (below): measured on this code,
    // -15 B after gzip against neither joining, -7 B against both (it used to be the other way round).
    compress: { sequences: true },
    mangleProps: { include: new RegExp(`^(${[...INTERNAL_NAMES, ...OWN_NAMES].join('|')})$`) },
  },
};
const generate = async (format, file) => (await bundle.generate({ ...output, format, file, ...(format === 'iife' ? { name: 'Burrow' } : {}) })).output[0];
const chunks = { esm: await generate('esm', `${root}client/dist/burrow.esm.js`), iife: await generate('iife', `${root}client/dist/burrow.global.js`) };
await bundle.close();
// Before anything is written: the TypeScript modules the bundle is made of must use OWN_NAMES as their own.
checkOwnNames(root, `${root}client/tsconfig.json`, chunks.esm.moduleIds.filter((id) => id.endsWith('.ts')), OWN_NAMES);

/** Writes one format: Rolldown's output (code and map), compressed again by Terser. */
async function write(format, file) {
  const chunk = chunks[format];
  const name = basename(file);
  const dir = dirname(file);
  // Terser composes the maps with the sources' paths made absolute (it would mangle leading `../`), then
  // they are made relative to the map again, as Rolldown wrote them.
  const input = { ...chunk.map, sources: chunk.map.sources.map((s) => resolve(dir, s)) };
  const r = await terser(chunk.code, {
    module: format === 'esm',
    ecma: 2022,
    // Three passes find what two leave once Oxc joined statements (-9 B); Terser's own comma
    // sequences gzip worse here (+8 B). Of the `unsafe_*` family only what holds for this code:
    // every getter the bundle reads is free of side effects (pure_getters), and nothing constructs
    // or binds `this` in a function or arrow that the compressor turns into a method or an arrow
    // (unsafe_methods, unsafe_arrows): -30 B together. Left out, measured: `unsafe_comps` (-17 B)
    // turns `!(n >= 0)` into `0 > n`, which lets NaN through the frame checks; `toplevel` on the
    // classic script drops its `var Burrow`; `booleans_as_integers` (-32 B) makes public getters
    // (`reconnecting`) return 0/1; `unsafe` (-6 B) rewrites more than can be
    // checked by reading the output.
    compress: { passes: 3, sequences: false, pure_getters: true, unsafe_methods: true, unsafe_arrows: true },
    mangle: true,
    format: { comments: false },
    sourceMap: { content: JSON.stringify(input), filename: name, url: `${name}.map` },
  });
  const map = JSON.parse(r.map);
  map.sources = map.sources.map((s) => relative(dir, s));
  writeFileSync(file, `${r.code}\n`);
  writeFileSync(`${file}.map`, JSON.stringify(map));
}
await write('esm', `${root}client/dist/burrow.esm.js`);
await write('iife', `${root}client/dist/burrow.global.js`);
