/**
 * A real Squid (Debian's /usr/sbin/squid) as a forward proxy in a temp dir: http_port on a free
 * 127.0.0.1 port, no cache, logs and pid inside the dir, `-N` foreground. Its ACLs are the stock ones:
 * CONNECT only to SSL ports, so Chromium's ws:// (tunnelled with CONNECT through an HTTP proxy) fails.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup, freePort, spawnManaged, tempDir, waitForPort } from '@burrow/test-support/procs';

export const SQUID = process.env.SQUID_PATH ?? '/usr/sbin/squid';
export const haveSquid = () => existsSync(SQUID);

export interface Squid {
  readonly port: number;
  accessLog(): string[];
  close(): Promise<void>;
}

export function squidConfig(dir: string, port: number): string {
  return `http_port 127.0.0.1:${port}
acl SSL_ports port 443
acl Safe_ports port 80
acl Safe_ports port 443
acl Safe_ports port 1025-65535
acl CONNECT method CONNECT
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localhost
http_access deny all
cache deny all
cache_mem 8 MB
pid_filename ${dir}/squid.pid
cache_log ${dir}/cache.log
access_log stdio:${dir}/access.log
cache_store_log none
netdb_filename none
coredump_dir ${dir}
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
visible_hostname burrow-rig
`;
}

export async function startSquid(): Promise<Squid> {
  const cleanup = new Cleanup();
  const tmp = tempDir('rig-squid');
  cleanup.add('squid temp dir', () => tmp.remove());
  try {
    chmodSync(tmp.path, 0o777); // Squid started as root writes its logs as its effective user
    const port = await freePort();
    const conf = join(tmp.path, 'squid.conf');
    writeFileSync(conf, squidConfig(tmp.path, port));
    const proc = spawnManaged('squid', SQUID, ['-N', '-f', conf], { logFiles: [join(tmp.path, 'cache.log')] });
    cleanup.add('squid', () => proc.stop());
    await waitForPort(port, proc);
    return {
      port,
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
