/**
 * A bench server (servers.ts) of one kind in a process of its own, for the benches that drive it
 * from this process (bench:fallback, bench:rigs). Killed with `stop()`, and with `stopAll()` on exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Kind } from './kinds.js';

const here = dirname(fileURLToPath(import.meta.url));
const children = new Set<ChildProcess>();

export interface PeerServer {
  readonly port: number;
  stop(): void;
}

export async function spawnServer(kind: Kind): Promise<PeerServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'servers.ts'), kind], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.on('error', () => children.delete(child));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${kind}: server exited ${code}`)));
  });
  const { port } = JSON.parse(line) as { port: number };
  return {
    port,
    stop() {
      children.delete(child);
      child.kill();
    },
  };
}

/** Kills every server still running. */
export function stopAll(): void {
  for (const c of children) c.kill();
  children.clear();
}
