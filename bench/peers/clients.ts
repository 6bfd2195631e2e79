/**
 * One uniform client per kind for the load process: open (resolves on the library's own `open` /
 * `connect`), send a string, get strings back, close. Every library runs with its stock Node client.
 */
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { BurrowSocket } from '@burrow/client';
import { io } from 'socket.io-client';
import SockJS from 'sockjs-client';
import { BENCH_PATHS, type FallbackLib, type Kind } from './kinds.js';

export interface Conn {
  send(s: string): void;
  close(): void;
  /** The transport the library reports, when it reports one. */
  transport(): string;
}

export type OnMessage = (s: string) => void;

const HOST = '127.0.0.1';

/** Opens a session of `kind` on `port`; rejects when it closes before opening or after `timeoutMs`. */
export function openConn(kind: Kind, port: number, onMessage: OnMessage, timeoutMs = 15_000): Promise<Conn> {
  return withTimeout(openRaw(kind, port, onMessage), timeoutMs, `${kind}: open timed out`);
}

/** Opens a library's default client (used for the refused / hung upgrade cases). */
export function openDefault(lib: FallbackLib, port: number, onMessage: OnMessage, timeoutMs = 15_000): Promise<Conn> {
  const p =
    lib === 'burrow'
      ? openBurrow(port, undefined, onMessage)
      : lib === 'socketio'
        ? openSocketIo(port, undefined, onMessage)
        : lib === 'socketio-wsfirst'
          ? openSocketIo(port, ['websocket', 'polling'], onMessage)
          : openSockJs(port, undefined, onMessage);
  return withTimeout(p, timeoutMs, `${lib}: open timed out`);
}

function openRaw(kind: Kind, port: number, onMessage: OnMessage): Promise<Conn> {
  switch (kind) {
    case 'ws':
      return openWs(port, onMessage);
    case 'burrow-ws':
      return openBurrow(port, ['websocket'], onMessage);
    case 'burrow-sse':
      return openBurrow(port, ['sse'], onMessage);
    case 'burrow-polling':
      return openBurrow(port, ['polling'], onMessage);
    case 'socketio-ws':
      return openSocketIo(port, ['websocket'], onMessage);
    case 'socketio-polling':
      return openSocketIo(port, ['polling'], onMessage);
    case 'sockjs-ws':
      return openSockJs(port, ['websocket'], onMessage);
    case 'sockjs-xhr-streaming':
      return openSockJs(port, ['xhr-streaming'], onMessage);
    case 'sockjs-xhr-polling':
      return openSockJs(port, ['xhr-polling'], onMessage);
    case 'http-sse':
      return openHttpSse(port, onMessage);
    case 'http-poll':
      return openHttpPoll(port, onMessage);
  }
}

function withTimeout<T extends Conn>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const t = setTimeout(() => {
      late = true;
      reject(new Error(what));
    }, ms);
    p.then(
      (c) => {
        clearTimeout(t);
        if (late) c.close();
        else resolve(c);
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function openWs(port: number, onMessage: OnMessage): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${HOST}:${port}/`, { perMessageDeflate: false });
    ws.on('message', (d) => onMessage(d.toString()));
    ws.on('error', () => {});
    ws.once('close', () => reject(new Error('ws closed before open')));
    ws.once('open', () =>
      resolve({ send: (s) => ws.send(s), close: () => ws.terminate(), transport: () => 'websocket' }),
    );
  });
}

function openBurrow(port: number, transports: Array<'websocket' | 'sse' | 'polling'> | undefined, onMessage: OnMessage): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = new BurrowSocket(`ws://${HOST}:${port}${BENCH_PATHS.burrow}`, undefined, {
      ...(transports ? { transports } : {}),
      remember: false,
      upgrade: false,
    });
    s.onmessage = (e) => onMessage(e.data as string);
    s.onclose = () => reject(new Error('burrow closed before open'));
    s.onopen = () => resolve({ send: (d) => s.send(d), close: () => s.close(), transport: () => s.transport });
  });
}

function openSocketIo(port: number, transports: string[] | undefined, onMessage: OnMessage): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = io(`http://${HOST}:${port}`, {
      forceNew: true,
      reconnection: false,
      timeout: 15_000,
      ...(transports ? { transports, tryAllTransports: true, upgrade: transports.length > 1 } : {}),
    });
    socket.on('m', (d: string) => onMessage(d));
    socket.once('connect_error', (err) => reject(err));
    socket.once('connect', () =>
      resolve({
        send: (d) => void socket.emit('m', d),
        close: () => void socket.disconnect(),
        transport: () => socket.io.engine?.transport?.name ?? '',
      }),
    );
  });
}

function openSockJs(port: number, transports: string[] | undefined, onMessage: OnMessage): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = new SockJS(`http://${HOST}:${port}${BENCH_PATHS.sockjs}`, null, transports ? { transports } : {});
    s.onmessage = (e: { data: string }) => onMessage(e.data);
    s.onclose = () => reject(new Error('sockjs closed before open'));
    s.onopen = () =>
      resolve({ send: (d) => s.send(d), close: () => s.close(), transport: () => (s as { transport?: string }).transport ?? '' });
  });
}

/** The raw SSE floor's client: the same platform pieces Burrow's Node client uses (fetch, eventsource). */
async function openHttpSse(port: number, onMessage: OnMessage): Promise<Conn> {
  const base = `http://${HOST}:${port}`;
  const id = await (await fetch(`${base}/open`, { method: 'POST' })).text();
  return new Promise((resolve, reject) => {
    const es = new EventSource(`${base}/sse?id=${id}`);
    let opened = false;
    es.onmessage = (e) => onMessage(e.data);
    es.onerror = () => {
      if (!opened) {
        es.close();
        reject(new Error('sse failed'));
      }
    };
    es.onopen = () => {
      opened = true;
      resolve({
        send: batcher(`${base}/send?id=${id}`),
        close: () => es.close(),
        transport: () => 'sse',
      });
    };
  });
}

/** The raw long-poll floor's client: fetch, one poll held at a time, a POST per message. */
async function openHttpPoll(port: number, onMessage: OnMessage): Promise<Conn> {
  const base = `http://${HOST}:${port}`;
  const id = await (await fetch(`${base}/open`, { method: 'POST' })).text();
  const ac = new AbortController();
  let open = true;
  void (async () => {
    while (open) {
      try {
        const r = await fetch(`${base}/poll?id=${id}`, { signal: ac.signal });
        if (r.status !== 200) break;
        for (const m of (await r.json()) as string[]) onMessage(m);
      } catch {
        break;
      }
    }
  })();
  return {
    send: batcher(`${base}/send?id=${id}`),
    close: () => {
      open = false;
      ac.abort();
      void fetch(`${base}/close?id=${id}`, { method: 'POST' }).then((r) => r.arrayBuffer(), () => {});
    },
    transport: () => 'polling',
  };
}

/**
 * The floors' upstream, shaped like Burrow's and the peers' HTTP clients: one POST in flight per
 * session; what is sent meanwhile goes in the next POST as one JSON array.
 */
function batcher(url: string): (d: string) => void {
  let queue: string[] = [];
  let busy = false;
  const flush = (): void => {
    if (busy || queue.length === 0) return;
    busy = true;
    const body = JSON.stringify(queue);
    queue = [];
    fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'text/plain' } })
      .then((r) => r.arrayBuffer())
      .catch(() => {})
      .finally(() => {
        busy = false;
        flush();
      });
  };
  return (d) => {
    queue.push(d);
    flush();
  };
}
