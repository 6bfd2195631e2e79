/**
 * TCP-level pieces the rigs put next to nginx:
 *   startBlackHole()  accepts connections and never answers (rig 2, the upstream of the WS location)
 *   startCutter()     a byte relay that, once armed, destroys each connection after N more bytes in
 *                     either direction, writing only the first part of the chunk that crosses the
 *                     line, so the cut lands in the middle of a frame / HTTP message (rig 6)
 */
import { EventEmitter } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface BlackHole {
  readonly port: number;
  readonly accepted: { count: number };
  close(): Promise<void>;
}

function track(set: Set<Socket>, s: Socket): Socket {
  set.add(s);
  s.on('close', () => set.delete(s));
  s.on('error', () => {});
  return s;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

export async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  const accepted = { count: 0 };
  const server = createServer((s) => {
    accepted.count++;
    track(sockets, s).resume(); // read and discard; never write
  });
  const port = await listen(server);
  return {
    port,
    accepted,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface Cutter {
  readonly port: number;
  /** Connections cut so far. */
  readonly cuts: { count: number };
  /** From now on, cut every connection after `afterBytes` more bytes, `times` times in all. */
  arm(afterBytes: number, times: number): void;
  /** Resolves when `cuts.count >= n`. */
  waitForCuts(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCutter(targetPort: number): Promise<Cutter> {
  const sockets = new Set<Socket>();
  const cuts = { count: 0 };
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let armed: { afterBytes: number; left: number } | null = null;
  const counters = new Map<Socket, number>(); // client socket -> bytes since armed

  const server = createServer((client) => {
    track(sockets, client);
    const upstream = track(sockets, connect(targetPort, '127.0.0.1'));
    counters.set(client, 0);
    const cut = () => {
      counters.delete(client);
      client.destroy();
      upstream.destroy();
    };
    const relay = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!armed || armed.left <= 0) {
          to.write(chunk);
          return;
        }
        const before = counters.get(client) ?? 0;
        const room = armed.afterBytes - before;
        if (chunk.length < room) {
          counters.set(client, before + chunk.length);
          to.write(chunk);
          return;
        }
        // Cross the line: pass part of the chunk (never all of it), then cut both sides.
        const part = Math.max(0, Math.min(room, chunk.length - 1));
        armed.left--;
        cuts.count++;
        if (part > 0) to.write(chunk.subarray(0, part), cut);
        else cut();
        events.emit('cut');
      });
    };
    upstream.on('connect', () => {
      relay(client, upstream);
      relay(upstream, client);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await listen(server);
  return {
    port,
    cuts,
    arm(afterBytes, times) {
      armed = { afterBytes, left: times };
      for (const k of counters.keys()) counters.set(k, 0);
    },
    waitForCuts(n, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        if (cuts.count >= n) return resolve();
        const t = setTimeout(() => reject(new Error(`cutter: ${cuts.count}/${n} cuts`)), timeoutMs);
        const on = () => {
          if (cuts.count < n) return;
          clearTimeout(t);
          events.off('cut', on);
          resolve();
        };
        events.on('cut', on);
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
