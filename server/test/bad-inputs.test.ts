// BAD-INPUTS cases not covered by the protocol suite, e2e/tests/protocol/ (see docs/BAD-INPUTS-COVERAGE.md).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryStore, type Session } from '../src/index.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { postJson, waitFor } from './helpers.js';

const T = { timeout: 8000 };

function raw(srv: TestServer): Promise<Socket> {
  const s = connect(srv.port, '127.0.0.1');
  s.on('error', () => {});
  return once(s, 'connect').then(() => s);
}

function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => (out += c));
    s.on('close', () => resolve(out));
  });
}

/** Resolves once the socket has received `text` (reads alongside readAll's listener). */
function received(s: Socket, text: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const on = (c: string | Buffer): void => {
      seen += typeof c === 'string' ? c : c.toString('latin1');
      if (!seen.includes(text)) return;
      s.off('data', on);
      resolve();
    };
    s.on('data', on);
  });
}

describe('slow headers (BAD-INPUTS 5)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // The app's http.Server owns these (Burrow never changes them); docs/SECURITY.md says to set them.
    srv = await startTestServer({}, { http: { headersTimeout: 500, requestTimeout: 1000, connectionsCheckingInterval: 100 } });
  });
  afterAll(() => srv.close());

  it('headers trickled one byte at a time are closed at the headers timeout with 408; hundreds of them do not stop the node (BAD-INPUTS 5)', T, async () => {
    const N = 200;
    const socks = await Promise.all(Array.from({ length: N }, () => raw(srv)));
    const outs = socks.map(readAll);
    const line = 'GET /burrow/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Slow: ';
    let i = 0;
    const drip = setInterval(() => {
      for (const s of socks) if (!s.destroyed) s.write(line[i % line.length]!);
      i++;
    }, 100);
    try {
      // The node keeps serving meanwhile.
      const h = await fetch(`${srv.http}/health`);
      assert.equal(h.status, 200);
      const answers = await Promise.all(outs);
      for (const a of answers) assert.ok(a === '' || a.startsWith('HTTP/1.1 408'), a.slice(0, 40));
      assert.ok(answers.filter((a) => a.startsWith('HTTP/1.1 408')).length > N / 2, 'answered 408');
    } finally {
      clearInterval(drip);
    }
    assert.equal((await fetch(`${srv.http}/health`)).status, 200);
  });
});

describe('compression (BAD-INPUTS 10)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.close());

  it('permessage-deflate is never negotiated, so no inflation bomb is possible; a compressed (RSV1) frame closes 1002 (BAD-INPUTS 10)', T, async () => {
    const s = await raw(srv);
    const out = readAll(s);
    const upgraded = received(s, '\r\n\r\n');
    s.write(
      'GET /burrow/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
    );
    await upgraded; // the 101 response head
    // A masked text frame with RSV1 (compressed) set: 0xC1, mask bit + length 3.
    const mask = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from('1:x');
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    s.write(Buffer.concat([Buffer.from([0xc1, 0x80 | payload.length]), mask, masked]));
    const text = await out;
    assert.match(text, /^HTTP\/1.1 101/);
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.doesNotMatch(head, /sec-websocket-extensions/i, 'no extension negotiated');
    // The close frame the server sends: 0x88, len, code 1002 (0x03 0xEA).
    assert.ok(Buffer.from(text, 'latin1').includes(Buffer.from([0x03, 0xea])) || text.includes('\u03ea'), 'closed 1002');
  });
});

