// Compiles client/test/types/*.ts with the strictest settings and no skipLibCheck: a BurrowSocket is
// assignable to the DOM WebSocket and its handlers are typed as a WebSocket's (issue 16).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('BurrowSocket type-checks as a drop-in for the DOM WebSocket (tsc, strict, no skipLibCheck)', () => {
  const args = [
    'tsc', '--noEmit', '--strict', '--skipLibCheck', 'false', '--exactOptionalPropertyTypes', '--noUncheckedIndexedAccess',
    '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--lib', 'ES2022,DOM',
    '--types', 'node', '--customConditions', 'burrow-src',
    'client/test/types/drop-in.ts',
  ];
  let out = '';
  try {
    execFileSync('npx', args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  expect(out).toBe('');
}, 60_000);
