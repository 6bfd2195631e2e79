/**
 * The HTTP transports' upstream and ack cadence, against a scripted server behind an injected `fetch`
 * (through the Node entry, whose SSE reader then reads the fetch body stream).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'vitest';
import { BurrowSocket, type FetchFunction } from '../src/node.js';
import { openFrame, sleep, until } from './helpers.js';

interface Post {
  readonly ack: number;
  readonly frames: Array<{ t: string; seq?: number; text?: string }>;
  answer(ack: number): void;
}

const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A Burrow server in fetch terms: the test answers POSTs and polls, and writes SSE events. */
class FakeServer {
  readonly posts: Post[] = [];
  readonly polls: Array<{ url: URL; answer(frames: unknown[]): void }> = [];
  #sse: ReadableStreamDefaultController<Uint8Array> | undefined;
  #seq = 0;

  readonly fetch: FetchFunction = async (input, init) => {
    const url = new URL(input);
    const path = url.pathname;
    if (path.endsWith('/sessions') && init?.method === 'POST') return json(JSON.parse(openFrame()));
    // The SSE stream: of a new session (the handshake, first event `open`), or resumed (`ack`).
    if (path.endsWith('/sse') || path.endsWith('/sessions')) {
      const first = path.endsWith('/sse') ? '{"t":"ack","ack":0}' : openFrame();
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          this.#sse = c;
          c.enqueue(new TextEncoder().encode(`:${' '.repeat(2048)}\n\ndata: ${first}\n\n`));
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }
    if (path.endsWith('/send')) {
      const req = JSON.parse(String(init?.body)) as { ack: number; frames: Post['frames'] };
      const close = req.frames.find((f) => f.t === 'close');
      // The client's close frame (a test ending) is answered, and echoed, at once.
      if (close) {
        const echo = { t: 'close', seq: ++this.#seq, code: 1000 };
        this.#sse?.enqueue(new TextEncoder().encode(`id: ${echo.seq}\ndata: ${JSON.stringify(echo)}\n\n`));
        this.polls.at(-1)?.answer([echo]);
        return json({ ack: close.seq });
      }
      return new Promise((resolve) => this.posts.push({ ack: req.ack, frames: req.frames, answer: (ack) => resolve(json({ ack })) }));
    }
    if (path.endsWith('/poll')) return new Promise((resolve) => this.polls.push({ url, answer: (frames) => resolve(json({ frames })) }));
    return json({ error: 'not_found' }, 404);
  };

  /** Server → client data frames, as SSE events (text `m<seq>`, or `text`). */
  emit(n: number, text?: string): void {
    let out = '';
    for (let i = 0; i < n; i++) {
      const seq = ++this.#seq;
      out += `id: ${seq}\ndata: {"t":"d","seq":${seq},"text":"${text ?? `m${seq}`}"}\n\n`;
    }
    this.#sse?.enqueue(new TextEncoder().encode(out));
  }

  /** Server → client data frames, for a poll answer. */
  frames(n: number): unknown[] {
    return Array.from({ length: n }, () => {
      const seq = ++this.#seq;
      return { t: 'd', seq, text: `m${seq}` };
    });
  }
}

const sockets: Array<[BurrowSocket, FakeServer]> = [];
afterEach(async () => {
  for (const [s, server] of sockets.splice(0)) {
    if (s.readyState === BurrowSocket.CLOSED) continue;
    s.close();
    // POSTs a test left unanswered hold the close frame back.
    let highest = 0;
    for (const p of server.posts) for (const f of p.frames) highest = Math.max(highest, f.seq ?? 0);
    for (const p of server.posts) p.answer(highest);
    await new Promise((r) => s.addEventListener('close', r));
  }
});

async function open(server: FakeServer, transport: 'sse' | 'polling'): Promise<{ s: BurrowSocket; got: string[] }> {
  const s = new BurrowSocket('ws://example.test/burrow', undefined, { transports: [transport], fetch: server.fetch, remember: false, upgrade: false });
  sockets.push([s, server]);
  const got: string[] = [];
  s.onmessage = (ev) => got.push((ev as MessageEvent).data as string);
  await new Promise((resolve, reject) => {
    s.onopen = resolve;
    s.onclose = reject;
  });
  return { s, got };
}

const texts = (p: Post | undefined): string[] => (p?.frames ?? []).map((f) => f.text ?? f.t);

describe('HTTP upstream', () => {
  it('one POST carries everything sent in a turn; the next waits for its answer and carries the rest', async () => {
    const server = new FakeServer();
    const { s } = await open(server, 'sse');
    s.send('a');
    s.send('b');
    s.send('c');
    await until(() => server.posts.length === 1);
    await sleep(20);
    assert.equal(server.posts.length, 1);
    assert.deepEqual(texts(server.posts[0]), ['a', 'b', 'c']);
    s.send('d');
    await sleep(5);
    s.send('e');
    await sleep(20);
    assert.equal(server.posts.length, 1, 'one POST in flight');
    assert.equal(s.bufferedAmount, 5);
    server.posts[0]!.answer(3);
    await until(() => server.posts.length === 2);
    assert.deepEqual(texts(server.posts[1]), ['d', 'e']);
    assert.equal(s.bufferedAmount, 2);
    server.posts[1]!.answer(5);
    await until(() => s.bufferedAmount === 0);
  });
});

describe('HTTP upstream timing (Node)', () => {
  it.each(['sse', 'polling'] as const)('%s: the echoes of one burst share a POST (a POST per first echo doubled the server\'s work)', async (transport) => {
    const server = new FakeServer();
    const { s } = await open(server, transport);
    s.onmessage = (ev) => s.send(`re ${String((ev as MessageEvent).data)}`);
    if (transport === 'sse') server.emit(3);
    else server.polls.at(-1)!.answer(server.frames(3));
    await until(() => server.posts.length === 1);
    assert.deepEqual(texts(server.posts[0]), ['re m1', 're m2', 're m3']);
    assert.equal(s.bufferedAmount, 15);
    server.posts[0]!.answer(3);
    await until(() => s.bufferedAmount === 0);
    assert.equal(server.posts.length, 1);
  });

  it.each(['sse', 'polling'] as const)('%s: a send is not POSTed from inside send(), but once the I/O phase is done', async (transport) => {
    const server = new FakeServer();
    const { s } = await open(server, transport);
    s.send('a');
    s.send('b');
    assert.equal(server.posts.length, 0, 'not from inside send()');
    await until(() => server.posts.length === 1);
    assert.deepEqual(texts(server.posts[0]), ['a', 'b']);
  });
});

describe('SSE through an app-supplied fetch', () => {
  it('chunks already buffered in the stream: each handler\'s awaits finish before the next message', async () => {
    const server = new FakeServer();
    const { s } = await open(server, 'sse');
    const log: string[] = [];
    s.onmessage = async (ev) => {
      const d = String((ev as MessageEvent).data);
      log.push(`message ${d}`);
      await null;
      await null;
      await null;
      log.push(`deep ${d}`);
    };
    server.emit(1);
    server.emit(1);
    server.emit(1);
    await until(() => log.length === 6);
    assert.deepEqual(log, ['message m1', 'deep m1', 'message m2', 'deep m2', 'message m3', 'deep m3']);
  });
});

describe('ack cadence over HTTP', () => {
  it('SSE: an ack rides on the next POST; alone it waits about a second, not 50 ms', async () => {
    const server = new FakeServer();
    const { s, got } = await open(server, 'sse');
    server.emit(1);
    await until(() => got.length === 1);
    await sleep(300);
    assert.equal(server.posts.length, 0, 'no ack-only POST after 300 ms');
    s.send('x');
    await until(() => server.posts.length === 1);
    assert.equal(server.posts[0]!.ack, 1);
    server.posts[0]!.answer(1);
    server.emit(1);
    await until(() => got.length === 2);
    const t0 = Date.now();
    await until(() => server.posts.length === 2, 3000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 800 && waited < 2500, `ack-only POST after ${waited} ms`);
    assert.deepEqual([server.posts[1]!.ack, server.posts[1]!.frames.length], [2, 0]);
    server.posts[1]!.answer(1);
    await sleep(1300);
    assert.equal(server.posts.length, 2, 'nothing more to ack');
  }, 10_000);

  it('SSE: 128 unacknowledged frames are acked at once', async () => {
    const server = new FakeServer();
    const { got } = await open(server, 'sse');
    server.emit(127);
    await until(() => got.length === 127);
    await sleep(50);
    assert.equal(server.posts.length, 0);
    server.emit(1);
    await until(() => server.posts.length === 1, 500);
    assert.equal(server.posts[0]!.ack, 128);
  });

  it('SSE: 64 Ki characters of unacknowledged payload are acked at once', async () => {
    const server = new FakeServer();
    const { got } = await open(server, 'sse');
    const big = 'x'.repeat(40 * 1024);
    server.emit(1, big);
    await until(() => got.length === 1);
    await sleep(50);
    assert.equal(server.posts.length, 0);
    server.emit(1, big);
    await until(() => server.posts.length === 1, 500);
    assert.equal(server.posts[0]!.ack, 2);
  });

  it('polling: every poll carries the ack, and no POST is made just to ack', async () => {
    const server = new FakeServer();
    const { got } = await open(server, 'polling');
    await until(() => server.polls.length === 1);
    assert.equal(server.polls[0]!.url.searchParams.get('ack'), '0');
    server.polls[0]!.answer(server.frames(3));
    await until(() => server.polls.length === 2);
    assert.equal(server.polls[1]!.url.searchParams.get('ack'), '3');
    await until(() => got.length === 3);
    await sleep(1200);
    assert.equal(server.posts.length, 0);
    server.polls[1]!.answer(server.frames(200));
    await until(() => server.polls.length === 3);
    assert.equal(server.polls[2]!.url.searchParams.get('ack'), '203');
    assert.equal(server.posts.length, 0);
  });
});
