/**
 * What a user installs (issue 16): the three packages packed as npm would publish them, installed in a
 * clean project, which type-checks under `strict` with no `skipLibCheck` and no DOM lib (a Node
 * service) and runs the README's echo end to end. The tarballs carry types, a README and a LICENSE,
 * and no test files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'burrow-packed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd = dir): string => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('packed packages in a clean project', () => {
  it('pack: types, README and LICENSE in every tarball, no test files', () => {
    // npm test built dist already; --ignore-scripts skips prepack's clean rebuild.
    const out = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir, '-w', 'shared', '-w', 'server', '-w', 'client', '-w', 'playwright'], root);
    const packs = JSON.parse(out) as Array<{ name: string; files: Array<{ path: string }> }>;
    // The Playwright kit too (review of 2026-12-03: it had no LICENSE, license field or prepack).
    assert.deepEqual(packs.map((p) => p.name).sort(), ['@burrow/client', '@burrow/playwright', '@burrow/server', '@burrow/shared']);
    for (const p of packs) {
      const paths = p.files.map((f) => f.path);
      assert.ok(paths.includes('dist/index.d.ts'), `${p.name} ships its types`);
      assert.ok(paths.includes('README.md') && paths.includes('LICENSE'), `${p.name} ships README and LICENSE`);
      assert.deepEqual(paths.filter((f) => /(\.test\.|(^|\/)test\/|tsbuildinfo)/.test(f)), [], `${p.name} ships no test files`);
    }
  });

  it('install, type-check (strict, no skipLibCheck, no DOM lib) and run the README echo', { timeout: 120_000 }, () => {
    const tgz = (name: string) => `file:./${readdirSync(dir).find((f) => f.startsWith(`burrow-${name}-`))}`;
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'burrow-user',
        private: true,
        type: 'module',
        dependencies: { '@burrow/shared': tgz('shared'), '@burrow/server': tgz('server'), '@burrow/client': tgz('client'), '@types/node': '^20.19.0' },
      }),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], strict: true, skipLibCheck: false, outDir: 'out' },
        files: ['index.ts'],
      }),
    );
    writeFileSync(
      join(dir, 'index.ts'),
      `import { createServer } from 'node:http';
import { createBurrow } from '@burrow/server';
import { BurrowSocket } from '@burrow/client';

const burrow = createBurrow({ path: '/burrow' });
burrow.on('message', (session, data) => void session.send(data));
const server = createServer((req, res) => {
  if (!burrow.handle(req, res)) res.writeHead(404).end();
});
burrow.attach(server);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  const socket = new BurrowSocket(\`ws://127.0.0.1:\${port}/burrow\`);
  socket.onopen = () => socket.send('hello');
  socket.onmessage = (e) => {
    console.log(\`echo \${e.data} over \${socket.transport}\`);
    socket.close();
    void burrow.close().then(() => server.close());
  };
});
`,
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund']);
    run(join(root, 'node_modules/.bin/tsc'), ['-p', '.']);
    assert.equal(run('node', ['out/index.js']).trim(), 'echo hello over websocket');
  });
});
