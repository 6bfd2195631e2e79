/**
 * The restrictive networks of DESIGN.md as real components, one `startRig(name)` each. Every rig runs
 * the app (e2e/rigs/app.ts) and puts real pieces between Chromium and it:
 *   pass       nginx, WebSocket proxied properly (the control)
 *   refuse     (1) nginx answers the upgrade with 403
 *   blackhole  (2) nginx proxies the upgrade to a TCP listener that never answers
 *   silent     (3) nginx -> relay that passes the 101 and drops every server byte after it
 *   buffer     (4) nginx buffers every response (X-Accel-Buffering ignored) and refuses the upgrade
 *   idle       (5) nginx cuts connections idle for 3 s; Burrow's heartbeat is 1 s, pollTimeout 1.5 s
 *   midcut     (6) a byte relay in front of nginx that cuts connections mid-message once armed
 *   squid      (7) Chromium sent through Squid as a forward proxy (CONNECT to non-SSL ports denied)
 *   latency    a relay adding 75 ms each way (150 ms RTT) in front of nginx pass-through: the race
 *              must not fire (no HTTP request on a first load)
 *   latency-hang  the same relay in front of nginx black-holing the upgrade
 * `close()` stops everything the rig started (and removes its temp dirs), also after a failed start.
 */
import type { BurrowOptions } from '@burrow/server';
import { Cleanup } from '@burrow/test-support/procs';
import { startLatencyRelay } from '../tests/fixtures/latency-relay.js';
import { startRigProxy } from '../tests/fixtures/rig-proxy.js';
import { type RigApp, startRigApp } from './app.js';
import { haveNginx, type Nginx, startNginx } from './nginx.js';
import { type Cutter, startBlackHole, startCutter } from './relays.js';
import { haveSquid, type Squid, startSquid } from './squid.js';

export type Transport = 'websocket' | 'sse' | 'polling';
export type RigName = 'pass' | 'refuse' | 'blackhole' | 'silent' | 'buffer' | 'idle' | 'midcut' | 'squid' | 'latency' | 'latency-hang';

/** One-way delay of the latency rigs' relay (ms): a 150 ms round trip. */
export const LATENCY_ONE_WAY = 75;

export interface RigDef {
  title: string;
  /** The transport the default (auto) client must end on. */
  expected: Transport;
  /** Transports the network lets through: each is also run forced (`transports: [t]`). */
  allowed: Transport[];
  /** What "the rig's cut" is during the message exchange. */
  cut: 'server-kill' | 'idle' | 'relay-cut';
  needs: () => boolean;
}

export const RIGS: Record<RigName, RigDef> = {
  pass: { title: 'nginx pass-through', expected: 'websocket', allowed: ['websocket', 'sse', 'polling'], cut: 'server-kill', needs: haveNginx },
  refuse: { title: 'nginx refuses the upgrade (403)', expected: 'sse', allowed: ['sse', 'polling'], cut: 'server-kill', needs: haveNginx },
  blackhole: { title: 'nginx black-holes the upgrade', expected: 'sse', allowed: ['sse', 'polling'], cut: 'server-kill', needs: haveNginx },
  silent: { title: 'upgrade accepted, frames never arrive', expected: 'sse', allowed: ['sse', 'polling'], cut: 'server-kill', needs: haveNginx },
  buffer: { title: 'nginx buffers responses (SSE never streams), upgrade refused', expected: 'polling', allowed: ['polling'], cut: 'server-kill', needs: haveNginx },
  idle: { title: 'nginx cuts connections idle for 3 s', expected: 'websocket', allowed: ['websocket', 'sse', 'polling'], cut: 'idle', needs: haveNginx },
  midcut: { title: 'connections cut mid-message (relay in front of nginx)', expected: 'websocket', allowed: ['websocket', 'sse', 'polling'], cut: 'relay-cut', needs: haveNginx },
  squid: { title: 'Squid forward proxy (no WebSocket)', expected: 'sse', allowed: ['sse', 'polling'], cut: 'server-kill', needs: haveSquid },
  latency: { title: '150 ms RTT relay, nginx pass-through', expected: 'websocket', allowed: ['websocket', 'sse', 'polling'], cut: 'server-kill', needs: haveNginx },
  'latency-hang': { title: '150 ms RTT relay, nginx black-holes the upgrade', expected: 'sse', allowed: ['sse', 'polling'], cut: 'server-kill', needs: haveNginx },
};

export const RIG_NAMES = Object.keys(RIGS) as RigName[];

