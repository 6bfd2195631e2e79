/**
 * The HTTP transports' upstream and ack cadence, against a scripted server behind an injected `fetch`
 * (through the Node entry, whose SSE reader then reads the fetch body stream).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, vi } from 'vitest';
import { BurrowSocket, type FetchFunction } from '../src/node.js';
import { Changes, openFrame, turn } from './helpers.js';
import { downFromAnswer } from '../src/transports/http.js';
import { DOWN_FATAL, FAILED, LAZY_ACK_DELAY, SSE_ACK_DELAY } from '../src/transports/transport.js';

interface Post {
  readonly url: URL;
  readonly ack: number;
  readonly frames: Array<{ t: string; seq?: number; text?: string }>;
  /**
   * Answers with the ack, and with `frames` carried down when given (a polling POST's answer).
   * Resolves once the client has handled the answer (see {@link handled}).
   */
  answer(ack: number, frames?: unknown[]): Promise<void>;
  /** Answers with an error status (the server's JSON error body). */
  refuse(status: number): void;
  /** Fails the request: no answer at all, as a reset connection gives. */
  fail(): void;
}

const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * `res`, and a promise that the client has handled it. The client reads the body, and handles the
 * answer in the microtasks that follow (fetchHttpClient, http-client.ts); what that leads to (its next
 * POST, its events) it queues as setImmediates (`afterSends`, `scheduleTask`). The first turn after
 * the body is read may be queued before those; the turn after it comes after all of them.
 */
function handled(res: Response): [Response, Promise<void>] {
  let done!: () => void;
  const settled = new Promise<void>((resolve) => (done = resolve));
  const text = res.text.bind(res);
  res.text = () => {
    const body = text();
    void body.then(() => setImmediate(() => setImmediate(done)));
    return body;
  };
  return [res, settled];
}

/** Answers `resolve` with `res`; resolves once the client has handled it. */
function answerWith(resolve: (r: Response) => void, res: Response): Promise<void> {
  const [r, settled] = handled(res);
  resolve(r);
  return settled;
}

/** A Burrow server in fetch terms: the test answers POSTs and polls, and writes SSE events. */
class FakeServer {
  readonly posts: Post[] = [];
  /** Held polls; `answer` resolves once the client has handled the answer (see {@link handled}). */
  readonly polls: Array<{ url: URL; answer(frames: unknown[]): Promise<void> }> = [];
  /** Notified at each POST and poll, and by the test's sockets at each message and reconnect (see `open`). */
  readonly changes = new Changes();
  #sse: ReadableStreamDefaultController<Uint8Array> | undefined;
  #seq = 0;

  /** Resolves once `cond` holds, checked at each change (see `changes`). */
  until(cond: () => boolean, what: string, timeout?: number): Promise<void> {
    return this.changes.until(cond, what, timeout);
  }

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
      return new Promise((resolve, reject) => {
        this.posts.push({
          url,
          ack: req.ack,
          frames: req.frames,
          answer: (ack, frames) => answerWith(resolve, json(frames ? { ack, frames } : { ack })),
          refuse: (status) => resolve(json({ error: 'timeout', message: 'refused by the test', close: 1002 }, status)),
          fail: () => reject(new TypeError('fetch failed')),
        });
        this.changes.notify();
      });
    }
    if (path.endsWith('/poll')) {
      return new Promise((resolve) => {
        this.polls.push({ url, answer: (frames) => answerWith(resolve, json({ frames })) });
        this.changes.notify();
      });
    }
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
    for (const p of server.posts) void p.answer(highest);
    await new Promise((r) => s.addEventListener('close', r));
  }
  // A test that put the client's timers on a fake clock (the ack cadence).
  vi.useRealTimers();
});

/**
 * Puts `setTimeout` on a fake clock that only the test moves (`vi.advanceTimersByTime`): the ack
 * clock's timer among them. setImmediate (the client's flushes and event tasks, the SSE reader) and
 * setInterval (the heartbeat) stay real. Called before the socket is made, so every timer it sets is fake.
 */
function fakeClock(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
}

