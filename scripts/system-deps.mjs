#!/usr/bin/env node
// Run by `npm test` before the suites: the real parts they start (Debian's Chromium, nginx, Squid,
// redis-server) must be on the machine, and the Redis the store suites use must answer on
// 127.0.0.1:6379. Missing packages are installed when this runs as root on Debian (apt-get);
// otherwise it stops with the one command to run. No suite is left to skip for a missing binary.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const need = [
  { pkg: 'chromium', bin: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', why: 'the browser suites' },
  { pkg: 'nginx', bin: '/usr/sbin/nginx', why: 'the network rigs and the cluster balancer' },
  { pkg: 'squid', bin: '/usr/sbin/squid', why: 'the forward-proxy rig' },
  { pkg: 'redis-server', bin: 'redis-server', why: 'RedisStore and the cluster suites' },
  { pkg: 'redis-tools', bin: 'redis-cli', why: 'Redis Cluster set-up' },
];

const onPath = (bin) => (bin.startsWith('/') ? existsSync(bin) : spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0);
const missing = need.filter((n) => !onPath(n.bin));

if (missing.length > 0) {
  const pkgs = missing.map((m) => m.pkg);
  const canInstall = process.getuid?.() === 0 && onPath('apt-get');
  if (!canInstall) {
    for (const m of missing) console.error(`missing: ${m.bin} (${m.why})`);
    console.error(`\nInstall them, then run npm test again:\n  sudo apt-get install -y ${pkgs.join(' ')}\n`);
    process.exit(1);
  }
  console.error(`installing ${pkgs.join(', ')} (apt-get) for the suites that start them`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

// The store suites' Redis: the machine's own on 6379, started here when it is down.
if (spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG') {
  console.error('starting redis-server on 127.0.0.1:6379 (nothing kept on disk)');
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  for (let i = 0; i < 50; i++) {
    if (spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') break;
    spawnSync('sleep', ['0.1']);
  }
}
