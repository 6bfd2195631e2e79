/**
 * The cluster rig's own processes, on the shared process manager (@burrow/test-support/procs): Burrow
 * nodes (e2e/cluster/node.ts, one process each) and the round-robin nginx in front of them. Used by
 * the e2e fixture, the demo and the benchmark; redis-server comes from the process manager as is.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Managed, type NginxProc, spawnManaged, startNginx } from '@burrow/test-support/procs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE_SCRIPT = fileURLToPath(new URL('./node.ts', import.meta.url));
const NGINX_TEMPLATE = fileURLToPath(new URL('./nginx.conf.template', import.meta.url));

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
  /** `host:port,...` of a Redis Cluster's servers (instead of `redisUrl`). */
  redisCluster?: string;
  /** RedisStore's `sweepIntervalMs` (a Redis Cluster reports expiries through the sweep). */
  sweepIntervalMs?: number;
  prefix?: string;
  clockSkewMs?: number;
  /** Burrow options passed as flags: heartbeat, heartbeatTimeout, pollTimeout, resumeWindow, closeLinger. */
  timings?: Partial<Record<'heartbeat' | 'heartbeatTimeout' | 'pollTimeout' | 'resumeWindow' | 'closeLinger' | 'ackDelay', number>>;
  /** Another script to run instead of node.ts (the demo runs the chat). */
  script?: string;
  /**
   * Run Burrow from its build (`dist/`, as users do) rather than its TypeScript sources: for the
   * benchmarks, where tsx's per-function name wrappers would be counted as Burrow's cost.
   */
  fromBuild?: boolean;
  /** No per-message log line or record (the cluster bench: see node.ts `--quiet`). */
  quiet?: boolean;
  /** Extra `node` flags (the cluster bench's `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** Every JSON line the process prints (except the ready line). */
  onLine?: (line: NodeLine) => void;
  /** Non-JSON output (stderr, stray prints). */
  onText?: (text: string) => void;
}

export interface NodeProc {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** The process, as the process manager runs it (`kill()` is a kill -9). */
  readonly proc: Managed;
  /** True while the process runs. */
  readonly alive: boolean;
  /** Exit code / signal of the last run, once it ended. */
  readonly exit: Managed['exit'];
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
  if (spec.redisCluster) argv.push(`--redis-cluster=${spec.redisCluster}`);
  if (spec.sweepIntervalMs !== undefined) argv.push(`--sweep-interval-ms=${spec.sweepIntervalMs}`);
  if (spec.prefix) argv.push(`--prefix=${spec.prefix}`);
  if (spec.clockSkewMs) argv.push(`--clock-skew-ms=${spec.clockSkewMs}`);
  if (spec.quiet) argv.push('--quiet');
  for (const [k, v] of Object.entries(spec.timings ?? {})) argv.push(`--${FLAG[k]}=${v}`);
  const proc = spawnManaged(`node ${spec.name}`, process.execPath, [...(spec.nodeArgs ?? []), ...(spec.fromBuild ? [] : ['--conditions=burrow-src']), '--import', 'tsx', spec.script ?? NODE_SCRIPT, ...argv], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test' },
    // stdin is a pipe the node watches: when this process dies, even by SIGKILL, the node exits too.
    stdin: 'pipe',
    exitSignal: 'SIGKILL',
  });
  const child = proc.proc;
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
    void proc.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`node ${spec.name} exited (${proc.exitInfo}) before ready:\n${early}`));
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(text) as Record<string, unknown>;
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
          pid: proc.pid,
          proc,
          get alive() {
            return proc.running;
          },
          get exit() {
            return proc.exit;
          },
        });
        return;
      }
      spec.onLine?.(o as unknown as NodeLine);
    });
  });
}

/** The config for `upstreams` (ports), listening on `port`, every path inside `dir`. */
export function renderNginxConf(dir: string, port: number, upstreams: readonly number[]): string {
  const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n');
  return readFileSync(NGINX_TEMPLATE, 'utf8')
    .replaceAll('{{PREFIX}}', dir)
    .replaceAll('{{LISTEN}}', `127.0.0.1:${port}`)
    .replaceAll('{{SERVERS}}', servers);
}

/** nginx with plain round-robin and no affinity over `upstreams` (ports), on `port` (default a free one). */
export function startClusterNginx(upstreams: readonly number[], port?: number): Promise<NginxProc> {
  return startNginx((dir, p) => renderNginxConf(dir, p, upstreams), port);
}