describe('slow clients keep memory bounded (BAD-INPUTS 19)', () => {
  const MAX_BYTES = 64 * 1024;
  let srv: TestServer;
  let store: MemoryStore;
  const sessions = new Map<string, Session>();
  beforeAll(async () => {
    store = new MemoryStore();
    srv = await startTestServer({ store, bodyTimeout: 300, limits: { maxBufferedBytes: MAX_BYTES, maxBufferedMessages: 100000 } });
    srv.burrow.on('connection', (s) => sessions.set(s.id, s));
  });
  afterAll(() => srv.close());

  async function open(): Promise<{ sid: string; token: string }> {
    const r = await postJson(`${srv.http}/sessions`, { v: 1 });
    return { sid: r.json.sid, token: r.json.token };
  }

  async function flood(sid: string): Promise<number> {
    const s = sessions.get(sid)!;
    // Closed sessions of earlier tests linger (closeLinger) with their logs: count from here.
    const base = store.bufferedBytes;
    const chunk = 'z'.repeat(1000);
    let sent = 0;
    for (;;) {
      try {
        await s.send(chunk);
        sent++;
      } catch (e: any) {
        assert.equal(e.code, 'buffer_overflow');
        return sent;
      }
      assert.ok(store.bufferedBytes - base <= MAX_BYTES, `buffered ${store.bufferedBytes - base}`);
    }
  }

  it('a poll never issued: the buffer stops at maxBufferedBytes and the session closes 4003 (BAD-INPUTS 19)', T, async () => {
    const s = await open();
    const closed = waitFor<[Session, number]>(srv.burrow, 'close', (x: Session) => x.id === s.sid);
    const sent = await flood(s.sid);
    assert.ok(sent * 1000 <= MAX_BYTES);
    assert.equal((await closed)[1], 4003);
  });

  it('an SSE reader that never reads (raw socket, paused): buffered bytes and the socket backlog stay bounded, then 4003 (BAD-INPUTS 19)', T, async () => {
    const s = await open();
    const sock = await raw(srv);
    sock.pause();
    sock.write(`GET /burrow/sessions/${s.sid}/sse?token=${s.token}&ack=0 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(srv.burrow, 'transport', (x: Session) => x.id === s.sid);
    const closed = waitFor<[Session, number]>(srv.burrow, 'close', (x: Session) => x.id === s.sid);
    const rss = process.memoryUsage().rss;
    await flood(s.sid);
    assert.equal((await closed)[1], 4003);
    assert.ok(store.bufferedBytes <= MAX_BYTES * 2, 'this session and the lingering one of the last test');
    assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, 'RSS growth bounded');
    sock.destroy();
  });

  it('slowloris POST bodies are cut at bodyTimeout (408), those past maxSendsInFlight refused at once (503), and hold nothing after (BAD-INPUTS 14, 19)', T, async () => {
    const s = await open();
    const socks = await Promise.all(Array.from({ length: 50 }, () => raw(srv)));
    const outs = socks.map(readAll);
    for (const k of socks) {
      k.write(`POST /burrow/sessions/${s.sid}/send?token=${s.token} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n{"frames":[`);
    }
    const answers = await Promise.all(outs);
    // One session's POSTs: the first maxSendsInFlight (8) read until bodyTimeout, the rest never read.
    assert.equal(answers.filter((a) => /^HTTP\/1.1 408/.test(a)).length, 8);
    assert.equal(answers.filter((a) => /^HTTP\/1.1 503/.test(a) && a.includes('"error":"overloaded"')).length, 42);
    assert.equal((await fetch(`${srv.http}/health`)).status, 200);
  });
});

describe('hung link over HTTP (BAD-INPUTS 25)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ heartbeat: 200, heartbeatTimeout: 200, resumeWindow: 5000 });
  });
  afterAll(() => srv.close());

  it('an SSE client gone silent (no POST, no FIN) loses the transport within heartbeat + timeout; the session resumes (BAD-INPUTS 25)', T, async () => {
    const r = await postJson(`${srv.http}/sessions`, { v: 1 });
    const { sid, token } = r.json;
    const sock = await raw(srv);
    const t0 = Date.now();
    sock.write(`GET /burrow/sessions/${sid}/sse?token=${token}&ack=0 HTTP/1.1\r\nHost: x\r\n\r\n`);
    // The server ends the chunked stream (a keep-alive socket stays open, so wait for the last chunk).
    await new Promise<void>((resolve) => {
      let seen = '';
      sock.setEncoding('latin1');
      sock.on('data', (c: string) => {
        seen += c;
        if (seen.includes('\r\n0\r\n\r\n')) resolve();
      });
    });
    sock.destroy();
    const took = Date.now() - t0;
    assert.ok(took < 200 + 200 + 300, `detected after ${took} ms`);
    const again = await fetch(`${srv.http}/sessions/${sid}/poll?token=${token}&ack=0`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    assert.notEqual(again?.status, 404, 'the session lives on');
  });
});
