// Test helpers: a raw WebSocket client with an awaitable message queue, an event waiter and JSON
// over fetch. The server they talk to is @burrow/test-support's startTestServer. Nothing here sleeps;
// everything waits for the event it needs.
import { connect as connectTcp } from 'node:net';
import { once, type EventEmitter } from 'node:events';
import { WebSocket } from 'ws';

/** Collects items pushed by an event source; `next()` waits for the next one. */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((v: T) => void)[] = [];
  push(v: T): void {
    const w = this.#waiters.shift();
    if (w) w(v);
    else this.#items.push(v);
  }
  next(): Promise<T> {
    const v = this.#items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((r) => this.#waiters.push(r));
  }
  get pending(): number {
    return this.#items.length;
  }
}

export type WsIn = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Buffer };

export interface RawClient {
  ws: WebSocket;
  inbox: Inbox<WsIn>;
  closed: Promise<{ code: number; reason: string }>;
  /** Next message that is not an ack/pong control frame. */
  nextFrame(): Promise<WsIn>;
  /** Next JSON control frame. */
  nextJson(): Promise<Record<string, unknown>>;
}

export async function connectWs(url: string, protocols?: string | string[]): Promise<RawClient> {
  const ws = new WebSocket(url, protocols);
  const inbox = new Inbox<WsIn>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    inbox.push(isBinary ? { kind: 'binary', bytes: data } : { kind: 'text', text: data.toString('utf8') });
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('error', () => {});
  await Promise.race([once(ws, 'open'), closed]);
  return {
    ws,
    inbox,
    closed,
    async nextFrame() {
      for (;;) {
        const m = await inbox.next();
        if (m.kind === 'text' && (m.text.startsWith('{"t":"ack"') || m.text === '{"t":"pong"}')) continue;
        return m;
      }
    },
    async nextJson() {
      for (;;) {
        const m = await inbox.next();
        if (m.kind === 'text' && m.text.startsWith('{')) return JSON.parse(m.text) as Record<string, unknown>;
      }
    },
  };
}

/** Resolves with the args of the next `event` on `emitter` that passes `filter`. */
export function waitFor<A extends unknown[]>(emitter: EventEmitter, event: string, filter: (...args: A) => boolean = () => true): Promise<A> {
  return new Promise((resolve) => {
    const on = (...args: unknown[]): void => {
      if (filter(...(args as A))) {
        emitter.off(event, on);
        resolve(args as A);
      }
    };
    emitter.on(event, on);
  });
}

export async function postJson(url: string, body: unknown, contentType = 'text/plain;charset=UTF-8'): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Deletes every key under `prefix` (a test's own Redis namespace) on the Redis at `url`. */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const admin = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await admin.del(...keys);
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

/**
 * Writes `raw` on a new TCP connection to `port` (a request whose body may never come whole);
 * resolves with the answer's head once it arrived, and `closed`, settled when the connection closes.
 */
export async function rawAnswerHead(port: number, raw: string): Promise<{ head: string; closed: Promise<unknown> }> {
  const socket = connectTcp(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.on('close', resolve));
  let got = '';
  const head = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) resolve(got);
    });
  });
  socket.write(raw);
  return { head: await head, closed };
}