export interface Rig {
  readonly name: RigName;
  readonly def: RigDef;
  readonly app: RigApp;
  /** Where the browser loads the page from. */
  readonly origin: string;
  /** Extra Chromium flags (the Squid rig sends Chromium through the proxy): for a browser of its own. */
  readonly browserArgs: string[];
  /**
   * The same for one browser context (Playwright's `newContext` options): the Squid rig's proxy, with
   * loopback proxied too (`<-loopback>`: the app is on 127.0.0.1). Lets one browser serve every rig.
   */
  readonly contextOptions: { proxy?: { server: string; bypass: string } };
  readonly nginx?: Nginx;
  readonly squid?: Squid;
  readonly cutter?: Cutter;
  /** Counters of the misbehaving pieces, to prove they saw traffic. */
  readonly seen: { blackHoleAccepted?: () => number; silentUpgrades?: () => number };
  /** WebSocket attempts the proxy logged so far (nginx `GET /burrow/ws`, Squid `CONNECT`). */
  wsAttemptsLogged(): number;
  close(): Promise<void>;
}

export async function startRig(name: RigName): Promise<Rig> {
  const def = RIGS[name];
  const cleanup = new Cleanup();
  try {
    const serverOptions: Partial<BurrowOptions> =
      name === 'idle' ? { heartbeat: 1000, heartbeatTimeout: 1500, pollTimeout: 1500 } : {};
    const app = await startRigApp(serverOptions);
    cleanup.add('app', () => app.close());
    let nginx: Nginx | undefined;
    let squid: Squid | undefined;
    let cutter: Cutter | undefined;
    let origin = app.origin;
    let browserArgs: string[] = [];
    let contextOptions: Rig['contextOptions'] = {};
    const seen: Rig['seen'] = {};
    const withNginx = async (o: Omit<Parameters<typeof startNginx>[0], 'upstreamPort'>) => {
      nginx = await startNginx({ upstreamPort: app.port, ...o });
      cleanup.add('nginx', () => nginx!.close());
      origin = `http://127.0.0.1:${nginx.port}`;
    };
    switch (name) {
      case 'pass':
        await withNginx({ ws: 'pass' });
        break;
      case 'refuse':
        await withNginx({ ws: 'refuse' });
        break;
      case 'blackhole': {
        const hole = await startBlackHole();
        cleanup.add('black hole', () => hole.close());
        seen.blackHoleAccepted = () => hole.accepted.count;
        await withNginx({ ws: 'proxy', wsUpstreamPort: hole.port });
        break;
      }
      case 'silent': {
        const relay = await startRigProxy({ port: app.port }, { upgrade: 'silent' });
        cleanup.add('silent relay', () => relay.close());
        seen.silentUpgrades = () => relay.seen.upgrades;
        await withNginx({ ws: 'proxy', wsUpstreamPort: relay.port });
        break;
      }
      case 'buffer':
        await withNginx({ ws: 'refuse', buffer: true });
        break;
      case 'idle':
        await withNginx({ ws: 'pass', idleTimeout: 3 });
        break;
      case 'midcut': {
        await withNginx({ ws: 'pass' });
        cutter = await startCutter(nginx!.port);
        cleanup.add('cutter', () => cutter!.close());
        origin = `http://127.0.0.1:${cutter.port}`;
        break;
      }
      case 'latency':
      case 'latency-hang': {
        if (name === 'latency') await withNginx({ ws: 'pass' });
        else {
          const hole = await startBlackHole();
          cleanup.add('black hole', () => hole.close());
          seen.blackHoleAccepted = () => hole.accepted.count;
          await withNginx({ ws: 'proxy', wsUpstreamPort: hole.port });
        }
        const relay = await startLatencyRelay({ port: nginx!.port }, LATENCY_ONE_WAY);
        cleanup.add('latency relay', () => relay.close());
        origin = `http://127.0.0.1:${relay.port}`;
        break;
      }
      case 'squid':
        squid = await startSquid();
        cleanup.add('squid', () => squid!.close());
        browserArgs = [`--proxy-server=http://127.0.0.1:${squid.port}`, '--proxy-bypass-list=<-loopback>'];
        contextOptions = { proxy: { server: `http://127.0.0.1:${squid.port}`, bypass: '<-loopback>' } };
        break;
    }
    return {
      name,
      def,
      app,
      origin,
      browserArgs,
      contextOptions,
      nginx,
      squid,
      cutter,
      seen,
      wsAttemptsLogged() {
        if (nginx) return nginx.accessLog().filter((l) => l.includes('GET /burrow/ws')).length;
        if (squid) return squid.accessLog().filter((l) => l.includes(' CONNECT ')).length;
        return 0;
      },
      close: () => cleanup.run(),
    };
  } catch (e) {
    await cleanup.run().catch(() => {});
    throw e;
  }
}
