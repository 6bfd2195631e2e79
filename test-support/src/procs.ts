/**
 * The one process manager of the suites, the rigs, the cluster, the benchmarks and the demos: free
 * ports, temp dirs that are removed, child processes that are always stopped (also when this process
 * ends without running its cleanups: a crash, Ctrl-C, the test runner stopping its worker), readiness
 * probes, and a LIFO of cleanups that all run. Built on it: redis-server and nginx.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

// ---------------------------------------------------------------------------------------------------
// Kill on exit

/** Every child still running, with the signal that ends it when this process goes away. */
const live = new Map<ChildProcess, NodeJS.Signals>();
const dirs = new Set<string>();

function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

function killAll(): void {
  for (const [c, signal] of live) if (running(c)) c.kill(signal);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    // A program with a handler of its own (a demo's graceful stop) is in charge of shutting down, and
    // the 'exit' hook catches whatever it leaves. Alone, we clean up and let the signal do its default.
    if (process.listenerCount(sig) > 0) return;
    killAll();
    process.kill(process.pid, sig);
  });
}

// ---------------------------------------------------------------------------------------------------
// Ports and dirs

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Rejects with an error whose `code` is EADDRINUSE when 127.0.0.1:port is taken. Before a daemon is
 * started on a port the caller chose: waitForPort alone would take whoever already answers there
 * for the daemon (the cluster demo announced itself over another app).
 */
export async function assertPortFree(port: number): Promise<void> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((resolve) => srv.close(() => resolve()));
}

export interface TempDir {
  readonly path: string;
  remove(): void;
}

