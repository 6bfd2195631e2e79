import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import {
  CloseCode,
  decodeBase64,
  decodeHandshakeRequest,
  decodeJsonFrame,
  decodePollResponse,
  decodeSendRequest,
  decodeWsMessage,
  encodeBase64,
  encodeJsonFrame,
  encodePollResponse,
  encodeSendRequest,
  encodeWsFrame,
  type Frame,
  frameToJson,
  utf8Length,
} from '@burrow/shared';
import { badJson, badWs, bytes, roundTrips } from './frame-tables.js';

// Regression (issue 10): a lone surrogate arrived as U+D800 over HTTP and as U+FFFD over WebSocket
// (whose UTF-8 cannot carry it). JSON text now decodes as the WebSocket's UTF-8 would.
describe('lone surrogates arrive as U+FFFD on every transport', () => {
  it.each([
    ['\ud800', '\ufffd'],
    ['a\udc00b', 'a\ufffdb'],
    ['\ud83d\ude00\ud83d', '\ud83d\ude00\ufffd'],
    ['\udbff\udbff\udc00', '\ufffd\udbff\udc00'],
  ] as const)('%j -> %j', (input, expected) => {
    const r = decodeJsonFrame(encodeJsonFrame({ t: 'd', seq: 1, data: input }), { from: 'client' });
    assert.ok(r.ok);
    assert.equal(r.value.t === 'd' && r.value.data, expected);
    // What a WebSocket delivers: the string through UTF-8 and back.
    assert.equal(new TextDecoder().decode(new TextEncoder().encode(input)), expected);
  });
});

describe('text data frames: the spelled-out encoding is byte for byte the generic one', () => {
  it.each(['', 'hi', '"quoted" \\ back', '\n\t\u0000\u001f', '\ud800 lone', '😀 ünï', '</script>', 'x'.repeat(1000)])('%j', (text) => {
    const frame = { t: 'd', seq: 9007199254740991, data: text } as const;
    assert.equal(encodeJsonFrame(frame), JSON.stringify(frameToJson(frame)));
  });
});