/** A socket on `transport`, open; through `fetch` when given (one that wraps the server's), at `url`. */
async function open(
  server: FakeServer,
  transport: 'sse' | 'polling',
  fetch: FetchFunction = server.fetch,
  url = 'ws://example.test/burrow',
): Promise<{ s: BurrowSocket; got: string[]; reconnects: () => number }> {
  const s = new BurrowSocket(url, undefined, { transports: [transport], fetch, remember: false, upgrade: false });
  sockets.push([s, server]);
  const got: string[] = [];
  s.onmessage = (ev) => {
    got.push((ev as MessageEvent).data as string);
    server.changes.notify();
  };
  let reconnects = 0;
  s.addEventListener('reconnecting', () => {
    reconnects++;
    server.changes.notify();
  });
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
    await server.until(() => server.posts.length === 1, 'the first POST');
    // Every flush the three sends queued has run by the next turn: a second POST would be there.
    await turn();
    assert.equal(server.posts.length, 1);
    assert.deepEqual(texts(server.posts[0]), ['a', 'b', 'c']);
    // 'd' and 'e' in turns of their own; a POST either queued would have been made by the turn after it.
    s.send('d');
    await turn();
    s.send('e');
    await turn();
    assert.equal(server.posts.length, 1, 'one POST in flight');
    assert.equal(s.bufferedAmount, 5);
    await server.posts[0]!.answer(3);
    await server.until(() => server.posts.length === 2, 'the second POST');
    assert.deepEqual(texts(server.posts[1]), ['d', 'e']);
    assert.equal(s.bufferedAmount, 2);
    await server.posts[1]!.answer(5);
    assert.equal(s.bufferedAmount, 0);
  });
});

describe('HTTP upstream timing (Node)', () => {
  it.each(['sse', 'polling'] as const)('%s: the echoes of one burst share a POST (a POST per first echo doubled the server\'s work)', async (transport) => {
    const server = new FakeServer();
    const { s } = await open(server, transport);
    s.onmessage = (ev) => s.send(`re ${String((ev as MessageEvent).data)}`);
    if (transport === 'sse') server.emit(3);
    else server.polls.at(-1)!.answer(server.frames(3));
    await server.until(() => server.posts.length === 1, 'the POST of the echoes');
    assert.deepEqual(texts(server.posts[0]), ['re m1', 're m2', 're m3']);
    assert.equal(s.bufferedAmount, 15);
    // Handled, and the flush it queued has run: nothing is left to POST.
    await server.posts[0]!.answer(3);
    assert.equal(s.bufferedAmount, 0);
    assert.equal(server.posts.length, 1);
  });

  it.each(['sse', 'polling'] as const)('%s: a send is not POSTed from inside send(), but once the I/O phase is done', async (transport) => {
    const server = new FakeServer();
    const { s } = await open(server, transport);
    s.send('a');
    s.send('b');
    assert.equal(server.posts.length, 0, 'not from inside send()');
    await server.until(() => server.posts.length === 1, 'the POST');
    assert.deepEqual(texts(server.posts[0]), ['a', 'b']);
  });
});

describe('the URL of the HTTP transports', () => {
  // Regression (differential scenario constructorArgs): fetch and EventSource refuse a URL with
  // credentials, so `ws://user:pw@host/…` failed on SSE and polling where Chromium's WebSocket opens.
  it.each(['sse', 'polling'] as const)('%s: credentials in the socket URL are left out of every request; url keeps them', async (transport) => {
    const server = new FakeServer();
    const urls: string[] = [];
    // As a platform fetch does: a Request cannot be made from a URL with credentials.
    const fetch: FetchFunction = (input, init) => {
      urls.push(new Request(String(input)).url);
      return server.fetch(input, init);
    };
    const { s } = await open(server, transport, fetch, 'ws://user:pw@example.test/burrow');
    assert.equal(s.url, 'ws://user:pw@example.test/burrow');
    assert.ok(urls.length > 0 && urls.every((u) => u.startsWith('http://example.test/burrow/')), urls.join(' '));
  });
});

