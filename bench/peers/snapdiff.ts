/**
 * What a memory step's N sessions kept, by kind of object: `node --import tsx bench/peers/snapdiff.ts
 * <before.heapsnapshot> <after.heapsnapshot> [N]` prints, per (node type, constructor or name), the
 * count and self size added between the two snapshots, and the total, each also ÷ N. The snapshots
 * are the ones `BENCH_SNAPSHOTS=1 npm run bench -- --steps=memory ...` writes (run.ts), so the
 * per-session figure is that of the memory step's own sessions. Diffing raw `ws`'s pair against
 * Burrow's shows what Burrow keeps beyond `ws`.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** (type, name) -> [count, self bytes]. Strings and code are grouped by type alone (their names are their contents). */
function census(file: string): Map<string, [number, number]> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    const byType = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'code' || type === 'number';
    const key = byType ? `${type}` : `${type} ${s.strings[s.nodes[i + iName]!]!.slice(0, 60)}`;
    const e = out.get(key);
    if (e) {
      e[0]++;
      e[1] += s.nodes[i + iSize]!;
    } else out.set(key, [1, s.nodes[i + iSize]!]);
  }
  return out;
}

const [beforeFile, afterFile, nArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) {
  process.stderr.write('usage: snapdiff.ts <before.heapsnapshot> <after.heapsnapshot> [N]\n');
  process.exit(2);
}
const n = Number(nArg ?? 1);
const before = census(beforeFile);
const after = census(afterFile);
const rows: Array<{ key: string; count: number; bytes: number }> = [];
for (const [key, [count, bytes]] of after) {
  const b = before.get(key) ?? [0, 0];
  rows.push({ key, count: count - b[0], bytes: bytes - b[1] });
}
for (const [key, [count, bytes]] of before) if (!after.has(key)) rows.push({ key, count: -count, bytes: -bytes });
rows.sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes));
let total = 0;
for (const r of rows) total += r.bytes;
const lines = [`total ${total} B, ${(total / n).toFixed(1)} B per session (N = ${n})`, 'bytes/N  count/N  type name'];
for (const r of rows) {
  if (Math.abs(r.bytes) / n < 2) continue;
  lines.push(`${(r.bytes / n).toFixed(1).padStart(7)}  ${(r.count / n).toFixed(2).padStart(7)}  ${r.key}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
