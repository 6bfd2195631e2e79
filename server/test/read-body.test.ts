/** readBody on requests that end before or while it reads. */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { afterEach, test } from 'vitest';
import { readBody, type BodyResult } from '../src/http/respond.js';
import { startTestServer } from '@burrow/test-support';
import { postJson } from './helpers.js';

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

test('a request aborted before readBody listens is refused at once, not after the body timeout', async () => {
  let result: Promise<BodyResult> | undefined;
  const handled = new Promise<void>((done) => {
    const server = createServer((req, res) => {
      res.on('error', () => {});
      req.on('error', () => {});
      // The body is still on its way; the request dies before anyone reads it.
      req.on('close', () => {
        result = readBody(req, 1024, 3_600_000);
        done();
      });
      req.destroy();
    });
    open.push(server);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': '100' } });
      c.on('error', () => {});
      c.write('partial');
    });
  });
  await handled;
  const r = await result!;
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'bad_request');
});

/** readBody of a POST whose body the client writes in `chunks` of `bytes`, one every `everyMs`. */
async function paced(chunks: number, bytes: number, everyMs: number, timeoutMs: number, minRate: number): Promise<{ r: BodyResult; at: number }> {
  let started = 0;
  const got = new Promise<{ r: BodyResult; at: number }>((resolve) => {
    const server = createServer((req, res) => {
      res.on('error', () => {});
      req.on('error', () => {});
      started = performance.now();
      void readBody(req, 1 << 20, timeoutMs, minRate).then((r) => {
        resolve({ r, at: performance.now() - started });
        res.end();
      });
    });
    open.push(server);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': String(chunks * bytes) } });
      c.on('error', () => {});
      c.on('response', (res) => res.resume());
      let sent = 0;
      const tick = setInterval(() => {
        if (c.destroyed || sent === chunks) return clearInterval(tick);
        c.write('x'.repeat(bytes));
        if (++sent === chunks) c.end();
      }, everyMs);
      c.on('close', () => clearInterval(tick));
      // The answer ends the exchange: a client still writing a cut body kept the server (and the test) for its whole length.
      c.on('response', (res) => {
        res.resume();
        c.destroy();
      });
    });
  });
  return got;
}

test('a body that keeps up minRate is read to its end past the body timeout (a cut one would be resent, and cut again)', async () => {
  // 4,000 B/s for 1.2 s against 300 ms plus a second per 1,000 B: read whole.
  const { r, at } = await paced(24, 200, 50, 300, 1000);
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.text.length, 24 * 200);
  assert.ok(at > 300, `done after ${at} ms, past the body timeout`);
});

test('a trickle slower than minRate is still cut with 408 before its end', async () => {
  // 100 B/s for 5 s against 300 ms plus a second per 1,000 B: cut at about 300 / (1 - 0.1) ms.
  const { r } = await paced(100, 5, 50, 300, 1000);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'timeout');
});

/**
 * readBody (200 ms, 1,000 B/s) of a POST declaring 200 KB that sends 100 KB at once, which earns 100 s,
 * then a byte every `trickleMs` (none when undefined). Resolves with the result and the bytes trickled.
 */
async function burstThen(trickleMs?: number): Promise<{ r: BodyResult; trickled: number }> {
  let cut!: (r: BodyResult) => void;
  const result = new Promise<BodyResult>((resolve) => (cut = resolve));
  const server = createServer((req, res) => {
    res.on('error', () => {});
    req.on('error', () => {});
    void readBody(req, 1 << 20, 200, 1000).then((r) => {
      cut(r);
      res.end();
    });
  });
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const c = request({ port: (server.address() as { port: number }).port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': '200000' } });
  c.on('error', () => {});
  c.on('response', (res) => res.resume());
  c.write('x'.repeat(100_000));
  let trickled = 0;
  const tick =
    trickleMs === undefined
      ? undefined
      : setInterval(() => {
          c.write('x');
          trickled++;
        }, trickleMs);
  const r = await result;
  clearInterval(tick);
  c.destroy();
  return { r, trickled };
}

test('a body that stalls after a burst is cut a body timeout later, not after the time its burst earned', async () => {
  const { r } = await burstThen();
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'timeout');
});

test('regression: a burst, then a byte per body timeout, is cut, not held for the time the burst earned', async () => {
  // A byte every 150 ms is 6.7 B/s, under a quarter of 1,000. Before, each byte re-armed the 200 ms
  // timer, and the body was held for the 100 s the burst earned.
  const { r, trickled } = await burstThen(150);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'timeout');
  // Cut at its first check after the burst: a trickle of that size is seconds, not the 100 s earned.
  assert.ok(trickled < 20, `cut after ${trickled} trickled bytes`);
});

test('bodyMinRate, through a send POST: a batch that keeps up the rate is applied past bodyTimeout', async () => {
  const srv = await startTestServer({ bodyTimeout: 300, bodyMinRate: 1000 });
  try {
    const { json: session } = await postJson(`${srv.http}/sessions`, { v: 1 });
    const body = JSON.stringify({ frames: [{ t: 'd', seq: 1, text: 'x'.repeat(4800) }] });
    // ~4,000 B/s for ~1.2 s: past bodyTimeout, and within what the bytes earn.
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const c = request(`${srv.http}/sessions/${session.sid}/send?token=${session.token}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) },
      });
      c.on('error', reject);
      c.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      let at = 0;
      const tick = setInterval(() => {
        c.write(body.slice(at, at + 200));
        at += 200;
        if (at >= body.length) {
          clearInterval(tick);
          c.end();
        }
      }, 50);
    });
    const r = await answer;
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).ack, 1);
    assert.equal(srv.received.get(session.sid)?.length, 1);
  } finally {
    await srv.close();
  }
});
