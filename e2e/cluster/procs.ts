/**
 * Real processes of the cluster rig: redis-server, Burrow nodes (e2e/cluster/node.ts) and nginx, each
 * on a free 127.0.0.1 port, each killable. Used by the e2e fixture, the demo and the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE_SCRIPT = fileURLToPath(new URL('./node.ts', import.meta.url));
const NGINX_TEMPLATE = fileURLToPath(new URL('./nginx.conf.template', import.meta.url));
export const NGINX_BIN = process.env.NGINX ?? '/usr/sbin/nginx';
export const REDIS_BIN = process.env.REDIS_SERVER ?? 'redis-server';

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `burrow-${tag}-`));
}

/** Every process this module started and that still runs: killed when this process exits, however it exits. */
const live = new Set<ChildProcess>();
function track(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): ChildProcess {
  live.add(child);
  (child as ChildProcess & { burrowExitSignal?: NodeJS.Signals }).burrowExitSignal = signal;
  child.once('exit', () => live.delete(child));
  return child;
}
process.once('exit', () => {
  for (const c of live) c.kill((c as ChildProcess & { burrowExitSignal?: NodeJS.Signals }).burrowExitSignal ?? 'SIGKILL');
});

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Sends one command to Redis in RESP and resolves with the first reply line ('' if the peer closed). */
export function redisCommand(port: number, ...words: string[]): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: string) => {
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

export async function startRedis(port?: number): Promise<RedisProc> {
  const p = port ?? (await freePort());
  const dir = tempDir('redis');
  let child: ChildProcess | undefined;
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(
        REDIS_BIN,
        ['--bind', '127.0.0.1', '--port', String(p), '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'dump.rdb'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = track(c);
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not get ready:\n${out}`)), 10000);
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${out}`));
      });
    });
  await launch();
  const r: RedisProc = {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    dir,
    async stop({ save = true } = {}) {
      const c = child;
      if (!c || c.exitCode !== null) return;
      await redisCommand(p, 'SHUTDOWN', save ? 'SAVE' : 'NOSAVE');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited(c);
      clearTimeout(t);
    },
    async start({ keepData = true } = {}) {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('redis is running');
      if (!keepData) rmSync(join(dir, 'dump.rdb'), { force: true });
      await launch();
    },
    async dispose() {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited(c);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

/** One line a node printed (see e2e/cluster/node.ts). */
export interface NodeLine {
  node: string;
  kind: 'http' | 'upgrade' | 'open' | 'msg' | 'close' | 'error' | 'send-error' | 'crash';
  sid?: string;
  method?: string;
  path?: string;
  m?: string;
  /** msg lines: the client seq and whether the node that took over a dead one redelivered it. */
  seq?: number;
  redelivered?: boolean;
  t?: string;
  code?: number;
  reason?: string;
  message?: string;
  transport?: string;
}

export interface NodeSpec {
  name: string;
  port?: number;
  /** 'redis' (default) or 'memory'. */
  store?: 'redis' | 'memory';
  redisUrl?: string;
  prefix?: string;
  clockSkewMs?: number;
  /** Burrow options passed as flags: heartbeat, heartbeatTimeout, pollTimeout, resumeWindow, closeLinger. */
  timings?: Partial<Record<'heartbeat' | 'heartbeatTimeout' | 'pollTimeout' | 'resumeWindow' | 'closeLinger' | 'ackDelay', number>>;
  /** Another script to run instead of node.ts (the demo runs the chat). */
  script?: string;
  /** Every JSON line the process prints (except the ready line). */
  onLine?: (line: NodeLine) => void;
  /** Non-JSON output (stderr, stray prints). */
  onText?: (text: string) => void;
}

export interface NodeProc {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** True while the process runs. */
  readonly alive: boolean;
  /** Exit code / signal of the last run, once it ended. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const FLAG: Record<string, string> = {
  heartbeat: 'heartbeat',
  heartbeatTimeout: 'heartbeat-timeout',
  pollTimeout: 'poll-timeout',
  resumeWindow: 'resume-window',
  closeLinger: 'close-linger',
  ackDelay: 'ack-delay',
};

/** Spawns a node and resolves once it prints `{"ready": port}`. */
export function spawnNode(spec: NodeSpec): Promise<NodeProc> {
  const argv = [`--name=${spec.name}`, `--port=${spec.port ?? 0}`, `--store=${spec.store ?? 'redis'}`];
  if (spec.redisUrl) argv.push(`--redis=${spec.redisUrl}`);
  if (spec.prefix) argv.push(`--prefix=${spec.prefix}`);
  if (spec.clockSkewMs) argv.push(`--clock-skew-ms=${spec.clockSkewMs}`);
  for (const [k, v] of Object.entries(spec.timings ?? {})) argv.push(`--${FLAG[k]}=${v}`);
  const child = spawn(process.execPath, ['--conditions=burrow-src', '--import', 'tsx', spec.script ?? NODE_SCRIPT, ...argv], {
    cwd: ROOT,
    // stdin is a pipe the node watches: when this process dies, even by SIGKILL, the node exits too.
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test' },
  });
  track(child);
  let exit: NodeProc['exit'];
  child.once('exit', (code, signal) => (exit = { code, signal }));
  return new Promise((resolve, reject) => {
    let early = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${spec.name} did not get ready:\n${early}`));
    }, 20000);
    child.stderr!.on('data', (d: Buffer) => {
      const s = d.toString();
      early += s;
      spec.onText?.(s);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${spec.name} exited (${code}) before ready:\n${early}`));
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(text);
      } catch {
        early += text + '\n';
        spec.onText?.(text + '\n');
        return;
      }
      if (typeof o.ready === 'number') {
        clearTimeout(timer);
        resolve({
          name: spec.name,
          port: o.ready,
          pid: child.pid!,
          child,
          get alive() {
            return child.exitCode === null && child.signalCode === null;
          },
          get exit() {
            return exit;
          },
        });
        return;
      }
      spec.onLine?.(o as unknown as NodeLine);
    });
  });
}

export async function killProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const t = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited(child);
  if (t) clearTimeout(t);
}

export interface NginxProc {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  /** The access log so far: one line per request, with `upstream=` naming the node(s) tried. */
  accessLog(): string;
  errorLog(): string;
  stop(): Promise<void>;
}

/** Renders the config for `upstreams` (ports) listening on `port`, into `dir`. */
export function renderNginxConf(dir: string, port: number, upstreams: readonly number[]): string {
  const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n');
  const conf = readFileSync(NGINX_TEMPLATE, 'utf8')
    .replaceAll('{{PREFIX}}', dir)
    .replaceAll('{{LISTEN}}', `127.0.0.1:${port}`)
    .replaceAll('{{SERVERS}}', servers);
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

export async function startNginx(upstreams: readonly number[], port?: number): Promise<NginxProc> {
  const p = port ?? (await freePort());
  const dir = tempDir('nginx');
  mkdirSync(join(dir, 'logs'));
  const conf = renderNginxConf(dir, p, upstreams);
  const child = spawn(NGINX_BIN, ['-p', dir, '-c', conf, '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child, 'SIGTERM'); // SIGKILL would orphan the worker
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${out}\n${readIf(join(dir, 'error.log'))}`);
    const ok = await new Promise<boolean>((r) => {
      const s = createConnection({ host: '127.0.0.1', port: p });
      s.on('connect', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: p,
    dir,
    url: `http://127.0.0.1:${p}`,
    accessLog: () => readIf(join(dir, 'access.log')),
    errorLog: () => readIf(join(dir, 'error.log')),
    async stop() {
      await killProcess(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readIf(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
