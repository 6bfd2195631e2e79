/**
 * Protocol suite (see ./server.ts): `GET {path}/ws`, the WebSocket transport. Seqs and acks as frames
 * on one socket, binary as binary, pings, malformed Burrow messages and malformed WebSocket framing.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '@burrow/test-support';
import {
  appWatch,
  pollUntil,
  RawWs,
  RawWsSocket,
  send,
  type Wire,
  wsFrame,
} from '../fixtures/raw-protocol.js';
import { dataOf, LIMITS, startProtocolServer, T, withCanary, wsCloseCodeAfter, useDefaultLimitsServer } from './server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startProtocolServer();
});
afterAll(() => srv?.close());

const app = () => appWatch(srv);

describe('seqs and acks', () => {
  it('WebSocket: server data frames are numbered from 1 with no gaps', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, 'flood:30');
    for (let i = 1; i <= 30; i++) {
      const f = await c.nextData();
      assert.equal(f.seq, i);
      assert.equal(f.text, `s${i}`);
    }
    c.send({ t: 'ack', ack: 30 });
    c.ws.terminate();
  });

  it('binary stays binary on WebSocket (8-byte BE float64 seq + bytes) and is base64 over HTTP, both ways', T, async () => {
    const { c, open } = await RawWs.open(srv);
    const bytes = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
    c.sendBinary(1, bytes);
    const f = await c.nextData();
    assert.equal(f.seq, 1);
    assert.ok(Buffer.isBuffer(f.bin), 'echoed as a binary message');
    assert.ok((f.bin as Buffer).equals(bytes));
    const got = (await app().received(open.sid, 1))[0];
    assert.ok(typeof got !== 'string' && Buffer.from(got!).equals(bytes), 'the app got the bytes, not text');
    await c.kill();
    // The same server frame fetched over HTTP is base64; a base64 upstream frame is bytes for the app.
    const frames = await pollUntil(srv, open, 0, (fs) => dataOf(fs).length >= 1);
    assert.deepEqual(frames[0], { t: 'd', seq: 1, bin: bytes.toString('base64') });
    const r = await send(srv, open.sid, open.token, { ack: 1, frames: [{ t: 'd', seq: 2, bin: 'AAEC' }] });
    assert.deepEqual([r.status, r.json], [200, { ack: 2 }]);
    const back = await pollUntil(srv, open, 1, (fs) => dataOf(fs).length >= 1);
    assert.deepEqual(back[0], { t: 'd', seq: 2, bin: 'AAEC' });
  });

  it('empty payloads are messages too: "N:" and an 8-byte binary header alone', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, '');
    const t = await c.nextData();
    assert.deepEqual([t.seq, t.text], [1, '']);
    c.sendBinary(2, new Uint8Array(0));
    const b = await c.nextData();
    assert.equal(b.seq, 2);
    assert.equal((b.bin as Buffer).length, 0);
    c.ws.terminate();
  });

  it('WebSocket: the server acks cumulatively, never backwards', T, async () => {
    const { c } = await RawWs.open(srv);
    c.sendText(1, 'quiet:a');
    c.sendText(2, 'quiet:b');
    c.sendText(3, 'quiet:c');
    let last = 0;
    for (;;) {
      const f = await c.take((x) => x.t === 'ack');
      assert.ok(typeof f.ack === 'number' && f.ack >= last && f.ack <= 3, `ack ${String(f.ack)} after ${last}`);
      last = f.ack as number;
      if (last === 3) break;
    }
    c.ws.terminate();
  });

  it('WebSocket: a resent data frame (same seq) is delivered to the app once (BAD-INPUTS 17)', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.sendText(1, 'quiet:a');
    c.sendText(1, 'quiet:a');
    c.sendText(2, 'quiet:end');
    await app().received(open.sid, 2);
    // Nothing is queued behind 'quiet:end' on this session; a duplicate would have come before it.
    assert.deepEqual(srv.received.get(open.sid), ['quiet:a', 'quiet:end']);
    c.ws.terminate();
  });

  it('WebSocket: an ack for seqs never sent does not trim frames sent later (BAD-INPUTS 18)', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.send({ t: 'ack', ack: 1000 });
    c.sendText(1, 'later');
    let f: Wire;
    try {
      f = await c.nextData();
    } catch {
      // "ignored or protocol error": a protocol error must be the documented one.
      assert.equal((await c.closed).code, 1002);
      return;
    }
    assert.deepEqual([f.seq, f.text], [1, 'later']);
    await c.kill();
    const r = await RawWs.resume(srv, open.sid, open.token, 0);
    const again = await r.c.nextData();
    assert.deepEqual([again.seq, again.text], [1, 'later'], 'resent after resume: the bogus ack trimmed nothing');
    r.c.ws.terminate();
  });

  it('WebSocket: a gap in upstream seqs is not delivered past the gap', T, async () => {
    const { c, open } = await RawWs.open(srv);
    c.sendText(1, 'quiet:a');
    c.sendText(3, 'quiet:c');
    c.sendText(2, 'quiet:b');
    c.sendText(3, 'quiet:c');
    const outcome = await Promise.race([
      c.closed.then((x) => ({ closed: x })),
      app()
        .received(open.sid, 3)
        .then((got) => ({ got })),
    ]);
    if ('closed' in outcome) {
      // The server may treat the gap as a protocol error and end the session: documented and loud.
      assert.equal(outcome.closed.code, 1002);
      assert.equal((await app().closed(open.sid)).code, 1002);
      const f = await c.take((x) => x.t === 'close').catch(() => undefined);
      assert.ok(!f || f.code === 1002, 'the close frame says 1002');
      assert.deepEqual(srv.received.get(open.sid), ['quiet:a'], 'nothing past the gap delivered');
    } else {
      assert.deepEqual(outcome.got, ['quiet:a', 'quiet:b', 'quiet:c'], 'c never delivered before b');
      c.ws.terminate();
    }
  });
});

describe('heartbeats', () => {
  it('WebSocket: a client ping is answered by a pong', T, async () => {
    const { c } = await RawWs.open(srv);
    c.send({ t: 'ping' });
    assert.deepEqual(await c.take((f) => f.t === 'pong'), { t: 'pong' });
    c.ws.terminate();
  });
});

describe('bad input: malformed Burrow frames (BAD-INPUTS 11)', () => {
  withCanary(() => srv);

  const wsCases: Array<[string, string | Buffer]> = [
    ['non-JSON text without a seq', 'hello'],
    ['an empty text message', ''],
    ['a seq with a leading zero', '01:x'],
    ['seq 0', '0:x'],
    ['a seq of 17 digits', '12345678901234567:x'],
    ['truncated JSON', '{"t":"d","seq":1,"te'],
    ['a JSON array', '[1,2,3]'],
    ['wrong shape: seq is a string', '{"t":"d","seq":"1","text":"x"}'],
    ['wrong shape: data with both text and bin', '{"t":"d","seq":1,"text":"x","bin":"AA=="}'],
    ['wrong shape: close code not valid on the wire', '{"t":"close","seq":1,"code":1005}'],
    ['wrong shape: negative ack', '{"t":"ack","ack":-1}'],
    ['unknown frame type', '{"t":"zap"}'],
    ['an open frame from the client', '{"t":"open","v":1,"sid":"x","token":"y","ack":0,"resumed":false}'],
    ['__proto__ as frame type', '{"t":"__proto__"}'],
    ['a binary message shorter than its seq header', Buffer.from([1, 2, 3])],
    ['a binary message with seq NaN', Buffer.from([0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 1])],
  ];

  it.each(wsCases)('WebSocket: %s → close 1002 (BAD-INPUTS 11)', T, async (_name, msg) => {
    assert.equal(await wsCloseCodeAfter(srv, msg), 1002);
  });

  it('WebSocket: a close reason over 123 bytes → close 1002 (BAD-INPUTS 11)', T, async () => {
    assert.equal(await wsCloseCodeAfter(srv, JSON.stringify({ t: 'close', seq: 1, code: 4000, reason: 'r'.repeat(124) })), 1002);
  });

  it('WebSocket: a text message over maxPayload → close 1009', T, async () => {
    assert.equal(await wsCloseCodeAfter(srv, `1:${'x'.repeat(LIMITS.maxPayload + 1)}`), 1009);
  });

  it('WebSocket: a binary message over maxPayload → close 1009', T, async () => {
    const b = Buffer.alloc(8 + LIMITS.maxPayload + 1);
    b.writeDoubleBE(1, 0);
    assert.equal(await wsCloseCodeAfter(srv, b), 1009);
  });

  it('WebSocket: a payload of exactly maxPayload is accepted', T, async () => {
    const { c } = await RawWs.open(srv);
    const text = 'y'.repeat(LIMITS.maxPayload);
    c.sendText(1, text);
    assert.equal((await c.nextData()).text, text);
    c.ws.terminate();
  });
});

describe('bad input: deep nesting and huge strings (BAD-INPUTS 12)', () => {
  const big = useDefaultLimitsServer(); // default limits, so the parser really sees the input

  const deep = 100_000;

  it('WebSocket: 100k-deep nesting in a control frame → close 1002', T, async () => {
    const code = await wsCloseCodeAfter(big(), `{"t":"d","seq":1,"text":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    assert.equal(code, 1002);
  });

  it('WebSocket: 100k unclosed [ in a control frame → close 1002', T, async () => {
    assert.equal(await wsCloseCodeAfter(big(), `{"t":"ack","ack":${'['.repeat(deep)}`), 1002);
  });

  it('WebSocket: a 10 MB string → close 1009', T, async () => {
    assert.equal(await wsCloseCodeAfter(big(), `1:${'x'.repeat(10 * 1024 * 1024)}`), 1009);
  });
});

describe('bad input: WebSocket framing (BAD-INPUTS 6, 7, 8)', () => {
  withCanary(() => srv);

  const text = (s: string) => Buffer.from(s, 'utf8');

  /** Name and close code first: they make the test title. */
  const cases: Array<[name: string, code: number, frame: Buffer]> = [
    ['RSV1 set (no extension negotiated) (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 1, rsv: 4, payload: text('1:x') })],
    ['RSV2 set (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 1, rsv: 2, payload: text('1:x') })],
    ['RSV3 set (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 1, rsv: 1, payload: text('1:x') })],
    ['unknown data opcode 0x3 (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 3, payload: text('1:x') })],
    ['unknown control opcode 0xB (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 0xb })],
    ['an unmasked client frame (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 1, masked: false, payload: text('1:x') })],
    ['a ping of 126 bytes (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 9, payload: Buffer.alloc(126, 0x61) })],
    ['a fragmented ping (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 9, fin: false, payload: text('p') })],
    ['a continuation with nothing to continue (BAD-INPUTS 6)', 1002, wsFrame({ opcode: 0, payload: text('1:x') })],
    ['invalid UTF-8 in a text frame (BAD-INPUTS 7)', 1007, wsFrame({ opcode: 1, payload: Buffer.from([0x31, 0x3a, 0xff, 0xfe]) })],
    ['a UTF-16 surrogate encoded in UTF-8 (BAD-INPUTS 7)', 1007, wsFrame({ opcode: 1, payload: Buffer.from([0x31, 0x3a, 0xed, 0xa0, 0x80]) })],
    ['a declared 16-bit length over maxPayload (BAD-INPUTS 8)', 1009, wsFrame({ opcode: 1, declaredLength: 60000n })],
    ['a declared length of 2^40 (BAD-INPUTS 8)', 1009, wsFrame({ opcode: 2, declaredLength: 2n ** 40n })],
    ['a declared length of 2^63 - 1 (BAD-INPUTS 8)', 1009, wsFrame({ opcode: 2, declaredLength: 2n ** 63n - 1n })],
  ];

  it.each(cases)('%s → close %i', T, async (_name, code, frame) => {
    const raw = await RawWsSocket.connect(srv);
    const first = await raw.frames.take();
    assert.equal(first.opcode, 1, 'the open frame comes first, as text');
    raw.write(frame);
    assert.equal(await raw.closeCode(), code);
  });

  it('hundreds of thousands of tiny continuation fragments → close 1008/1009, memory bounded (BAD-INPUTS 9)', T, async () => {
    const raw = await RawWsSocket.connect(srv);
    await raw.frames.take();
    const parts = [wsFrame({ opcode: 1, fin: false, payload: text('1:') })];
    const one = wsFrame({ opcode: 0, fin: false, payload: text('x') });
    for (let i = 0; i < 200_000; i++) parts.push(one);
    raw.write(Buffer.concat(parts));
    const code = await raw.closeCode();
    assert.ok([1008, 1009].includes(code), `close ${code}`);
  });

  it('a message fragmented by hand (with a ping in between) is reassembled and accepted', T, async () => {
    const raw = await RawWsSocket.connect(srv);
    await raw.frames.take();
    raw.write(
      Buffer.concat([
        wsFrame({ opcode: 1, fin: false, payload: text('1:fr') }),
        wsFrame({ opcode: 9, payload: text('p') }),
        wsFrame({ opcode: 0, fin: false, payload: text('ag') }),
        wsFrame({ opcode: 0, fin: true, payload: text('ment') }),
      ]),
    );
    const f = await raw.frames.take((x) => x.opcode === 1 && /^\d+:/.test(x.payload.toString()));
    assert.equal(f.payload.toString(), '1:fragment');
    raw.sock.destroy();
  });

  it('a well-formed hand-made frame is accepted (the raw framing itself is right)', T, async () => {
    const raw = await RawWsSocket.connect(srv);
    await raw.frames.take();
    raw.write(wsFrame({ opcode: 1, payload: text('1:raw-ok') }));
    const f = await raw.frames.take((x) => x.opcode === 1 && x.payload.toString().includes(':'));
    assert.equal(f.payload.toString(), '1:raw-ok');
    raw.sock.destroy();
  });
});