describe('codec round trips', () => {
  it.each(roundTrips)('json: %s', (_name, frame) => {
    const r = decodeJsonFrame(encodeJsonFrame(frame), { from: 'client' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, frame);
  });
  it.each(roundTrips)('websocket: %s', (_name, frame) => {
    const r = decodeWsMessage(encodeWsFrame(frame), { from: 'client' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, frame);
  });

  it('open frame from the server', () => {
    const open: Frame = {
      t: 'open', v: 1, sid: 'abcdefghijklmnop', token: 't', ack: 3, resumed: true, protocol: 'chat',
      heartbeat: 20000, heartbeatTimeout: 10000, maxPayload: 1048576, resumeWindow: 30000,
    };
    const r = decodeJsonFrame(encodeJsonFrame(open), { from: 'server' });
    assert.ok(r.ok);
    assert.deepEqual(r.value, open);
  });

  it('open frame: the optional ack cadence is kept when it is a number >= 1, refused otherwise', () => {
    const base = {
      t: 'open', v: 1, sid: 'abcdefghijklmnop', token: 't', ack: 0, resumed: false, protocol: '',
      heartbeat: 20000, heartbeatTimeout: 10000, maxPayload: 1048576, resumeWindow: 30000,
    };
    const cadence = decodeJsonFrame(JSON.stringify({ ...base, ackEvery: 10, ackBytes: 2048 }), { from: 'server' });
    assert.ok(cadence.ok);
    assert.deepEqual(cadence.value, { ...base, ackEvery: 10, ackBytes: 2048 });
    for (const bad of [{ ackEvery: 0 }, { ackEvery: '10' }, { ackBytes: -1 }, { ackBytes: null }]) {
      const r = decodeJsonFrame(JSON.stringify({ ...base, ...bad }), { from: 'server' });
      assert.equal(r.ok, false, JSON.stringify(bad));
    }
  });

  it('open frame: a duration a timer cannot hold is refused (a client would time out at once, again and again)', () => {
    const base = {
      t: 'open', v: 1, sid: 'abcdefghijklmnop', token: 't', ack: 0, resumed: false, protocol: '',
      heartbeat: 20000, heartbeatTimeout: 10000, maxPayload: 1048576, resumeWindow: 30000,
    };
    for (const k of ['heartbeat', 'heartbeatTimeout', 'resumeWindow']) {
      const longest = decodeJsonFrame(JSON.stringify({ ...base, [k]: 2 ** 31 - 1 }), { from: 'server' });
      assert.ok(longest.ok, k);
      const over = decodeJsonFrame(JSON.stringify({ ...base, [k]: 2 ** 31 }), { from: 'server' });
      assert.equal(over.ok, false, k);
      if (!over.ok) assert.match(over.error.message, new RegExp(`open.${k} must be a number of ms from 0 to 2147483647`));
    }
    // maxPayload is a size, not a delay: not bounded by timers.
    assert.ok(decodeJsonFrame(JSON.stringify({ ...base, maxPayload: 2 ** 32 }), { from: 'server' }).ok);
  });

  it('binary stays binary on websocket: 8-byte header then the bytes', () => {
    const msg = encodeWsFrame({ t: 'd', seq: 258, data: bytes(9, 8) });
    assert.ok(msg instanceof Uint8Array);
    assert.equal(msg.byteLength, 10);
    assert.deepEqual([...msg.subarray(8)], [9, 8]);
  });

  it('text data on websocket carries no JSON', () => {
    assert.equal(encodeWsFrame({ t: 'd', seq: 12, data: 'a"b' }), '12:a"b');
  });
});

describe('codec rejects malformed frames (BAD-INPUTS 11, 12)', () => {
  it.each(badJson)('json: %s -> %s', (_name, code, text, status) => {
    const r = decodeJsonFrame(text, { from: 'client' });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, code);
      assert.equal(r.error.status, status);
    }
  });

  it('deep nesting (100k "[") is an error value, not a stack overflow', () => {
    const r = decodeJsonFrame('['.repeat(100_000), { from: 'client' });
    assert.equal(r.ok, false);
  });

  it('payload over maxPayload -> payload_too_large / 1009 / 413', () => {
    for (const text of [
      JSON.stringify({ t: 'd', seq: 1, text: 'x'.repeat(11) }),
      JSON.stringify({ t: 'd', seq: 1, text: 'é'.repeat(6) }),
      JSON.stringify({ t: 'd', seq: 1, bin: encodeBase64(new Uint8Array(11)) }),
    ]) {
      const r = decodeJsonFrame(text, { from: 'client', maxPayload: 10 });
      assert.equal(r.ok, false, text);
      if (!r.ok) {
        assert.equal(r.error.code, 'payload_too_large');
        assert.equal(r.error.close, CloseCode.TooBig);
        assert.equal(r.error.status, 413);
      }
    }
    assert.ok(decodeJsonFrame(JSON.stringify({ t: 'd', seq: 1, text: 'x'.repeat(10) }), { from: 'client', maxPayload: 10 }).ok);
  });

  it.each(badWs)('websocket: %s', (_name, msg) => {
    const r = decodeWsMessage(msg, { from: 'client' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.close, CloseCode.ProtocolError);
  });
});

describe('HTTP bodies', () => {
  it('send request round trip with token and ack', () => {
    const frames: Frame[] = [{ t: 'd', seq: 1, data: 'a' }, { t: 'd', seq: 2, data: bytes(1) }, { t: 'ping' }];
    const r = decodeSendRequest(encodeSendRequest({ token: 'tok', ack: 4, frames }), { from: 'client' });
    assert.ok(r.ok);
    assert.deepEqual(r.value, { token: 'tok', ack: 4, frames });
  });

  it('send request: the same bytes as JSON.stringify of the frame objects', () => {
    const frames: Frame[] = [
      { t: 'd', seq: 1, data: 'plain' },
      { t: 'd', seq: 2, data: 'quote " backslash \\ newline \n \u0001 lone \ud800 emoji 😀' },
      { t: 'd', seq: 3, data: new Uint8Array([0, 1, 255]) },
      { t: 'd', seq: 4, data: '' },
      { t: 'close', seq: 5, code: 1000, reason: 'bye' },
      { t: 'ping' },
    ];
    for (const req of [{ frames }, { frames: [], ack: 0 }, { token: 't"k', ack: 7, frames }]) {
      const o: Record<string, unknown> = { frames: req.frames.map(frameToJson) };
      if ('token' in req) o.token = req.token;
      if (req.ack !== undefined) o.ack = req.ack;
      assert.equal(encodeSendRequest(req), JSON.stringify(o));
    }
  });

  it('send request over maxFrames -> 413', () => {
    const body = encodeSendRequest({ frames: [{ t: 'ping' }, { t: 'ping' }, { t: 'ping' }] });
    const r = decodeSendRequest(body, { from: 'client', maxFrames: 2 });
    assert.ok(!r.ok && r.error.status === 413);
  });

  it('one bad frame fails the whole batch (nothing half-applied)', () => {
    const r = decodeSendRequest('{"frames":[{"t":"d","seq":1,"text":"a"},{"t":"zzz"}]}', { from: 'client' });
    assert.ok(!r.ok && r.error.code === 'unknown_frame_type');
  });

  it('poll response joins pre-encoded frames', () => {
    const frames: Frame[] = [{ t: 'd', seq: 1, data: 'x' }, { t: 'pong' }];
    const r = decodePollResponse(encodePollResponse(frames.map(encodeJsonFrame)), { from: 'server' });
    assert.ok(r.ok);
    assert.deepEqual(r.value, frames);
  });

  const handshakes: Array<[string, string, boolean]> = [
    ['empty body', '', true],
    ['protocols', '{"v":1,"protocols":["chat","v2.json"]}', true],
    ['wrong version', '{"v":2}', false],
    ['protocol with space', '{"protocols":["a b"]}', false],
    ['protocols not array', '{"protocols":"chat"}', false],
  ];
  it.each(handshakes)('handshake: %s', (_name, body, good) => assert.equal(decodeHandshakeRequest(body).ok, good));
});

describe('helpers', () => {
  it('utf8Length matches TextEncoder', () => {
    const edges = ['\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\ud800\ud800', '\udbff\udfff', '\udc00\ud800', 'a\ud800', '\ud83d😀\ude00'];
    for (const s of ['', 'abc', 'é', '€', '😀', '\ud800', 'a\udc00b', 'x😀y\u0800', ...edges]) {
      assert.equal(utf8Length(s), new TextEncoder().encode(s).byteLength, JSON.stringify(s));
    }
  });
  it('base64 round trip and rejection', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual(decodeBase64(encodeBase64(all)), all);
    assert.equal(decodeBase64('abc'), undefined);
    assert.equal(decodeBase64('ab c'), undefined);
  });
});