/** A fresh dir under the OS temp dir, removed by `remove()` or, at the latest, when this process exits. */
export function tempDir(prefix: string): TempDir {
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
    if (!child.running) throw new Error(`${child.name} exited (${child.exitInfo}) before listening on ${port}:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not listen on ${port} within ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 25)); // the retry interval of a readiness probe, not a synchronisation
  }
}

// ---------------------------------------------------------------------------------------------------
// Child processes

export interface SpawnManagedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * 'pipe' keeps the child's stdin open for as long as this process lives: a child that exits on EOF
   * (the cluster nodes) then dies with us even when we are killed with SIGKILL. Default 'ignore'.
   */
  stdin?: 'pipe' | 'ignore';
  /** Files whose tail `output()` appends (error logs of daemons that do not write to stderr). */
  logFiles?: string[];
  /**
   * The signal that ends the child when this process exits without stopping it. Default SIGTERM:
   * nginx's master takes its workers down, Squid exits (shutdown_lifetime 0). SIGKILL for a child
   * that must not linger (a node whose graceful close could outlive us).
   */
  exitSignal?: NodeJS.Signals;
}

export interface Managed {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly running: boolean;
  /** How it ended, once it did. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** `code X signal Y` once it ended, '' before. */
  readonly exitInfo: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** The last 4 KB of stdout + stderr, and the tails of `logFiles`: for error messages. */
  output(): string;
  /** Sends `signal` (default SIGKILL: `kill -9`) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL if it still runs after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(name: string, cmd: string, args: readonly string[], opts: SpawnManagedOptions = {}): Managed {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  live.set(proc, opts.exitSignal ?? 'SIGTERM');
  let out = '';
  const keep = (c: Buffer): void => {
    out = (out + c.toString()).slice(-8000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.once('error', (e) => (out += `\nspawn error: ${e.message}`));
  let exit: Managed['exit'];
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(proc);
      resolve();
    });
    // A binary that cannot be spawned (ENOENT) gets 'error' and never 'exit': without this, stop()
    // and kill() waited for ever, and so did every cleanup behind them.
    proc.once('error', () => {
      if (proc.pid !== undefined) return;
      exit = { code: proc.exitCode, signal: null };
      live.delete(proc);
      resolve();
    });
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (running(proc)) proc.kill(signal);
    await exited;
  };
  return {
    name,
    proc,
    get pid() {
      return proc.pid ?? -1;
    },
    get running() {
      return running(proc);
    },
    get exit() {
      return exit;
    },
    get exitInfo() {
      return exit ? `code ${exit.code} signal ${exit.signal}` : '';
    },
    exited,
    output() {
      let logs = '';
      for (const f of opts.logFiles ?? []) {
        try {
          logs += `\n--- ${f}\n` + readFileSync(f, 'utf8').slice(-4000);
        } catch {
          // not written yet
        }
      }
      return out.slice(-4000) + logs;
    },
    kill,
    async stop(graceMs = 5000) {
      if (!running(proc)) return exited;
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
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step[1]();
      } catch (e) {
        errors.push(`${step[0]}: ${(e as Error).message}`);
      }
    }
    if (errors.length) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// redis-server

export const REDIS_BIN = process.env.REDIS_SERVER ?? 'redis-server';

/** Sends one command to Redis in RESP and resolves with the first reply line ('' if the peer closed). */
export function redisCommand(port: number, ...words: string[]): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: string): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(3000, () => done(''));
    sock.on('error', () => done(''));
    sock.on('connect', () => sock.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.split('\r\n')[0]!);
    });
    sock.on('close', () => done(buf));
  });
}

export interface RedisProc {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SHUTDOWN SAVE (or NOSAVE): the data set is on disk afterwards unless `save` is false. */
  stop(opts?: { save?: boolean }): Promise<void>;
  /** Starts it again on the same port and dir; `keepData: false` deletes the dump first (restart empty). */
  start(opts?: { keepData?: boolean }): Promise<void>;
  /** Stops it for good and removes its dir. */
  dispose(): Promise<void>;
}

/** A redis-server of the caller's own on a free port (or `port`), its dump in a temp dir. */
export async function startRedis(port?: number): Promise<RedisProc> {
  const p = port ?? (await freePort());
  const dir = tempDir('redis');
  let child: Managed | undefined;
  const launch = async (): Promise<void> => {
    const c = spawnManaged(
      'redis-server',
      REDIS_BIN,
      ['--bind', '127.0.0.1', '--port', String(p), '--save', '', '--appendonly', 'no', '--dir', dir.path, '--dbfilename', 'dump.rdb'],
      { exitSignal: 'SIGKILL' },
    );
    child = c;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not get ready:\n${c.output()}`)), 10_000);
      const onData = (): void => {
        if (!c.output().includes('Ready to accept connections')) return;
        clearTimeout(timer);
        c.proc.stdout!.off('data', onData);
        resolve();
      };
      c.proc.stdout!.on('data', onData);
      void c.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${c.exitInfo}):\n${c.output()}`));
      });
    });
  };
  await launch();
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    dir: dir.path,
    async stop({ save = true } = {}) {
      const c = child;
      if (!c?.running) return;
      await redisCommand(p, 'SHUTDOWN', save ? 'SAVE' : 'NOSAVE');
      const t = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
      await c.exited;
      clearTimeout(t);
    },
    async start({ keepData = true } = {}) {
      if (child?.running) throw new Error('redis is running');
      if (!keepData) rmSync(join(dir.path, 'dump.rdb'), { force: true });
      await launch();
    },
    async dispose() {
      await child?.kill('SIGKILL');
      dir.remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Redis Cluster

export const REDIS_CLI_BIN = process.env.REDIS_CLI ?? 'redis-cli';

export interface RedisClusterProc {
  /** Every server's port: primaries and replicas as `redis-cli --cluster create` paired them. */
  readonly ports: readonly number[];
  /** `127.0.0.1:port,...` of every server: what a node's ioredis `Cluster` starts from. */
  readonly seeds: string;
  /** Ports of the servers that are primaries right now (CLUSTER NODES, asked of a live server). */
  primaries(): Promise<number[]>;
  /** Port of the primary serving `hashTag`'s slot now (a session's keys share the tag `{sid}`). */
  primaryFor(hashTag: string): Promise<number>;
  /** SIGKILLs one server (a primary: its replica is promoted after `cluster-node-timeout`). */
  kill(port: number): Promise<void>;
  /** Resolves once every live server reports `cluster_state:ok` and every primary is a live server (a failover is over). */
  waitOk(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** A CLUSTER NODES line of a primary not flagged failing (flags: e.g. `myself,master`, `master,fail?`). */
const isLivePrimary = (line: string): boolean => {
  const flags = line.split(' ')[2]?.split(',') ?? [];
  return flags.includes('master') && !flags.some((f) => f.startsWith('fail'));
};

/** Milliseconds a primary may be unreachable before its replica takes over (small: tests wait for it). */
const CLUSTER_NODE_TIMEOUT_MS = 1000;

/**
 * A Redis Cluster of its own: `primaries` primaries with one replica each (`redis-server
 * --cluster-enabled yes` on free ports, joined by `redis-cli --cluster create … --cluster-replicas 1`).
 */
export async function startRedisCluster(primaries = 3): Promise<RedisClusterProc> {
  const n = primaries * 2;
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const dir = tempDir('redis-cluster');
  const children = new Map<number, Managed>();
  const dispose = async (): Promise<void> => {
    await Promise.all([...children.values()].map((c) => c.kill('SIGKILL')));
    dir.remove();
  };
  try {
    await Promise.all(
      ports.map(async (port) => {
        const c = spawnManaged(
          `redis-cluster-${port}`,
          REDIS_BIN,
          [
            '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir.path,
            '--dbfilename', `dump-${port}.rdb`, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
            '--cluster-node-timeout', String(CLUSTER_NODE_TIMEOUT_MS),
            // Redis 7 holds a replica's first (diskless) sync back 5 s for more replicas to join; a
            // primary killed in that window leaves a replica that never synced, which refuses to take
            // over ("data too old"), and the cluster stays down.
            '--repl-diskless-sync-delay', '0',
          ],
          { exitSignal: 'SIGKILL' },
        );
        children.set(port, c);
        await waitForPort(port, c);
      }),
    );
    const create = spawnManaged(
      'redis-cli --cluster create',
      REDIS_CLI_BIN,
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      { exitSignal: 'SIGKILL' },
    );
    await create.exited;
    if (!create.output().includes('[OK] All 16384 slots covered')) throw new Error(`redis-cli --cluster create failed:\n${create.output()}`);
  } catch (e) {
    await dispose();
    throw e;
  }
  const live = () => ports.filter((p) => children.get(p)?.running);
  const info = async (port: number): Promise<string> => {
    const { stdout } = await execFileP(REDIS_CLI_BIN, ['-p', String(port), 'cluster', 'info']).catch(() => ({ stdout: '' }));
    return stdout;
  };
  const cluster: RedisClusterProc = {
    ports,
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    async primaries() {
      for (const p of live()) {
        const { stdout } = await execFileP(REDIS_CLI_BIN, ['-p', String(p), 'cluster', 'nodes']).catch(() => ({ stdout: '' }));
        if (!stdout) continue;
        return stdout
          .split('\n')
          .filter(isLivePrimary)
          .map((l) => Number(/:(\d+)@/.exec(l)?.[1]))
          .filter((x) => x > 0);
      }
      return [];
    },
    async primaryFor(hashTag) {
      for (const p of live()) {
        const slot = Number((await execFileP(REDIS_CLI_BIN, ['-p', String(p), 'cluster', 'keyslot', hashTag]).catch(() => ({ stdout: '' }))).stdout.trim());
        const { stdout } = await execFileP(REDIS_CLI_BIN, ['-p', String(p), 'cluster', 'nodes']).catch(() => ({ stdout: '' }));
        for (const line of stdout.split('\n')) {
          if (!isLivePrimary(line)) continue;
          const ranges = line.trim().split(' ').slice(8);
          if (ranges.some((r) => (r.includes('-') ? slot >= Number(r.split('-')[0]) && slot <= Number(r.split('-')[1]) : slot === Number(r)))) {
            return Number(/:(\d+)@/.exec(line)?.[1]);
          }
        }
      }
      throw new Error(`no primary found for the slot of ${hashTag}`);
    },
    async kill(port) {
      await children.get(port)?.kill('SIGKILL');
    },
    async waitOk(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(live().map(info));
        const primaries = await cluster.primaries();
        // A killed primary stays listed without a fail flag until the others agree it failed.
        const alive = new Set(live());
        if (states.every((s) => s.includes('cluster_state:ok')) && primaries.length === n / 2 && primaries.every((p) => alive.has(p))) return;
        if (Date.now() > deadline) {
          // What the servers said about the failover (votes, "can't failover" reasons): the only account of why it stalled.
          const logs = live().map((p) => `--- :${p}\n${children.get(p)!.output().split('\n').slice(-25).join('\n')}`);
          throw new Error(`redis cluster not ok after ${timeoutMs} ms: ${states.map((s) => /cluster_state:\w+/.exec(s)?.[0]).join(', ')}\n${logs.join('\n')}`);
        }
        // Cluster state is gossip between the servers: there is no event to wait on from here.
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    dispose,
  };
  await cluster.waitOk();
  // Every replica synced with its primary: until then a killed primary has no replica able to take over.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const infos = await Promise.all(ports.map(async (p) => (await execFileP(REDIS_CLI_BIN, ['-p', String(p), 'info', 'replication']).catch(() => ({ stdout: '' }))).stdout));
    const synced = infos.filter((i) => i.includes('role:slave') && i.includes('master_link_status:up') && !i.includes('master_sync_in_progress:1')).length;
    if (synced === n / 2) break;
    if (Date.now() > deadline) {
      await dispose();
      throw new Error(`redis cluster replicas not in sync after 15 s: ${infos.map((i) => /master_link_status:\w+/.exec(i)?.[0] ?? /role:\w+/.exec(i)?.[0]).join(', ')}`);
    }
    // Replication state is only polled (INFO): there is no event to wait on from here.
    await new Promise((r) => setTimeout(r, 100));
  }
  return cluster;
}

// ---------------------------------------------------------------------------------------------------
// nginx

export const NGINX_BIN = process.env.NGINX_PATH ?? process.env.NGINX ?? '/usr/sbin/nginx';

export interface NginxProc {
  readonly port: number;
  /** The prefix dir: config, logs, pid and temp paths, removed by `close()`. */
  readonly dir: string;
  readonly url: string;
  /** The config it runs with. */
  readonly config: string;
  /** Lines of the access log so far. */
  accessLog(): string[];
  errorLog(): string;
  close(): Promise<void>;
}

/**
 * A real nginx in the foreground in a temp prefix, on `port` (default a free one) of 127.0.0.1.
 * `config(dir, port)` renders the whole nginx.conf; it must keep every log and temp path inside `dir`.
 */
export async function startNginx(config: (dir: string, port: number) => string, port?: number): Promise<NginxProc> {
  const cleanup = new Cleanup();
  const tmp = tempDir('nginx');
  cleanup.add('nginx temp dir', () => tmp.remove());
  try {
    const p = port ?? (await freePort());
    if (port !== undefined) await assertPortFree(port);
    mkdirSync(join(tmp.path, 'logs'));
    const conf = config(tmp.path, p);
    const confFile = join(tmp.path, 'nginx.conf');
    writeFileSync(confFile, conf);
    const errorLog = join(tmp.path, 'error.log');
    // As root, nginx's workers would run as nobody and could not use the temp paths of our 0700 dir.
    const user = process.getuid?.() === 0 ? ' user root;' : '';
    const proc = spawnManaged('nginx', NGINX_BIN, ['-p', tmp.path, '-c', confFile, '-e', errorLog, '-g', `daemon off; pid ${tmp.path}/nginx.pid;${user}`], {
      logFiles: [errorLog],
      exitSignal: 'SIGTERM', // SIGKILL would orphan the worker
    });
    cleanup.add('nginx', () => proc.stop());
    await waitForPort(p, proc);
    const read = (f: string): string => {
      try {
        return readFileSync(join(tmp.path, f), 'utf8');
      } catch {
        return '';
      }
    };
    return {
      port: p,
      dir: tmp.path,
      url: `http://127.0.0.1:${p}`,
      config: conf,
      accessLog: () => read('access.log').split('\n').filter(Boolean),
      errorLog: () => read('error.log'),
      close: () => cleanup.run(),
    };
  } catch (e) {
    await cleanup.run().catch(() => {});
    throw e;
  }
}
