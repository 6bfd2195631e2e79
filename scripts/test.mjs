#!/usr/bin/env node
// Runs every test file with node's own test runner on the TypeScript sources (the `burrow-src`
// export condition), unit tests first, then the e2e suites. `--only=unit|e2e` picks one group;
// extra arguments are passed to `node --test` (e.g. --test-name-pattern=...).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const files = args.filter((a) => !a.startsWith('--') && a.endsWith('.ts'));
const passThrough = args.filter((a) => a.startsWith('--') && !a.startsWith('--only='));

function find(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

const groups = {
  unit: ['shared/test', 'server/test', 'client/test'].flatMap((d) => find(join(root, d))),
  e2e: find(join(root, 'e2e/tests')),
};

// Unit files run two at a time. E2e files run one at a time: they start real servers, proxies,
// browsers and clusters, restart nodes on fixed ports and time fallbacks, and two at once on two
// cores would race for ports and CPU.
const concurrency = { unit: 2, e2e: 1, selected: 1 };

function run(name, list) {
  if (list.length === 0) return 0;
  console.log(`\n# ${name}: ${list.length} files`);
  const r = spawnSync(
    process.execPath,
    ['--conditions=burrow-src', '--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency[name] ?? 1}`, ...passThrough, ...list],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
  );
  return r.status ?? 1;
}

let status = 0;
if (files.length) status = run('selected', files);
else for (const g of only ? [only] : ['unit', 'e2e']) status = run(g, groups[g] ?? []) || status;
process.exit(status);
