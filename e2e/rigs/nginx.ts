/**
 * A real nginx (Debian's /usr/sbin/nginx) in a temp prefix: one worker, 127.0.0.1 only, every log and
 * temp path inside the prefix, foreground, stopped and removed by `close()`.
 *
 * `ws` is what happens to the WebSocket location (`/burrow/ws`):
 *   pass    proxied with Upgrade/Connection (proxy_http_version 1.1)
 *   refuse  `return 403`
 *   proxy   proxied with Upgrade/Connection to `wsUpstream` (a black hole, a silent relay)
 * `buffer` turns proxy_buffering on for everything else, with buffers larger than Burrow's SSE preamble
 * and X-Accel-Buffering ignored, so an SSE stream is held until it ends.
 * `idleTimeout` (seconds) sets proxy_read_timeout / proxy_send_timeout: idle connections are cut.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup, freePort, type Managed, spawnManaged, tempDir, waitForPort } from './procs.js';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
export const haveNginx = () => existsSync(NGINX);

export interface NginxOptions {
  upstreamPort: number;
  ws: 'pass' | 'refuse' | 'proxy';
  wsUpstreamPort?: number;
  buffer?: boolean;
  idleTimeout?: number;
}

export interface Nginx {
  readonly port: number;
  readonly dir: string;
  readonly config: string;
  /** Lines of the access log so far (request line, status). */
  accessLog(): string[];
  close(): Promise<void>;
}

export function nginxConfig(dir: string, port: number, o: NginxOptions): string {
  const timeout = o.idleTimeout ? `${o.idleTimeout}s` : '3600s';
  // The buffering rig talks HTTP/1.0 upstream: nginx passes a *chunked* upstream body on as soon as a
  // chunk is complete even with proxy_buffering on, so only an unchunked body is really held.
  const common = (httpVersion: string) => `
      proxy_http_version ${httpVersion};
      proxy_set_header Host $host;
      proxy_read_timeout ${timeout};
      proxy_send_timeout ${timeout};`;
  const upgrade = `
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;`;
  const ws =
    o.ws === 'refuse'
      ? 'return 403;'
      : `proxy_pass http://127.0.0.1:${o.ws === 'proxy' ? o.wsUpstreamPort : o.upstreamPort};${common('1.1')}${upgrade}`;
  const buffering = o.buffer
    ? `
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
      proxy_buffer_size 16k;
      proxy_buffers 8 64k;
      proxy_busy_buffers_size 64k;
      proxy_max_temp_file_size 0;`
    : `
      proxy_buffering off;`;
  return `worker_processes 1;
error_log ${dir}/error.log info;
events { worker_connections 512; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location = /burrow/ws {
      ${ws}
    }
    location / {
      proxy_pass http://127.0.0.1:${o.upstreamPort};${common(o.buffer ? '1.0' : '1.1')}${buffering}
    }
  }
}
`;
}

export async function startNginx(o: NginxOptions): Promise<Nginx> {
  const cleanup = new Cleanup();
  const tmp = tempDir('rig-nginx');
  cleanup.add('nginx temp dir', () => tmp.remove());
  try {
    const port = await freePort();
    const config = nginxConfig(tmp.path, port, o);
    const confFile = join(tmp.path, 'nginx.conf');
    writeFileSync(confFile, config);
    const proc: Managed = spawnManaged(
      'nginx',
      NGINX,
      ['-p', tmp.path, '-c', confFile, '-e', join(tmp.path, 'error.log'), '-g', `daemon off; pid ${tmp.path}/nginx.pid; user root;`],
      { logFiles: [join(tmp.path, 'error.log')] },
    );
    cleanup.add('nginx', () => proc.stop());
    await waitForPort(port, proc);
    return {
      port,
      dir: tmp.path,
      config,
      accessLog() {
        try {
          return readFileSync(join(tmp.path, 'access.log'), 'utf8').split('\n').filter(Boolean);
        } catch {
          return [];
        }
      },
      close: () => cleanup.run(),
    };
  } catch (e) {
    await cleanup.run().catch(() => {});
    throw e;
  }
}
