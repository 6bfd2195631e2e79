import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { SseParser } from '../src/transports/sse-parser.js';

function run(chunks: string[], max = 1 << 24) {
  const events: string[] = [];
  let comments = 0;
  const p = new SseParser({ event: (d) => events.push(d), comment: () => comments++ }, max);
  let ok = true;
  for (const c of chunks) ok &&= p.push(c);
  return { events, comments, ok, id: p.lastEventId };
}
// reference parser (spec)
function ref(text: string) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\r|\n/);
  lines.pop(); // last incomplete
  const ev: string[] = []; let data: string | null = null; let type = ''; let id = ''; let comments = 0;
  for (const l of lines) {
    if (l === '') { if (data !== null && (type === '' || type === 'message')) ev.push(data); data = null; type = ''; continue; }
    if (l[0] === ':') { comments++; continue; }
    const c = l.indexOf(':'); const name = c === -1 ? l : l.slice(0, c); let v = c === -1 ? '' : l.slice(c + 1); if (v[0] === ' ') v = v.slice(1);
    if (name === 'data') data = data === null ? v : data + '\n' + v;
    else if (name === 'event') type = v; else if (name === 'id' && !v.includes('\0')) id = v;
  }
  return { events: ev, comments, id };
}
describe('review sse', () => {
  it('fuzz random splits', () => {
    const atoms = ['data', ':', ' ', 'x', 'é', '😀', '\r', '\n', '\r\n', 'id', 'event', 'message', '\ufeff', 'retry: 5'];
    let seed = 1; const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (let iter = 0; iter < 20000; iter++) {
      let s = rnd(3) === 0 ? '\ufeff' : '';
      const n = rnd(30);
      for (let i = 0; i < n; i++) s += atoms[rnd(atoms.length)];
      const chunks: string[] = []; let i = 0;
      while (i < s.length) { const k = 1 + rnd(5); chunks.push(s.slice(i, i + k)); i += k; if (rnd(4) === 0) chunks.push(''); }
      const a = run(chunks); const b = ref(s);
      assert.deepEqual({ events: a.events, comments: a.comments, id: a.id }, b, JSON.stringify(chunks));
    }
  });
  it('cpu: many colon-less lines in one chunk', () => {
    for (const n of [8192, 16384, 32768]) {
      const chunk = 'a\n'.repeat(n);
      const t = performance.now();
      run([chunk]);
      console.log('lines', n, 'ms', (performance.now() - t).toFixed(1));
    }
  });
});
