/**
 * Regressions of the hostile-input run of issue 10, each named after what it reproduces:
 * 1. a frame `ws` rejects, sent while the server waits for the close of an accept-then-close,
 *    crashed the process (an 'error' event with no listener) — walked here over every refusal path and
 *    every upgrade outcome, with each kind of frame `ws` rejects;
 * 2. a handshake `ws` refuses left an orphan session behind;
 * 3. a send POST to a made-up id was read and parsed before the session was looked up;
 * 4. pings from a client that never reads made the server queue a pong per ping outside every cap;
 * and a trickled body to a refused route held its connection until Node's requestTimeout.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, type BurrowOptions, type Store, type StoreStatus } from '@burrow/server';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  Canary,
  handshake,
  httpSession,
  rawConnect,
  RawWs,
  RawWsSocket,
  readRawResponse,
  send,
  sessionUrl,
  wsFrame,
  type WsFrameSpec,
} from './fixtures/raw-protocol.js';

/** Every uncaught exception or rejection of this process while the suite runs. */
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
beforeAll(() => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

const MADE_UP_SID = 'AAAAAAAAAAAAAAAAAAAAAA';

/** Frames `ws` rejects on a server socket, each with the close code it answers with. */
const BAD_FRAMES: ReadonlyArray<readonly [string, WsFrameSpec]> = [
  ['RSV1 set without compression', { opcode: 1, rsv: 4, payload: Buffer.from('x') }],
  ['RSV2 set', { opcode: 1, rsv: 2, payload: Buffer.from('x') }],
  ['RSV3 set', { opcode: 2, rsv: 1, payload: Buffer.from('x') }],
  ['invalid UTF-8 in a text frame', { opcode: 1, payload: Buffer.from([0xc3, 0x28, 0xff]) }],
  ['declared length over maxPayload (2^62)', { opcode: 2, declaredLength: 2n ** 62n }],
  ['declared length over 2^53', { opcode: 1, declaredLength: 2n ** 63n - 1n }],
  ['unmasked client frame', { opcode: 1, masked: false, payload: Buffer.from('x') }],
  ['unknown opcode 3', { opcode: 3, payload: Buffer.from('x') }],
  ['unknown control opcode 0xB', { opcode: 0xb }],
  ['control frame over 125 bytes', { opcode: 9, payload: Buffer.alloc(126) }],
  ['fragmented control frame', { opcode: 9, fin: false }],
  ['continuation with nothing to continue', { opcode: 0, payload: Buffer.from('x') }],
  ['close frame with code 999', { opcode: 8, payload: Buffer.from([0x03, 0xe7]) }],
  ['close frame with a 1-byte payload', { opcode: 8, payload: Buffer.from([0x03]) }],
  ['close reason of invalid UTF-8', { opcode: 8, payload: Buffer.from([0x03, 0xe8, 0xff, 0xfe]) }],
];

/** A MemoryStore whose status the test sets, as a networked store reports an outage or a lost state. */
class StatusStore extends MemoryStore {
  #status: StoreStatus = 'up';
  readonly #listeners = new Set<(s: StoreStatus) => void>();
  override status(): StoreStatus {
    return this.#status;
  }
  override onStatus(listener: (s: StoreStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(s: StoreStatus): void {
    this.#status = s;
    for (const l of [...this.#listeners]) l(s);
  }
}

interface Outcome {
  readonly name: string;
  /** The close code the server sends on this path before any frame of ours (undefined: the session is live). */
  readonly refusal?: number;
  options?: Partial<BurrowOptions>;
  /** Prepares the server; returns the query of the upgrade. */
  setup(srv: TestServer, store: StatusStore): Promise<string>;
}

const outcomes: Outcome[] = [
  { name: 'accepted (new session)', setup: async () => '' },
  {
    name: 'resumed',
    setup: async (srv) => {
      const s = await httpSession(srv);
      return `?sid=${s.sid}&token=${s.token}&ack=0`;
    },
  },
  { name: 'accept-then-close 4001 (unknown session)', refusal: 4001, setup: async () => `?sid=${MADE_UP_SID}&token=x` },
  { name: 'accept-then-close 1002 (bad ack)', refusal: 1002, setup: async () => `?sid=${MADE_UP_SID}&token=x&ack=-1` },
  { name: 'accept-then-close 1008 (authenticate refuses)', refusal: 1008, options: { authenticate: () => false }, setup: async () => '' },
  {
    name: 'accept-then-close 1011 (authenticate throws)',
    refusal: 1011,
    options: {
      authenticate: () => {
        throw new Error('hook bug');
      },
    },
    setup: async () => '',
  },
  {
    name: 'accept-then-close 1012 (draining)',
    refusal: 1012,
    setup: async (srv) => {
      void srv.burrow.drain({ deadline: 60_000 });
      return '';
    },
  },
  {
    name: 'accept-then-close 1013 (too many sessions)',
    refusal: 1013,
    options: { limits: { maxSessions: 1 } },
    setup: async (srv) => {
      await httpSession(srv);
      return '';
    },
  },
  {
    name: 'accept-then-close 1013 (store down)',
    refusal: 1013,
    setup: async (_srv, store) => {
      store.set('down');
      return '';
    },
  },
  {
    name: 'accept-then-close 4006 (state lost)',
    refusal: 4006,
    setup: async (srv, store) => {
      const s = await httpSession(srv);
      store.set('lost');
      return `?sid=${s.sid}&token=${s.token}&ack=0`;
    },
  },
];

describe('regression: a frame ws rejects never crashes the node, on every upgrade outcome (BAD-INPUTS 6-9, 30)', () => {
  describe.each(outcomes.map((o) => [o.name, o] as const))('%s', (_name, outcome) => {
    let srv: TestServer;
    let store: StatusStore;
    let query: string;
    const errors: unknown[] = [];
    beforeAll(async () => {
      store = new StatusStore();
      srv = await startTestServer({ store, ...outcome.options }, { app: true });
      srv.burrow.on('error', (e) => errors.push(e));
      query = await outcome.setup(srv, store);
    });
    afterAll(() => srv.close());

    it.each(BAD_FRAMES)('%s: the socket is closed, the process stays up', async (_frameName, spec) => {
      const c = await RawWsSocket.connect(srv, query);
      if (outcome.refusal === undefined) {
        const open = await c.frames.take();
        assert.match(open.payload.toString(), /^\{"t":"open"/);
      } else {
        // The refusal's close frame is already on its way; the bad frame arrives while `ws`
        // waits for our answer to it.
        const close = await c.frames.take((f) => f.opcode === 8);
        assert.equal(close.payload.readUInt16BE(0), outcome.refusal);
      }
      c.write(wsFrame(spec));
      await c.closedSocket;
      assert.deepEqual(uncaught, []);
    });

    it('afterwards: no uncaught exception, and the node still serves', async () => {
      assert.deepEqual(uncaught, []);
      if (outcome.refusal === undefined) {
        const canary = await Canary.start(srv);
        await canary.check();
        canary.stop();
      }
      // Store-outage paths report the outage; nothing else is an error.
      for (const e of errors) assert.match(String(e), /store|hook bug/);
    });
  });
});

describe('regression: a handshake ws refuses leaves no session behind (BAD-INPUTS 31)', () => {
  let srv: TestServer;
  const connections: string[] = [];
  const closes: string[] = [];
  beforeAll(async () => {
    srv = await startTestServer({ limits: { maxSessions: 1 } }, { app: true });
    srv.burrow.on('connection', (s) => connections.push(s.id));
    srv.burrow.on('close', (s) => closes.push(s.id));
  });
  afterAll(() => srv.close());

  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const refused: ReadonlyArray<readonly [string, string]> = [
    ['no Sec-WebSocket-Key', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'],
    ['a malformed Sec-WebSocket-Key', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n'],
    ['Sec-WebSocket-Version 12', `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: ${key}\r\n`],
    ['Upgrade: h2c', `Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n`],
    ['subprotocol list a,,b', `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Protocol: a,,b\r\n`],
    ['subprotocol list a, a', `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Protocol: a, a\r\n`],
  ];
  it.each(refused)('%s: refused, no session created, nothing counts against maxSessions', async (_name, headers) => {
    const sock = await rawConnect(srv);
    sock.on('error', () => {});
    const answer = readRawResponse(sock);
    sock.write(`GET /burrow/ws HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n${headers}\r\n`);
    const r = await answer;
    sock.destroy();
    assert.ok(r && r.status >= 400 && r.status < 500, `expected a 4xx refusal, got ${r?.status}`);
    assert.equal(srv.burrow.sessions, 0);
  });

  it('then a real session still fits under maxSessions = 1, and the app heard of it alone', async () => {
    const { c, open } = await RawWs.open(srv);
    assert.deepEqual(connections, [open.sid]);
    c.ws.close(1000);
    assert.deepEqual(closes.filter((id) => id !== open.sid), []);
  });
});

describe('regression: a send POST proves its session before its body is read (BAD-INPUTS 32)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      authenticate: (req) => (req.headers['x-user'] === 'ok' ? { user: 'ok' } : false),
    }, { app: true });
  });
  afterAll(() => srv.close());

  /**
   * Sends a request head that declares an 8 MiB body and writes none of it: the answer can only
   * come from a server that did not wait to read it.
   */
  async function declaredOnly(path: string, extra = ''): Promise<{ status: number; json: any; headers: Record<string, string> }> {
    const sock = await rawConnect(srv);
    sock.on('error', () => {});
    const answer = readRawResponse(sock);
    sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${8 * 1024 * 1024}\r\n${extra}\r\n`);
    const r = await answer;
    sock.destroy();
    assert.ok(r, 'an answer');
    return r;
  }

  it('a made-up but well-formed id: 404 before any of the body is sent', async () => {
    const r = await declaredOnly(`/burrow${sessionUrl(MADE_UP_SID, 'send')}?token=x`);
    assert.deepEqual([r.status, r.json.error, r.json.close], [404, 'session_unknown', 4001]);
    assert.equal(r.headers.connection, 'close');
  });

  it('a real id with a wrong token: 404 before any of the body is sent', async () => {
    const s = await handshake(srv, undefined, 'text/plain');
    assert.equal(s.status, 401, 'the handshake needs the user header');
    const sock = await rawConnect(srv);
    sock.on('error', () => {});
    const answer = readRawResponse(sock);
    sock.write(`POST /burrow/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-User: ok\r\nConnection: close\r\n\r\n{}`);
    const open = await answer;
    assert.equal(open?.status, 200);
    const r = await declaredOnly(`/burrow${sessionUrl(open!.json.sid, 'send')}?token=wrong`);
    assert.deepEqual([r.status, r.json.error], [404, 'session_unknown']);
  });

  it('a token only in the body: a body over maxUnprovenBodyBytes is 413 before it is read', async () => {
    const r = await declaredOnly(`/burrow${sessionUrl(MADE_UP_SID, 'send')}`);
    assert.deepEqual([r.status, r.json.error, r.json.close], [413, 'body_too_large', 1009]);
    assert.match(r.json.message, /token in the query/);
  });

  it('the handshake runs authenticate before reading its body', async () => {
    const r = await declaredOnly('/burrow/sessions');
    assert.deepEqual([r.status, r.json.error, r.json.close], [401, 'unauthorized', 1008]);
  });
});

describe('the SSE handshake (GET /sessions) refuses what a POST would, and requests that carry no Origin', () => {
  let srv: TestServer;
  let connections = 0;
  beforeAll(async () => {
    srv = await startTestServer({}, { app: true });
    srv.burrow.on('connection', () => connections++);
  });
  afterAll(() => srv.close());

  /** node:http, since fetch sets `Sec-Fetch-Mode` itself. */
  function get(query: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${srv.http}/sessions?${query}`, { headers }, (res) => {
        res.on('error', () => {});
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '' });
        res.destroy();
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('a no-cors or navigation request (an <img>, a link from another site): 403, no session', async () => {
    const before = connections;
    for (const mode of ['no-cors', 'navigate']) {
      assert.deepEqual(await get('v=1', { 'sec-fetch-mode': mode }), { status: 403, type: 'application/json; charset=utf-8' });
    }
    assert.equal(connections, before);
  });

  it('a bad subprotocol list or version: 400, no session', async () => {
    const before = connections;
    assert.equal((await get('v=1&protocols=' + encodeURIComponent('a b'))).status, 400);
    assert.equal((await get('v=2')).status, 400);
    assert.equal(connections, before);
  });

  it('an EventSource-like request (cors mode): the stream of a new session', async () => {
    const r = await get('v=1', { 'sec-fetch-mode': 'cors', accept: 'text/event-stream' });
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/event-stream/);
  });
});

describe('regression: a trickled body to a refused route is cut when answered, not at requestTimeout', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({}, { app: true });
  });
  afterAll(() => srv.close());

  it.each([
    ['404 no such endpoint', '/burrow/nope'],
    ['405 wrong method', '/burrow/health'],
    ['404 unknown session', `/burrow${sessionUrl(MADE_UP_SID, 'send')}?token=x`],
  ] as const)('%s: answered with Connection: close and the socket closes', async (_name, path) => {
    const sock = await rawConnect(srv);
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    const answer = readRawResponse(sock);
    // One byte of a 1000-byte body: the rest never comes.
    sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{`);
    const r = await answer;
    assert.ok(r && r.status >= 400, `refused: ${r?.status}`);
    assert.equal(r.headers.connection, 'close');
    await closed;
  });
});

describe('regression: pings from a client that never reads cost one pending pong, not one per ping (BAD-INPUTS 33)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ limits: { maxBufferedBytes: 64 * 1024 * 1024, maxPayload: 1024 * 1024 } }, { app: true });
  });
  afterAll(() => srv.close());

  /** 1 MiB messages from the server: enough of them fill every buffer between it and a reader that stopped. */
  const FILL = 24;
  const big = 'x'.repeat(1024 * 1024 - 64);

  it('WebSocket: 20,000 pings while the socket is backed up are answered by a bounded number of pongs', async () => {
    const { c, open } = await RawWs.open(srv);
    const session = await new Promise<import('@burrow/server').Session>((resolve) => {
      // The app's handle of this session: its first message tells us.
      srv.burrow.once('message', (s) => resolve(s));
      c.sendText(1, 'quiet:hello');
    });
    assert.equal(session.id, open.sid);
    (c.ws as unknown as { pause(): void }).pause();
    for (let i = 0; i < FILL; i++) await session.send(big);
    for (let i = 0; i < 20_000; i++) c.send({ t: 'ping' });
    // A marker after the pings: once it is applied, every ping before it has been answered.
    c.sendText(2, 'quiet:after-pings');
    await new Promise<void>((resolve) => {
      const on = (_s: unknown, d: unknown) => {
        if (d === 'quiet:after-pings') {
          srv.burrow.off('message', on);
          resolve();
        }
      };
      srv.burrow.on('message', on);
    });
    await session.send('last');
    (c.ws as unknown as { resume(): void }).resume();
    let pongs = 0;
    for (;;) {
      const f = await c.take();
      if (f.t === 'pong') pongs++;
      if (f.t === 'd' && f.text === 'last') break;
    }
    assert.ok(pongs >= 1 && pongs <= 4, `pongs: ${pongs}`);
    c.ws.terminate();
  });

  it('SSE: 100 POSTs of 100 pings each while the stream is backed up are answered by a bounded number of pongs', async () => {
    const s = await httpSession(srv);
    const attached = new Promise<import('@burrow/server').Session>((resolve) => {
      const on = (session: import('@burrow/server').Session, name: string) => {
        if (session.id === s.sid && name === 'sse') {
          srv.burrow.off('transport', on);
          resolve(session);
        }
      };
      srv.burrow.on('transport', on);
    });
    // A reader that never reads: nothing consumes the socket until the end of the test.
    const sock = await rawConnect(srv);
    sock.on('error', () => {});
    sock.pause();
    sock.write(`GET /burrow${sessionUrl(s.sid, 'sse')}?token=${s.token}&ack=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    const session = await attached;
    for (let i = 0; i < FILL; i++) await session.send(big);
    const pings = JSON.stringify({ frames: Array.from({ length: 100 }, () => ({ t: 'ping' })) });
    for (let i = 0; i < 100; i++) {
      const r = await send(srv, s.sid, s.token, pings);
      assert.equal(r.status, 200, r.text);
    }
    await session.send('last');
    const text = await new Promise<string>((resolve) => {
      // 24 MiB come: look for the marker in what just arrived (and the few characters before it), not
      // in everything read so far, which made the read quadratic (14 s of a 15 s test on a busy machine).
      const chunks: string[] = [];
      let tail = '';
      sock.setEncoding('utf8');
      sock.on('data', (chunk: string) => {
        chunks.push(chunk);
        const recent = tail + chunk;
        if (recent.includes('"text":"last"')) resolve(chunks.join(''));
        tail = recent.slice(-16);
      });
      sock.resume();
    });
    sock.destroy();
    const pongs = text.split('data: {"t":"pong"}').length - 1;
    assert.ok(pongs >= 1 && pongs <= 4, `pongs: ${pongs}`);
  });
});
