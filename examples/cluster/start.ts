/**
 * `npm run demo:cluster`: the chat demo on three nodes sharing one Redis, behind nginx with plain
 * round-robin (no affinity) on http://127.0.0.1:3000 (PORT to change it). Uses the Redis on
 * 127.0.0.1:6379 when it answers PING, else starts a throwaway one. Ctrl-C stops everything; so does
 * this process dying any other way (even SIGKILL): the nodes watch their stdin, and a watchdog
 * (watchdog.mjs) stops nginx and the throwaway Redis.
 *
 * Open two tabs, force different transports (?transport=sse, ?transport=polling): every request of a
 * tab may land on another node and the chat does not notice. Kill a node (its pid is printed) and the
 * tabs carry on.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertPortFree, freePort, redisCommand, startRedis } from '@burrow/test-support/procs';
import { type NodeProc, spawnNode, startClusterNginx } from '../../e2e/cluster/launch.js';

const PORT = Number(process.env.PORT || 3000);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`PORT must be a port number (0-65535), not "${process.env.PORT}"`);
  process.exit(1);
}
const NODES = Number(process.env.NODES ?? 3);
const script = fileURLToPath(new URL('./chat-node.ts', import.meta.url));
const cleanups: Array<() => Promise<void>> = [];
// Outlives us by design: when our end of its stdin closes without "done", it stops nginx and redis.
const watchdog = spawn(process.execPath, [fileURLToPath(new URL('./watchdog.mjs', import.meta.url))], {
  stdio: ['pipe', 'ignore', 'inherit'],
  // Its own process group: a Ctrl-C in the terminal is ours to handle, not its.
  detached: true,
});
watchdog.on('error', (e) => console.error(`watchdog: ${e.message}`));
watchdog.stdin!.on('error', () => {});
const tell = (what: object | 'done'): void => void watchdog.stdin!.write((typeof what === 'string' ? what : JSON.stringify(what)) + '\n');
let stopping = false;
const stop = async (code = 0) => {
  if (stopping) return;
  stopping = true;
  for (const c of cleanups.reverse()) await c().catch(() => {});
  tell('done');
  process.exit(code);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

try {
  // Before Redis and the nodes: a busy port says so at once (nginx would fail to bind it, and
  // whatever already answers there would look like the demo).
  const port = PORT === 0 ? await freePort() : PORT;
  try {
    await assertPortFree(port);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    console.error(`Port ${port} is already in use. Start the demo on another one: PORT=${port + 1} npm run demo:cluster`);
    await stop(1);
  }
  let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!process.env.REDIS_URL && (await redisCommand(6379, 'PING')) !== '+PONG') {
    const redis = await startRedis();
    tell({ redis: { port: redis.port, dir: redis.dir } });
    cleanups.push(() => redis.dispose());
    redisUrl = redis.url;
    console.log(`started redis-server on ${redis.url} (nothing answered on 6379)`);
  } else {
    console.log(`using Redis at ${redisUrl}`);
  }
  const nodes: NodeProc[] = [];
  for (let i = 1; i <= NODES; i++) {
    const node = await spawnNode({
      name: `node${i}`,
      port: await freePort(),
      redisUrl,
      prefix: 'burrow-chat-demo:',
      script,
      onText: (t) => process.stderr.write(`[node${i}] ${t}`),
    });
    nodes.push(node);
    cleanups.push(() => node.proc.stop(3000));
    node.proc.proc.once('exit', (code, signal) => {
      if (!stopping) console.log(`node${i} (pid ${node.pid}) exited (${code ?? signal}); the others carry on`);
    });
  }
  const nginx = await startClusterNginx(nodes.map((n) => n.port), port);
  tell({ nginx: { pidFile: join(nginx.dir, 'nginx.pid'), dir: nginx.dir } });
  cleanups.push(() => nginx.close());
  for (const n of nodes) console.log(`  ${n.name}: http://127.0.0.1:${n.port}  pid ${n.pid}`);
  console.log(`\nBurrow chat on ${nodes.length} nodes behind nginx (round-robin, no affinity): http://127.0.0.1:${port}`);
  console.log(`force a transport: http://127.0.0.1:${port}/?transport=sse or ?transport=polling   (Ctrl-C stops everything)`);
} catch (e) {
  console.error(e);
  await stop(1);
}
