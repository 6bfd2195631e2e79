/**
 * The client's downstream readers (downstream.ts) against the full decoders the server runs, on the
 * same tables: a reader returns a frame exactly where the decoder (as from a server) succeeds, and
 * the same frame, and undefined exactly where it fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import {
  decodeError,
  decodeJsonFrame,
  decodePollResponse,
  decodeSendResponse,
  encodeSendResponse,
  decodeWsMessage,
  encodeBase64,
  encodeJsonFrame,
  encodePollResponse,
  encodeWsFrame,
  type Frame,
  type OpenFrame,
  readErrorClose,
  readJsonFrame,
  readPollBody,
  readSendAnswer,
  readWsMessage,
  type Result,
} from '@burrow/shared';
import { badJson, badWs, roundTrips } from './frame-tables.js';

/** A frame without its undefined fields (the reader leaves a close frame's absent code and reason undefined). */
const plain = (f: Frame | undefined) => f && Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));

/** The reader's answer matches the decoder's: the same frame, or undefined for an error. */
function agree(read: Frame | undefined, full: Result<Frame>, what: string): void {
  if (full.ok) assert.deepEqual(plain(read), plain(full.value), what);
  else assert.equal(read, undefined, what);
}

const open: OpenFrame = {
  t: 'open', v: 1, sid: 'abcdefghijklmnop', token: 't', ack: 3, resumed: true, protocol: 'chat',
  heartbeat: 20000, heartbeatTimeout: 10000, maxPayload: 1048576, resumeWindow: 30000,
};
const openJson = (over: Record<string, unknown>) => JSON.stringify({ ...open, ...over });

/** JSON texts beyond the tables: open frames good and bad, extra fields, payload sizes. */
const moreJson: string[] = [
  JSON.stringify(open),
  openJson({ extra: 'dropped' }),
  openJson({ sid: 5 }),
  openJson({ heartbeat: -1 }),
  openJson({ heartbeat: 0, ack: 0, resumed: false, protocol: '' }),
  JSON.stringify(open).replace('"heartbeat":20000', '"heartbeat":1e999'),
  openJson({ heartbeat: '1' }),
  openJson({ maxPayload: null }),
  openJson({ ack: 1.5 }),
  openJson({ resumed: 'yes' }),
  openJson({ protocol: undefined }),
  openJson({ heartbeatTimeout: 2 ** 31 - 1 }),
  openJson({ heartbeatTimeout: 2 ** 31 }),
  openJson({ resumeWindow: 2 ** 31 }),
  openJson({ heartbeat: 2 ** 40 }),
  openJson({ maxPayload: 2 ** 32 }),
  openJson({ ackEvery: 10, ackBytes: 4096 }),
  openJson({ ackEvery: 0 }),
  openJson({ ackBytes: '4096' }),
  openJson({ ackEvery: null }),
  JSON.stringify(open).replace('"resumeWindow":30000', '"resumeWindow":30000,"ackBytes":1e999'),
  '{"t":"close","seq":3,"code":1000}',
  '{"t":"close","seq":3,"code":1000,"reason":""}',
  '{"t":"close","seq":3,"reason":""}',
  '{"t":"close","seq":3,"code":4000.5}',
  '{"t":"close","seq":3,"code":1000,"reason":5}',
  '{"t":"ack","ack":9007199254740991}',
  '{"t":"ack"}',
  '{"t":"ping","seq":"ignored"}',
  '{"t":"d","seq":1,"bin":"AAE"}',
  '{"t":"d","seq":1,"text":null}',
  '"d"',
  '',
];

