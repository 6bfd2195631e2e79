/**
 * The HTTP transports' upstream and ack cadence, against a scripted server behind an injected `fetch`
 * (through the Node entry, whose SSE reader then reads the fetch body stream).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'vitest';
import { BurrowSocket, type FetchFunction } from '../src/node.js';
import { openFrame, sleep, until } from './helpers.js';
import { downFromAnswer } from '../src/transports/http.js';
import { DOWN_FATAL, FAILED } from '../src/transports/transport.js';

interface Post {
  readonly url: URL;
  readonly ack: number;
  readonly frames: Array<{ t: string; seq?: number; text?: string }>;
  /** Answers with the ack, and with `frames` carried down when given (a polling POST's answer). */
  answer(ack: number, frames?: unknown[]): void;
  /** Answers with an error status (the server's JSON error body). */
  refuse(status: number): void;
  /** Fails the request: no answer at all, as a reset connection gives. */
  fail(): void;
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
      return new Promise((resolve, reject) =>
        this.posts.push({
          url,
          ack: req.ack,
          frames: req.frames,
          answer: (ack, frames) => resolve(json(frames ? { ack, frames } : { ack })),
          refuse: (status) => resolve(json({ error: 'timeout', message: 'refused by the test', close: 1002 }, status)),
          fail: () => reject(new TypeError('fetch failed')),
        }),
      );
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

