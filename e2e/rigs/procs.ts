/**
 * Process and resource plumbing for the rigs: free ports, waiting for a port to accept, child
 * processes that are always stopped (also when the test process dies), and temp dirs that are removed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
// Last resort when the test process ends without its cleanups (a crash, Ctrl-C, the runner's kill):
// SIGTERM lets nginx's master take its workers down and Squid exit (shutdown_lifetime 0).
function killAll() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAll();
    process.kill(process.pid, sig); // the handler is gone: default action
  });
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `burrow-${prefix}-`));
  dirs.add(path);
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      dirs.delete(path);
    },
  };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects if `child` exits first or after `timeoutMs`. */
export async function waitForPort(port: number, child: Managed, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (child.exited) throw new Error(`${child.name} exited (${child.exitInfo}) before listening on ${port}:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not listen on ${port} within ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 25)); // retry interval of a readiness probe, not a synchronisation sleep
  }
}

export interface Managed {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: boolean;
  readonly exitInfo: string;
  output(): string;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(name: string, cmd: string, args: string[], opts: { cwd?: string; logFiles?: string[] } = {}): Managed {
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  let exitInfo = '';
  const exited = new Promise<void>((r) =>
    proc.once('exit', (code, signal) => {
      exitInfo = `code ${code} signal ${signal}`;
      children.delete(proc);
      r();
    }),
  );
  proc.once('error', (e) => (out += `\nspawn error: ${e.message}`));
  return {
    name,
    proc,
    get exited() {
      return proc.exitCode !== null || proc.signalCode !== null;
    },
    get exitInfo() {
      return exitInfo;
    },
    output() {
      let logs = '';
      for (const f of opts.logFiles ?? []) {
        try {
          logs += `\n--- ${f}\n` + readFileSync(f, 'utf8').slice(-4000);
        } catch {}
      }
      return out.slice(-4000) + logs;
    },
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A LIFO list of cleanups that all run even when some fail. */
export class Cleanup {
  private readonly steps: Array<[string, () => unknown]> = [];
  add(what: string, fn: () => unknown): void {
    this.steps.push([what, fn]);
  }
  async run(): Promise<void> {
    const errors: string[] = [];
    while (this.steps.length) {
      const [what, fn] = this.steps.pop()!;
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    }
    if (errors.length) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }
}