describe('downstream readers agree with the full decoders', () => {
  it.each(roundTrips)('json: %s', (name, frame) => {
    const text = encodeJsonFrame(frame);
    agree(readJsonFrame(text), decodeJsonFrame(text, { from: 'server' }), name);
  });
  it.each(roundTrips)('websocket: %s', (name, frame) => {
    const msg = encodeWsFrame(frame);
    agree(readWsMessage(msg), decodeWsMessage(msg, { from: 'server' }), name);
  });
  it.each(badJson)('bad json: %s', (name, _code, text) => {
    agree(readJsonFrame(text), decodeJsonFrame(text, { from: 'server' }), name);
    assert.equal(readJsonFrame(text), undefined, name);
  });
  it.each(badWs)('bad websocket: %s', (name, msg) => {
    assert.equal(readWsMessage(msg), undefined, name);
    agree(readWsMessage(msg), decodeWsMessage(msg, { from: 'server' }), name);
  });
  it.each(moreJson)('json %s', (text) => {
    agree(readJsonFrame(text), decodeJsonFrame(text, { from: 'server' }), text);
    agree(readWsMessage(text), decodeWsMessage(text, { from: 'server' }), text);
  });
  it('an open frame is read with its known fields only', () => {
    assert.deepEqual(readJsonFrame(openJson({ extra: 'dropped' })), open);
  });

  it('payload limits: over maxPayload is refused, at it is read', () => {
    const cases: Array<[Frame, boolean]> = [
      [{ t: 'd', seq: 1, data: 'x'.repeat(11) }, false],
      [{ t: 'd', seq: 1, data: 'é'.repeat(6) }, false],
      [{ t: 'd', seq: 1, data: new Uint8Array(11) }, false],
      [{ t: 'd', seq: 1, data: 'x'.repeat(10) }, true],
      [{ t: 'd', seq: 1, data: 'é'.repeat(5) }, true],
      [{ t: 'd', seq: 1, data: new Uint8Array(10) }, true],
    ];
    for (const [frame, good] of cases) {
      const text = encodeJsonFrame(frame);
      assert.equal(readJsonFrame(text, 10) !== undefined, good, text);
      agree(readJsonFrame(text, 10), decodeJsonFrame(text, { from: 'server', maxPayload: 10 }), text);
      if (frame.t === 'd' && typeof frame.data !== 'string') {
        const msg = encodeWsFrame(frame);
        agree(readWsMessage(msg, 10), decodeWsMessage(msg, { from: 'server', maxPayload: 10 }), 'binary');
      }
    }
  });

  it('poll bodies: every frame read, or none when one is bad', () => {
    const frames: Frame[] = [{ t: 'd', seq: 1, data: 'x' }, { t: 'd', seq: 2, data: new Uint8Array([1, 2]) }, { t: 'pong' }, open];
    const body = encodePollResponse(frames.map(encodeJsonFrame));
    assert.deepEqual(readPollBody(body), frames);
    for (const bad of ['{"frames":[{"t":"d","seq":1,"text":"a"},{"t":"zzz"}]}', '{"frames":{}}', '{}', '[]', 'nope']) {
      assert.equal(readPollBody(bad), undefined, bad);
      assert.equal(decodePollResponse(bad, { from: 'server' }).ok, false, bad);
    }
    const big = `{"frames":[{"t":"d","seq":1,"bin":"${encodeBase64(new Uint8Array(11))}"}]}`;
    assert.equal(readPollBody(big, 10), undefined);
  });

  it('send answers that carry a polling session\'s frames: every frame read, or none when one is bad', () => {
    const frames: Frame[] = [{ t: 'd', seq: 4, data: 'x' }, { t: 'd', seq: 5, data: new Uint8Array([1, 2]) }, { t: 'pong' }];
    const body = encodeSendResponse({ ack: 7 }, frames.map(encodeJsonFrame));
    assert.deepEqual(readSendAnswer(body), { ack: 7, frames });
    const full = decodeSendResponse(body);
    assert.deepEqual(full.ok && full.value, { ack: 7, frames });
    assert.equal(encodeSendResponse({ ack: 7 }), '{"ack":7}');
    assert.deepEqual(readSendAnswer(encodeSendResponse({ ack: 7 }, [])), { ack: 7, frames: [] });
    for (const bad of ['{"ack":7,"frames":[{"t":"d","seq":1,"text":"a"},{"t":"zzz"}]}', '{"ack":7,"frames":{}}', '{"ack":7,"frames":null}', '{"frames":[]}']) {
      assert.equal(readSendAnswer(bad), undefined, bad);
      assert.equal(decodeSendResponse(bad).ok, false, bad);
    }
    const big = `{"ack":1,"frames":[{"t":"d","seq":1,"bin":"${encodeBase64(new Uint8Array(11))}"}]}`;
    assert.equal(readSendAnswer(big, 10), undefined);
    assert.equal(decodeSendResponse(big, { from: 'server', maxPayload: 10 }).ok, false);
  });

  it('regression (codec review): a close reason with a lone surrogate reads as U+FFFD on both decoders, as text data does', () => {
    const text = '{"t":"close","seq":3,"code":1000,"reason":"a\\ud800b"}';
    const want = { t: 'close', seq: 3, code: 1000, reason: 'a\ufffdb' };
    assert.deepEqual(readJsonFrame(text), want);
    const full = decodeJsonFrame(text, { from: 'server' });
    assert.ok(full.ok);
    assert.deepEqual(full.value, want);
  });

  it('regression (codec review): WebSocket text over maxPayload is refused as JSON text is, counted in UTF-8 bytes', () => {
    assert.deepEqual(readWsMessage('7:abcd', 4), { t: 'd', seq: 7, data: 'abcd' });
    assert.equal(readWsMessage('7:abcde', 4), undefined);
    assert.deepEqual(readWsMessage('7:\u00e9\u00e9', 4), { t: 'd', seq: 7, data: '\u00e9\u00e9' });
    assert.equal(readWsMessage('7:\u00e9\u00e9x', 4), undefined, 'five UTF-8 bytes in three units');
  });

  it('send answers and error bodies', () => {
    for (const text of ['{"ack":12}', '{"ack":0}', '{"ack":-1}', '{"ack":"1"}', '{}', 'x', 'null']) {
      const full = decodeSendResponse(text);
      assert.deepEqual(readSendAnswer(text), full.ok ? { ack: full.value.ack, frames: [] } : undefined, text);
    }
    for (const text of ['{"error":"session_unknown","message":"m","close":4001}', '{"error":"x"}', '{"close":4001}', '{"error":1,"close":4001}', 'x', '']) {
      assert.equal(readErrorClose(text), decodeError(text, 400).close, text);
    }
    // Regression (codec review): any number became the close code the app's onclose saw.
    const closes: Array<[unknown, number]> = [[4001, 4001], [1000, 1000], [3000, 3000], [70000, 1006], [1000.5, 1006], [1015, 1006], [1005, 1006], [2000, 1006], ['1e400', 1006], [-1, 1006]];
    for (const [close, want] of closes) {
      const text = typeof close === 'string' ? `{"error":"x","close":${close}}` : JSON.stringify({ error: 'x', close });
      assert.equal(readErrorClose(text), want, text);
      assert.equal(decodeError(text, 400).close, want, text);
    }
  });
});
