// Finds import cycles (value and type imports alike) among the .ts files under a folder:
//   node scripts/check-cycles.mjs server/src
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve, relative } from 'node:path';
const root = resolve(process.argv[2]);
const walk = (d, o = []) => { for (const f of readdirSync(d)) { const p = join(d, f); statSync(p).isDirectory() ? walk(p, o) : p.endsWith('.ts') && o.push(p); } return o; };
const files = walk(root);
const graph = new Map(files.map((f) => {
  const src = readFileSync(f, 'utf8');
  const deps = [...src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => resolve(dirname(f), m[1].replace(/\.js$/, '.ts')));
  return [f, deps];
}));
const cycles = new Set(); const state = new Map(); const stack = [];
function dfs(n) { state.set(n, 1); stack.push(n);
  for (const d of graph.get(n) ?? []) { if (!graph.has(d)) continue;
    if (state.get(d) === 1) cycles.add(stack.slice(stack.indexOf(d)).map((x) => relative(root, x)).join(' -> '));
    else if (!state.has(d)) dfs(d); }
  stack.pop(); state.set(n, 2); }
for (const f of files) if (!state.has(f)) dfs(f);
if (cycles.size) {
  console.log([...cycles].join("\n"));
  process.exitCode = 1;
} else console.log("no cycles");