async function open(server: FakeServer, transport: 'sse' | 'polling'): Promise<{ s: BurrowSocket; got: string[]; reconnects: () => number }> {
  const s = new BurrowSocket('ws://example.test/burrow', undefined, { transports: [transport], fetch: server.fetch, remember: false, upgrade: false });
  sockets.push([s, server]);
  const got: string[] = [];
  s.onmessage = (ev) => got.push((ev as MessageEvent).data as string);
  let reconnects = 0;
  s.addEventListener('reconnecting', () => reconnects++);
  await new Promise((resolve, reject) => {
    s.onopen = resolve;
    s.onclose = reject;
  });
  return { s, got, reconnects: () => reconnects };
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

describe('frames on a POST\'s answer (polling)', () => {
  it('polls and POSTs carry one `carry` id; a POST\'s frames are delivered, and a poll answer that came meanwhile waits for them', async () => {
    const server = new FakeServer();
    const { s, got, reconnects } = await open(server, 'polling');
    await until(() => server.polls.length === 1);
    s.send('a');
    await until(() => server.posts.length === 1);
    const down = server.polls[0]!.url.searchParams.get('carry');
    assert.ok(down);
    assert.equal(server.posts[0]!.url.searchParams.get('carry'), down);
    // The server wrote seq 1 on the POST's answer, then seq 2 on the poll; the poll's answer gets here first.
    const carried = server.frames(1);
    server.polls[0]!.answer(server.frames(1));
    // Nothing to wait for: delivering seq 2 now would be a gap, which would drop the transport.
    await sleep(20);
    assert.deepEqual(got, []);
    assert.equal(server.polls.length, 1, 'the next poll waits too');
    server.posts[0]!.answer(1, carried);
    await until(() => got.length === 2);
    assert.deepEqual(got, ['m1', 'm2']);
    await until(() => server.polls.length === 2);
    assert.equal(server.polls[1]!.url.searchParams.get('ack'), '2');
    assert.equal(server.polls[1]!.url.searchParams.get('carry'), down);
    assert.equal(reconnects(), 0);
    assert.equal(s.transport, 'polling');
  });

  it('a poll answer that follows on goes at once while a POST is in flight: a POST refused meanwhile (paused server) strands nothing', async () => {
    const server = new FakeServer();
    const { s, got } = await open(server, 'polling');
    await until(() => server.polls.length === 1);
    s.send('a');
    await until(() => server.posts.length === 1);
    // The server's buffer is full (onBufferFull 'pause'): the poll answers with what it holds, and
    // only an ack that moves past it reopens the session. The POST is still in flight.
    server.polls[0]!.answer(server.frames(3));
    await until(() => server.polls.length === 2);
    assert.equal(server.polls[1]!.url.searchParams.get('ack'), '3');
    await until(() => got.length === 3);
    assert.deepEqual(got, ['m1', 'm2', 'm3']);
    server.posts[0]!.answer(1);
    await until(() => s.bufferedAmount === 0);
  });

  it('frames on a POST\'s answer are acknowledged by an ack POST after the lazy delay when no request follows', async () => {
    const server = new FakeServer();
    const { s, got } = await open(server, 'polling');
    await until(() => server.polls.length === 1);
    s.send('a');
    await until(() => server.posts.length === 1);
    server.posts[0]!.answer(1, server.frames(2));
    await until(() => got.length === 2);
    await until(() => server.posts.length === 2);
    assert.deepEqual([server.posts[1]!.ack, server.posts[1]!.frames], [2, []]);
    server.posts[1]!.answer(1);
  });

  it('frames on POST answers do not keep a silent poll alive: the transport is dropped and resumed', async () => {
    const server = new FakeServer();
    let gone = false;
    const s = new BurrowSocket('ws://example.test/burrow', undefined, { transports: ['polling'], fetch: async (input, init) => {
      const url = new URL(input);
      // Once the test has seen what it wants, the session is gone: the socket ends (4001) at its next request.
      if (gone) return json({ error: 'session_unknown', message: 'gone', close: 4001 }, 404);
      // A session whose heartbeat is short, so that the poll's silence shows within the test.
      if (url.pathname.endsWith('/sessions')) return json(JSON.parse(openFrame({ heartbeat: 60, heartbeatTimeout: 60 })));
      return server.fetch(input, init);
    }, remember: false, upgrade: false });
    let reconnecting = false;
    s.addEventListener('reconnecting', () => (reconnecting = true));
    await new Promise((resolve) => (s.onopen = resolve));
    await until(() => server.polls.length === 1);
    // Every POST (the heartbeat's pings) is answered with a frame, and the poll never answers.
    let answered = 0;
    while (!reconnecting) {
      await until(() => server.posts.length > answered || reconnecting);
      for (const p of server.posts.slice(answered)) p.answer(0, server.frames(1));
      answered = server.posts.length;
    }
    assert.ok(answered > 0, 'the POST answers carried frames');
    gone = true;
    const closed = new Promise<CloseEvent>((resolve) => s.addEventListener('close', (ev) => resolve(ev as CloseEvent)));
    for (const p of server.polls) p.answer([]);
    assert.equal((await closed).code, 4001);
  });
});

describe('what an HTTP refusal means for the session', () => {
  it('408 (a body slower than the server bodyMinRate) takes the transport down, not the session; 400 and 404 end it', () => {
    const body = (error: string, close: number) => JSON.stringify({ error, message: 'm', close });
    assert.equal(downFromAnswer({ status: 408, text: body('timeout', 1002), retryAfter: 0 }).kind, FAILED.kind);
    assert.deepEqual(downFromAnswer({ status: 400, text: body('bad_request', 1002), retryAfter: 0 }), { kind: DOWN_FATAL, code: 1002 });
    assert.deepEqual(downFromAnswer({ status: 404, text: body('session_unknown', 4001), retryAfter: 0 }), { kind: DOWN_FATAL, code: 4001 });
  });
});

describe('HTTP upstream: the upload cap', () => {
  const dataFrames = (p: Post): number => p.frames.filter((f) => f.t === 'd').length;
  const lastSeq = (p: Post): number => Math.max(0, ...p.frames.map((f) => f.seq ?? 0));

  /**
   * Polling, whose transports know the server's maxPayload (1 MiB) from the start, so only the frame
   * count (128) and the cap bound a batch. A resume's empty POST (its ack probe) is answered with
   * `acked` on the way; the next POST with data is returned, unanswered.
   */
  async function setUp(): Promise<{ s: BurrowSocket; next(): Promise<Post>; answer(p: Post): void; burst(): void }> {
    const server = new FakeServer();
    const { s } = await open(server, 'polling');
    let seen = 0;
    let acked = 0;
    const answer = (p: Post): void => {
      acked = Math.max(acked, lastSeq(p));
      p.answer(acked);
    };
    const next = async (): Promise<Post> => {
      for (;;) {
        await until(() => server.posts.length > seen, 3000);
        const p = server.posts[seen++]!;
        if (p.frames.length > 0) return p;
        p.answer(acked);
      }
    };
    // 100 frames of 1,000 characters: counted at 3 bytes each, 300 KB, under 1 MiB and 128 frames.
    const burst = (): void => {
      for (let i = 0; i < 100; i++) s.send('x'.repeat(1000));
    };
    return { s, next, answer, burst };
  }

  it('a batch cut by 408 halves the next; small batches do not grow it back (regression: a quiet spell undid the cut)', async () => {
    const { s, next, answer, burst } = await setUp();
    burst();
    let p = await next();
    assert.equal(dataFrames(p), 100);
    p.refuse(408);
    p = await next();
    assert.equal(dataFrames(p), 50, 'resent in half the bytes');
    p.refuse(408);
    p = await next();
    assert.equal(dataFrames(p), 25);
    // Answered batches that the cap limited grow it by a quarter each, until the backlog is gone.
    while (lastSeq(p) < 100) {
      answer(p);
      p = await next();
    }
    answer(p);
    // A quiet spell: small messages, each an answered POST far under the cap.
    for (let i = 0; i < 12; i++) {
      s.send('small');
      answer(await next());
    }
    burst();
    const after = dataFrames(await next());
    assert.ok(after < 100, `the next burst's first batch (${after} frames) stays under the one cut (100)`);
    assert.ok(after >= 25, `and over the smallest cut (${after} frames)`);
  });

  it('one frame cut three times in a row ends the socket with 1009 (regression: resent on every resume, for ever)', async () => {
    const { s, next, answer } = await setUp();
    const closed = new Promise<CloseEvent>((resolve) => s.addEventListener('close', (ev) => resolve(ev as CloseEvent)));
    s.send('x'.repeat(1000));
    // Cut twice, then answered: the count starts over.
    for (let i = 0; i < 2; i++) (await next()).refuse(408);
    answer(await next());
    s.send('y'.repeat(1000));
    for (let i = 0; i < 2; i++) (await next()).refuse(408);
    assert.equal(s.readyState, s.OPEN, 'two cuts in a row leave the session open');
    const third = await next();
    assert.equal(third.frames.find((f) => f.t === 'd')?.text, 'y'.repeat(1000));
    third.refuse(408);
    const ev = await closed;
    assert.equal(ev.code, 1009);
    assert.equal(ev.wasClean, false);
  });

  it('a POST that fails at once (a reset, a node restarting) does not shrink the next batch', async () => {
    const { next, burst } = await setUp();
    burst();
    const p = await next();
    assert.equal(dataFrames(p), 100);
    p.fail();
    assert.equal(dataFrames(await next()), 100);
  });
});
