// The cluster demo's watchdog (started by start.ts, its stdin a pipe from start.ts). The chat nodes
// exit by themselves when start.ts goes away (they watch their stdin); nginx and redis-server do not.
// start.ts tells this process what it started, one JSON line each: {"nginx":{"pidFile","dir"}} and
// {"redis":{"port","dir"}}, and "done" once it stopped them itself. When its stdin ends without
// "done" (start.ts was killed, even by SIGKILL, or crashed), it stops them: nginx by the pid in its pid
// file (SIGTERM, which ends the workers too; SIGKILL after 5 s), redis-server with SHUTDOWN NOSAVE;
// then it removes their temp dirs.
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';

/** @type {{ nginx?: { pidFile: string, dir: string }, redis?: { port: number, dir: string } }} */
const started = {};
let done = false;
let buf = '';

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const stopNginx = async ({ pidFile, dir }) => {
  let pid = 0;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    // No pid file: nginx is gone already (it removes it on exit).
  }
  if (pid > 0 && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const until = Date.now() + 5000;
    while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
};

const stopRedis = ({ port, dir }) =>
  new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const end = () => {
      sock.destroy();
      rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    sock.setTimeout(3000, end);
    sock.on('error', end);
    sock.on('close', end);
    sock.on('connect', () => sock.write('*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n'));
  });

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i).trim();
    buf = buf.slice(i + 1);
    if (line === 'done') done = true;
    else if (line) Object.assign(started, JSON.parse(line));
  }
});
let gone = false;
const onGone = async () => {
  if (gone) return;
  gone = true;
  if (!done) {
    if (started.nginx) await stopNginx(started.nginx).catch(() => {});
    if (started.redis) await stopRedis(started.redis).catch(() => {});
  }
  process.exit(0);
};
process.stdin.on('end', onGone);
process.stdin.on('error', onGone);