describe('an app-supplied fetch that throws', () => {
  // Regression (client platform review): a fetch that threw instead of rejecting threw out of the
  // constructor (the handshake) or out of a setImmediate flush (a POST), which ended the process.
  it('on the handshake: the socket fails as on a network error (error, close 1006), the constructor does not throw', async () => {
    const s = new BurrowSocket('ws://example.test/burrow', undefined, {
      transports: ['polling'],
      fetch: () => {
        throw new TypeError('refused by the wrapper');
      },
      remember: false,
      upgrade: false,
    });
    const seen: string[] = [];
    s.onerror = () => seen.push('error');
    const code = await new Promise<number>((resolve) => (s.onclose = (e) => resolve(e.code)));
    assert.deepEqual([seen, code], [['error'], 1006]);
  });

  it.each(['sse', 'polling'] as const)('%s: on a POST, the transport goes down and the socket reconnects', async (transport) => {
    const server = new FakeServer();
    let refuse = false;
    const fetch: FetchFunction = (input, init) => {
      if (refuse && String(input).includes('/send')) throw new TypeError('refused by the wrapper');
      return server.fetch(input, init);
    };
    const { s, reconnects } = await open(server, transport, fetch);
    refuse = true;
    s.send('hi');
    await server.until(() => reconnects() > 0, 'the socket reconnecting');
    refuse = false;
    // The next transport sends it again (the empty POSTs before it ask for the server's ack).
    let answered = 0;
    while (!server.posts.some((p) => p.frames.some((f) => f.t === 'd'))) {
      await server.until(() => server.posts.length > answered, 'a POST of the next transport');
      for (const p of server.posts.slice(answered)) void p.answer(0);
      answered = server.posts.length;
    }
  });
});

describe('polling behind something that answers every poll at once', () => {
  /** Twenty turns of the event loop: far more than a poll's round through fetch takes. */
  const turns = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await turn();
  };

  // Regression (client platform review): a cache or proxy answering each poll at once with nothing
  // made the client poll again at once, for ever: 14,313 polls and 1.9 s of CPU in 3 s.
  it('polls again at once after one wasted answer, then waits 100, 200 ms...; an answer with something new resets it', async () => {
    const server = new FakeServer();
    let polls = 0;
    let cache = true;
    fakeClock();
    const s = new BurrowSocket('ws://example.test/burrow', undefined, {
      transports: ['polling'],
      remember: false,
      upgrade: false,
      fetch: (input, init) => {
        if (new URL(String(input)).pathname.endsWith('/poll')) {
          polls++;
          server.changes.notify();
          if (cache) return Promise.resolve(json({ frames: [] }));
        }
        return server.fetch(input, init);
      },
    });
    sockets.push([s, server]);
    const got: string[] = [];
    s.onmessage = (ev) => got.push(String((ev as MessageEvent).data));
    await new Promise((resolve) => (s.onopen = resolve));
    await server.until(() => polls === 2, 'the second poll, at once');
    await turns(); // its answer handled: the wait is armed, and no poll went meanwhile
    assert.equal(polls, 2, 'the third waits');
    vi.advanceTimersByTime(99);
    await turns();
    assert.equal(polls, 2);
    vi.advanceTimersByTime(1);
    await server.until(() => polls === 3, 'the third poll, 100 ms later');
    await turns(); // its answer handled: the next wait is armed
    vi.advanceTimersByTime(199);
    await turns();
    assert.equal(polls, 3);
    vi.advanceTimersByTime(1);
    await server.until(() => polls === 4, 'the fourth poll, 200 ms later');
    await turns();
    // The server answers again: its frames reset the wait.
    cache = false;
    vi.advanceTimersByTime(400);
    await server.until(() => server.polls.length === 1, 'the fifth poll, held by the server');
    await server.polls[0]!.answer(server.frames(1));
    await server.until(() => server.polls.length === 2, 'the next poll, at once');
    assert.deepEqual(got, ['m1']);
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
      server.changes.notify();
    };
    server.emit(1);
    server.emit(1);
    server.emit(1);
    await server.until(() => log.length === 6, 'three messages handled');
    assert.deepEqual(log, ['message m1', 'deep m1', 'message m2', 'deep m2', 'message m3', 'deep m3']);
  });
});

