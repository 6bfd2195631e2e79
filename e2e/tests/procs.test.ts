/**
 * Regressions in the process manager the rigs and demos run on (review of the kit and demo,
 * 2026-12-03): a daemon on a port someone else held was taken as listening (the cluster demo
 * announced itself over another app), and a binary that could not be spawned left stop() waiting
 * for an 'exit' that never comes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { spawnManaged, startNginx } from '@burrow/test-support/procs';

const root = fileURLToPath(new URL('../..', import.meta.url));
let busy: Server;
let busyPort = 0;
beforeAll(async () => {
  busy = createServer((s) => s.end('OTHER APP\n'));
  busy.listen(0, '127.0.0.1');
  await once(busy, 'listening');
  busyPort = (busy.address() as AddressInfo).port;
});
afterAll(() => busy.close());

describe('process manager', () => {
  it('a binary that cannot be spawned: stop() and kill() resolve, it is not running', async () => {
    const p = spawnManaged('missing', '/nonexistent/burrow-test-binary', []);
    await p.exited;
    assert.equal(p.running, false);
    await p.stop();
    await p.kill();
    assert.match(p.output(), /ENOENT/);
  });

  it('startNginx on a port another process holds rejects with EADDRINUSE, not that process taken for nginx', async () => {
    await assert.rejects(
      startNginx((dir, port) => `events {} http { server { listen 127.0.0.1:${port}; } }`, busyPort),
      (err: { code?: string }) => err.code === 'EADDRINUSE',
    );
  });

  it('demo:cluster on a busy port says so and exits 1, before starting anything', { timeout: 40_000 }, async () => {
    const child = spawn(process.execPath, ['--conditions=burrow-src', '--import', 'tsx', 'examples/cluster/start.ts'], {
      cwd: root,
      env: { ...process.env, PORT: String(busyPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const exited = once(child, 'exit') as Promise<[number]>;
    // Were it to start the demo (the regression), SIGINT is its Ctrl-C: it stops its nodes and nginx.
    const stopIfRunning = setTimeout(() => child.kill('SIGINT'), 30_000);
    const [code] = await exited.finally(() => clearTimeout(stopIfRunning));
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`Port ${busyPort} is already in use`));
    assert.doesNotMatch(out, /Burrow chat on/);
  });
});
