/**
 * chunked-stream.ts writes SSE chunks straight to the socket, one per turn: the body must decode to
 * exactly what `res.write` sends, each turn's writes must leave as one chunk, and anything that stands
 * between the response and its socket (an HTTP/1.0 peer, a wrapped `res.write`, an encoded body) must
 * get the ordinary path.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { chunkWriter } from '../src/http/chunked-stream.js';

const TEXTS = ['data: a\n\n', 'id: 2\ndata: {"t":"msg","d":"é — 😀"}\n\n', '', `data: ${'x'.repeat(70_000)}\n\n`];

const open: Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

/** Serves TEXTS with `write`, then ends; `direct` picks chunkWriter or res.write. */
async function serve(direct: boolean, prepare?: (res: ServerResponse) => void): Promise<number> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    prepare?.(res);
    const chunked = req.httpVersionMinor >= 1;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', ...(chunked ? { 'Transfer-Encoding': 'chunked' } : {}) });
    res.write(':pad\n\n');
    const w = direct ? chunkWriter(res, chunked, (err) => { throw err; }) : undefined;
    const write = w ? (t: string, done?: () => void) => w.write(t, done) : (t: string, done?: () => void) => void res.write(t, done);
    let flushed = 0;
    for (const t of TEXTS) write(t, () => flushed++);
    setImmediate(() => res.end(`data: flushed ${flushed}\n\n`));
  });
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push(server);
  return (server.address() as { port: number }).port;
}

/** The raw bytes of a response, head and body, as the socket carried them. */
function raw(port: number, version = '1.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(`GET / HTTP/${version}\r\nHost: x\r\nConnection: close\r\n\r\n`));
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(parts)));
  });
}

const body = (b: Buffer): string => b.toString('utf8').split('\r\n\r\n').slice(1).join('\r\n\r\n');

/** The chunks of a chunked body, decoded (throws on a malformed framing). */
function chunks(b: string): string[] {
  const out: string[] = [];
  const buf = Buffer.from(b, 'utf8');
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    const size = parseInt(buf.subarray(i, eol).toString(), 16);
    assert.ok(Number.isInteger(size), `chunk size at ${i}`);
    if (size === 0) return out;
    out.push(buf.subarray(eol + 2, eol + 2 + size).toString('utf8'));
    assert.equal(buf.subarray(eol + 2 + size, eol + 4 + size).toString(), '\r\n');
    i = eol + 4 + size;
  }
}

test('one turn of writes leaves as one well-framed chunk; the body decodes to what res.write sends, callbacks included', async () => {
  const [mine, node] = await Promise.all([serve(true).then((p) => raw(p)), serve(false).then((p) => raw(p))]);
  assert.equal(chunks(body(mine)).join(''), chunks(body(node)).join(''));
  assert.deepEqual(chunks(body(mine)), [':pad\n\n', TEXTS.join(''), 'data: flushed 4\n\n']);
  expect(mine.toString()).toMatch(/transfer-encoding: chunked/i);
});

test('an HTTP/1.0 peer gets a body ended by the close, not chunks', async () => {
  const got = await raw(await serve(true), '1.0');
  expect(got.toString()).not.toMatch(/transfer-encoding/i);
  assert.equal(body(got), `:pad\n\n${TEXTS.join('')}data: flushed 4\n\n`);
});

test('a wrapped res.write (middleware) is called, not bypassed', async () => {
  let wrapped = 0;
  const port = await serve(true, (res) => {
    const write = res.write.bind(res) as (c: string, cb?: () => void) => boolean;
    res.write = ((c: string, cb?: () => void) => {
      wrapped++;
      return write(c, cb);
    }) as ServerResponse['write'];
  });
  await raw(port);
  // The padding, then the turn's texts in one write.
  assert.equal(wrapped, 2);
});

test('a turn whose write throws: the stream alone is cut and the error reported, the process lives', async () => {
  const boom = new Error('socket write failed');
  const reported: unknown[] = [];
  const server = createServer((_req, res) => {
    res.on('error', () => {});
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Transfer-Encoding': 'chunked' });
    res.write(':pad\n\n');
    const w = chunkWriter(res, true, (err) => reported.push(err));
    (res.socket as unknown as { write: () => never }).write = () => {
      throw boom;
    };
    w.write('data: lost with the stream\n\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push(server);
  await raw((server.address() as { port: number }).port);
  assert.deepEqual(reported, [boom]);
});