describe('ack cadence over HTTP', () => {
  it('SSE: an ack rides on the next POST; alone it waits about 5 s (an ack POST per message of a trickle at 1 s)', async () => {
    // The test moves the ack clock's time itself, and looks at what the client did a turn after each step.
    fakeClock();
    const server = new FakeServer();
    const { s, got } = await open(server, 'sse');
    server.emit(1);
    await server.until(() => got.length === 1, 'm1');
    // Not at 1 s (a POST per message of a 1 msg/s trickle), nothing within 4 s (the turn after is when its POST would go).
    vi.advanceTimersByTime(3999);
    await turn();
    assert.equal(server.posts.length, 0, 'no ack-only POST within 4 s');
    s.send('x');
    await server.until(() => server.posts.length === 1, 'the POST of x');
    assert.equal(server.posts[0]!.ack, 1);
    await server.posts[0]!.answer(1);
    server.emit(1);
    await server.until(() => got.length === 2, 'm2');
    // The ack-only POST for m2: not within 4 s, and within 12 s (at most twice the delay after m2).
    vi.advanceTimersByTime(3999);
    await turn();
    assert.equal(server.posts.length, 1, 'no ack-only POST within 4 s of m2');
    vi.advanceTimersByTime(2 * SSE_ACK_DELAY - 3999);
    await turn();
    assert.equal(server.posts.length, 2, 'an ack-only POST within twice the delay of m2');
    assert.deepEqual([server.posts[1]!.ack, server.posts[1]!.frames.length], [2, 0]);
    await server.posts[1]!.answer(1);
    // Past any timer an ack could still be waiting on (at most twice the delay).
    vi.advanceTimersByTime(2 * SSE_ACK_DELAY);
    await turn();
    assert.equal(server.posts.length, 2, 'nothing more to ack');
  });

  it('SSE: 128 unacknowledged frames are acked at once', async () => {
    // The clock does not move: the lazy ack never comes, so an ack POST can only be one made at once.
    fakeClock();
    const server = new FakeServer();
    const { got } = await open(server, 'sse');
    server.emit(127);
    await server.until(() => got.length === 127, '127 messages');
    // An ack due at once was queued with the frames: its POST would have been made by the next turn.
    await turn();
    assert.equal(server.posts.length, 0);
    server.emit(1);
    await server.until(() => server.posts.length === 1, 'the ack POST');
    assert.equal(server.posts[0]!.ack, 128);
  });

  it('SSE: 64 Ki characters of unacknowledged payload are acked at once', async () => {
    // As above: with the clock still, an ack POST is one made at once.
    fakeClock();
    const server = new FakeServer();
    const { got } = await open(server, 'sse');
    const big = 'x'.repeat(40 * 1024);
    server.emit(1, big);
    await server.until(() => got.length === 1, 'the first message');
    await turn();
    assert.equal(server.posts.length, 0);
    server.emit(1, big);
    await server.until(() => server.posts.length === 1, 'the ack POST');
    assert.equal(server.posts[0]!.ack, 2);
  });

  it('polling: every poll carries the ack, and no POST is made just to ack', async () => {
    fakeClock();
    const server = new FakeServer();
    const { got } = await open(server, 'polling');
    await server.until(() => server.polls.length === 1, 'the first poll');
    assert.equal(server.polls[0]!.url.searchParams.get('ack'), '0');
    await server.polls[0]!.answer(server.frames(3));
    await server.until(() => server.polls.length === 2, 'the second poll');
    assert.equal(server.polls[1]!.url.searchParams.get('ack'), '3');
    await server.until(() => got.length === 3, 'm1..m3');
    // Past the lazy ack delay (twice over: the longest an ack waits), then the turn its POST would go in.
    vi.advanceTimersByTime(2 * LAZY_ACK_DELAY);
    await turn();
    assert.equal(server.posts.length, 0);
    // 200 frames: the ack due at once after 128 is carried by the next poll, not POSTed.
    await server.polls[1]!.answer(server.frames(200));
    await server.until(() => server.polls.length === 3, 'the third poll');
    assert.equal(server.polls[2]!.url.searchParams.get('ack'), '203');
    assert.equal(server.posts.length, 0);
    vi.advanceTimersByTime(2 * LAZY_ACK_DELAY);
    await turn();
    assert.equal(server.posts.length, 0);
  });
});

