/**
 * The rigs' nginx config, run by the shared process manager (@burrow/test-support/procs: Debian's
 * /usr/sbin/nginx in a temp prefix, foreground, stopped and removed by `close()`): one worker,
 * 127.0.0.1 only, every log and temp path inside the prefix.
 *
 * `ws` is what happens to the WebSocket location (`/burrow/ws`):
 *   pass    proxied with Upgrade/Connection (proxy_http_version 1.1)
 *   refuse  `return 403`
 *   proxy   proxied with Upgrade/Connection to `wsUpstream` (a black hole, a silent relay)
 * `buffer` turns proxy_buffering on for everything else, with buffers larger than Burrow's SSE preamble
 * and X-Accel-Buffering ignored, so an SSE stream is held until it ends.
 * `idleTimeout` (seconds) sets proxy_read_timeout / proxy_send_timeout: idle connections are cut.
 */
import { existsSync } from 'node:fs';
import { NGINX_BIN, type NginxProc, startNginx as runNginx } from '@burrow/test-support/procs';

export const haveNginx = (): boolean => existsSync(NGINX_BIN);

export interface NginxOptions {
  upstreamPort: number;
  ws: 'pass' | 'refuse' | 'proxy';
  wsUpstreamPort?: number;
  buffer?: boolean;
  idleTimeout?: number;
}

export type Nginx = NginxProc;

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

export function startNginx(o: NginxOptions): Promise<Nginx> {
  return runNginx((dir, port) => nginxConfig(dir, port, o));
}
