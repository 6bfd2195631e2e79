/**
 * Prometheus metrics of one Burrow node, on `prom-client` (an optional peer dependency, required
 * only when metrics are created: an app without it pays nothing). Counters come from the Burrow's
 * events and a per-message tap; gauges are computed at scrape time from this node's sessions; store
 * latency comes from a timing wrapper put around the store when metrics start.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { EventEmitter } from 'node:events';
import type { BurrowEvents } from './events.js';
import { internals } from './internals.js';
import type { Refusal } from './lifecycle.js';
import { TimingStore } from '../store/timing-store.js';
import { monotonicNow } from '../deadlines.js';
import { unreadBody } from '../http/respond.js';

/**
 * A prom-client `Registry`, as far as these types need to know it: typed structurally so that the
 * published types compile without prom-client, an optional peer dependency.
 */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /**
   * Where the metrics are registered: a prom-client `Registry`. Default: a new one (not prom-client's
   * global one).
   */
  registry?: MetricsRegistry;
  /** Metric name prefix. Default `burrow_`. */
  prefix?: string;
  /** Buckets of `burrow_store_duration_seconds`. */
  storeBuckets?: number[];
}

export interface BurrowMetrics {
  /** The prom-client `Registry` holding Burrow's metrics. */
  readonly registry: MetricsRegistry;
  /** `node:http` / Express handler answering the text exposition format (calls nothing else). */
  readonly handler: (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;
  /** The exposition text, as the handler serves it. */
  text(): Promise<string>;
}

const TRANSPORTS = ['websocket', 'sse', 'polling'] as const;

let prom: typeof PromClient | undefined;

function loadPromClient(): typeof PromClient {
  if (prom) return prom;
  try {
    prom = createRequire(import.meta.url)('prom-client') as typeof PromClient;
    return prom;
  } catch (err) {
    throw new Error('burrow: metrics need the optional peer dependency prom-client (npm install prom-client)', { cause: err });
  }
}

/**
 * Registers Burrow's metrics for `burrow` in `options.registry` (or a new one) and returns it with a
 * handler. Call once per Burrow (`burrow.metrics()` caches it); names are in the README. `burrow` is
 * typed by its events only, so this module never imports the Burrow that loads it.
 */
export function createMetrics(burrow: EventEmitter<BurrowEvents>, options: MetricsOptions = {}): BurrowMetrics {
  const client = loadPromClient();
  const inner = internals.get(burrow);
  if (!inner) throw new TypeError('burrow: createMetrics needs a Burrow');
  const { registry: reg, lifecycle } = inner;
  // A registry passed in is prom-client's (MetricsRegistry is its public face in the types).
  const registry = (options.registry as PromClient.Registry | undefined) ?? new client.Registry();
  const p = options.prefix ?? 'burrow_';
  const registers = [registry];

  new client.Gauge({
    name: `${p}sessions`,
    help: 'Sessions with a live transport on this node, by transport',
    labelNames: ['transport'],
    registers,
    collect() {
      const counts: Record<string, number> = { websocket: 0, sse: 0, polling: 0 };
      const now = monotonicNow();
      const o = reg.options;
      for (const core of reg.cores()) {
        if (core.closed || core.transport === null) continue;
        // A polling client is between two polls most of the time: count it while it keeps polling.
        const live = core.attached || (core.transport === 'polling' && now - core.lastSeen < o.heartbeat + o.heartbeatTimeout);
        if (live) counts[core.transport] = (counts[core.transport] ?? 0) + 1;
      }
      for (const t of TRANSPORTS) this.set({ transport: t }, counts[t] ?? 0);
    },
  });
  new client.Gauge({
    name: `${p}outbound_buffered_messages`,
    help: 'Outbound messages queued but not yet acknowledged, summed over the sessions attached to this node',
    registers,
    collect() {
      let n = 0;
      for (const core of reg.cores()) if (core.attached) n += core.unacked;
      this.set(n);
    },
  });
  new client.Gauge({
    name: `${p}draining`,
    help: '1 while this node is draining',
    registers,
    collect() {
      this.set(reg.draining ? 1 : 0);
    },
  });

  const opened = new client.Counter({ name: `${p}sessions_opened_total`, help: 'New sessions created on this node', registers });
  const closed = new client.Counter({ name: `${p}sessions_closed_total`, help: 'Sessions ended, by close code', labelNames: ['code'], registers });
  const fallbacks = new client.Counter({
    name: `${p}fallbacks_total`,
    help: 'Client fallbacks to another transport, by reason (from the client)',
    labelNames: ['from', 'to', 'reason'],
    registers,
  });
  const upgrades = new client.Counter({ name: `${p}upgrades_total`, help: 'Transport upgrades (sse/polling -> websocket)', labelNames: ['from', 'to'], registers });
  const resumes = new client.Counter({ name: `${p}resumes_total`, help: 'Sessions resumed after a lost transport, by transport', labelNames: ['transport'], registers });
  const limits = new client.Counter({ name: `${p}limits_total`, help: 'Limits hit, by limit and close code', labelNames: ['limit', 'code'], registers });
  const refusals = new client.Counter({ name: `${p}refusals_total`, help: 'Requests and upgrades refused, by status and error', labelNames: ['status', 'error'], registers });
  const msgIn = new client.Counter({ name: `${p}messages_received_total`, help: 'Messages received from clients (new, not resends), by transport', labelNames: ['transport'], registers });
  const msgOut = new client.Counter({ name: `${p}messages_sent_total`, help: 'Messages written to clients (resends included), by transport', labelNames: ['transport'], registers });
  const bytesIn = new client.Counter({ name: `${p}received_bytes_total`, help: 'Payload bytes of messages received, by transport', labelNames: ['transport'], registers });
  const bytesOut = new client.Counter({ name: `${p}sent_bytes_total`, help: 'Payload bytes of messages written, by transport', labelNames: ['transport'], registers });
  const storeTime = new client.Histogram({
    name: `${p}store_duration_seconds`,
    help: 'Latency of store calls, by operation',
    labelNames: ['op'],
    buckets: options.storeBuckets ?? [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });

  // Zeroes, so every series exists from the first scrape.
  for (const t of TRANSPORTS) {
    resumes.inc({ transport: t }, 0);
    for (const c of [msgIn, msgOut, bytesIn, bytesOut]) c.inc({ transport: t }, 0);
  }
  msgIn.inc({ transport: 'http' }, 0);
  bytesIn.inc({ transport: 'http' }, 0);

  burrow.on('connection', () => opened.inc());
  burrow.on('close', (_s, code) => closed.inc({ code: String(code) }));
  burrow.on('fallback', (_s, i) => fallbacks.inc({ from: i.from, to: i.to, reason: i.reason }));
  burrow.on('upgrade', (_s, i) => upgrades.inc({ from: i.from, to: i.to }));
  burrow.on('resume', (_s, i) => resumes.inc({ transport: i.transport }));
  burrow.on('limit', (_s, i) => limits.inc({ limit: i.limit, code: String(i.code) }));
  lifecycle.refusalListeners.add((r: Refusal) => refusals.inc({ status: String(r.status), error: r.error }));
  lifecycle.tap = {
    received(via, bytes) {
      msgIn.inc({ transport: via });
      bytesIn.inc({ transport: via }, bytes);
    },
    sent(transport, frames) {
      let n = 0;
      let bytes = 0;
      for (const f of frames) {
        if (f.frame.t !== 'd') continue;
        n++;
        bytes += f.size;
      }
      if (n === 0) return;
      msgOut.inc({ transport }, n);
      bytesOut.inc({ transport }, bytes);
    },
  };
  reg.instrumentStore((store) => new TimingStore(store, (op, seconds) => storeTime.observe({ op }, seconds)));

  const text = (): Promise<string> => registry.metrics();
  const handler: BurrowMetrics['handler'] = (req, res) => {
    // A reset mid-answer must not be an uncaught 'error' that ends the process.
    req.on('error', destroyOnError);
    res.on('error', destroyOnError);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Answered before a declared body arrived: close rather than let Node drain it (docs/SECURITY.md).
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain', ...(unreadBody(req) ? { Connection: 'close' } : {}) }).end('method not allowed\n');
      return;
    }
    text().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };
  return { registry, handler, text };
}

function destroyOnError(this: { destroy(): void }): void {
  this.destroy();
}