describe('frames on a POST\'s answer (polling)', () => {
  it('polls and POSTs carry one `carry` id; a POST\'s frames are delivered, and a poll answer that came meanwhile waits for them', async () => {
    const server = new FakeServer();
    const { s, got, reconnects } = await open(server, 'polling');
    await server.until(() => server.polls.length === 1, 'the first poll');
    s.send('a');
    await server.until(() => server.posts.length === 1, 'the POST');
    const down = server.polls[0]!.url.searchParams.get('carry');
    assert.ok(down);
    assert.equal(server.posts[0]!.url.searchParams.get('carry'), down);
    // The server wrote seq 1 on the POST's answer, then seq 2 on the poll; the poll's answer gets here first.
    const carried = server.frames(1);
    // Handled (and the events it queued dispatched): delivering seq 2 now would be a gap, which would drop the transport.
    await server.polls[0]!.answer(server.frames(1));
    assert.deepEqual(got, []);
    assert.equal(reconnects(), 0, 'the transport is not dropped');
    assert.equal(server.polls.length, 1, 'the next poll waits too');
    await server.posts[0]!.answer(1, carried);
    await server.until(() => got.length === 2, 'm1, m2');
    assert.deepEqual(got, ['m1', 'm2']);
    await server.until(() => server.polls.length === 2, 'the next poll');
    assert.equal(server.polls[1]!.url.searchParams.get('ack'), '2');
    assert.equal(server.polls[1]!.url.searchParams.get('carry'), down);
    assert.equal(reconnects(), 0);
    assert.equal(s.transport, 'polling');
  });

  it('a poll answer that follows on goes at once while a POST is in flight: a POST refused meanwhile (paused server) strands nothing', async () => {
    const server = new FakeServer();
    const { s, got } = await open(server, 'polling');
    await server.until(() => server.polls.length === 1, 'the first poll');
    s.send('a');
    await server.until(() => server.posts.length === 1, 'the POST');
    // The server's buffer is full (onBufferFull 'pause'): the poll answers with what it holds, and
    // only an ack that moves past it reopens the session. The POST is still in flight.
    void server.polls[0]!.answer(server.frames(3));
    await server.until(() => server.polls.length === 2, 'the next poll');
    assert.equal(server.polls[1]!.url.searchParams.get('ack'), '3');
    await server.until(() => got.length === 3, 'm1..m3');
    assert.deepEqual(got, ['m1', 'm2', 'm3']);
    await server.posts[0]!.answer(1);
    assert.equal(s.bufferedAmount, 0);
  });

  it('frames on a POST\'s answer are acknowledged by an ack POST after the lazy delay when no request follows', async () => {
    fakeClock();
    const server = new FakeServer();
    const { s, got } = await open(server, 'polling');
    await server.until(() => server.polls.length === 1, 'the first poll');
    s.send('a');
    await server.until(() => server.posts.length === 1, 'the POST');
    await server.posts[0]!.answer(1, server.frames(2));
    await server.until(() => got.length === 2, 'm1, m2');
    vi.advanceTimersByTime(LAZY_ACK_DELAY - 1);
    await turn();
    assert.equal(server.posts.length, 1, 'no ack POST before the lazy delay');
    vi.advanceTimersByTime(1);
    await server.until(() => server.posts.length === 2, 'the ack POST');
    assert.deepEqual([server.posts[1]!.ack, server.posts[1]!.frames], [2, []]);
    void server.posts[1]!.answer(1);
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
    s.addEventListener('reconnecting', () => {
      reconnecting = true;
      server.changes.notify();
    });
    await new Promise((resolve) => (s.onopen = resolve));
    await server.until(() => server.polls.length === 1, 'the first poll');
    // Every POST (the heartbeat's pings) is answered with a frame, and the poll never answers.
    let answered = 0;
    while (!reconnecting) {
      await server.until(() => server.posts.length > answered || reconnecting, 'a POST, or the reconnect');
      for (const p of server.posts.slice(answered)) void p.answer(0, server.frames(1));
      answered = server.posts.length;
    }
    assert.ok(answered > 0, 'the POST answers carried frames');
    gone = true;
    const closed = new Promise<CloseEvent>((resolve) => s.addEventListener('close', (ev) => resolve(ev as CloseEvent)));
    for (const p of server.polls) void p.answer([]);
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
      void p.answer(acked);
    };
    const next = async (): Promise<Post> => {
      for (;;) {
        await server.until(() => server.posts.length > seen, 'the next POST', 3000);
        const p = server.posts[seen++]!;
        if (p.frames.length > 0) return p;
        void p.answer(acked);
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
