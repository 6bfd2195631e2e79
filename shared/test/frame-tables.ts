/**
 * Frame tables shared by the codec suites: the full decoders (codec.test.ts, what the server runs)
 * and the client's downstream readers (downstream.test.ts) must agree on every one.
 */
import { type Frame, MAX_SEQ } from '@burrow/shared';

export const bytes = (...b: number[]) => new Uint8Array(b);

/** Frames that must survive both encodings unchanged. */
export const roundTrips: Array<[string, Frame]> = [
  ['text data', { t: 'd', seq: 1, data: 'hello' }],
  ['empty text', { t: 'd', seq: 2, data: '' }],
  ['text with colon, braces, newlines, CR', { t: 'd', seq: 3, data: '{"a":1}:\r\n\u2028' }],
  ['astral text', { t: 'd', seq: 4, data: '😀 \ud83d\ude00' }],
  ['binary', { t: 'd', seq: 5, data: bytes(0, 1, 2, 255) }],
  ['empty binary', { t: 'd', seq: 6, data: bytes() }],
  ['max seq', { t: 'd', seq: MAX_SEQ, data: 'x' }],
  ['close with code and reason', { t: 'close', seq: 7, code: 4000, reason: 'bye' }],
  ['close without code', { t: 'close', seq: 8 }],
  ['ack', { t: 'ack', ack: 0 }],
  ['ping', { t: 'ping' }],
  ['pong', { t: 'pong' }],
];

/** Malformed input: every one must come back as an error value with the expected code, never a throw.
 * Name and code come first: they make the test title. */
export const badJson: Array<[name: string, code: string, text: string, status: number]> = [
  ['not JSON', 'bad_json', '{', 400],
  ['truncated', 'bad_json', '{"t":"d","seq":1,"te', 400],
  ['array', 'bad_frame', '[]', 400],
  ['null', 'bad_frame', 'null', 400],
  ['number', 'bad_frame', '42', 400],
  ['unknown type', 'unknown_frame_type', '{"t":"x"}', 400],
  ['no type', 'unknown_frame_type', '{}', 400],
  ['__proto__ type', 'unknown_frame_type', '{"t":"__proto__"}', 400],
  ['inherited-looking type', 'unknown_frame_type', '{"__proto__":{"t":"ping"}}', 400],
  ['seq zero', 'bad_seq', '{"t":"d","seq":0,"text":"a"}', 400],
  ['seq negative', 'bad_seq', '{"t":"d","seq":-1,"text":"a"}', 400],
  ['seq fractional', 'bad_seq', '{"t":"d","seq":1.5,"text":"a"}', 400],
  ['seq beyond 2^53', 'bad_seq', '{"t":"d","seq":9007199254740992,"text":"a"}', 400],
  ['seq as string', 'bad_seq', '{"t":"d","seq":"1","text":"a"}', 400],
  ['text and bin', 'bad_frame', '{"t":"d","seq":1,"text":"a","bin":""}', 400],
  ['neither text nor bin', 'bad_frame', '{"t":"d","seq":1}', 400],
  ['text not a string', 'bad_frame', '{"t":"d","seq":1,"text":5}', 400],
  ['bad base64', 'bad_frame', '{"t":"d","seq":1,"bin":"@@@@"}', 400],
  ['ack negative', 'bad_seq', '{"t":"ack","ack":-1}', 400],
  ['close code 1005 on the wire', 'bad_frame', '{"t":"close","seq":1,"code":1005}', 400],
  ['close code 999', 'bad_frame', '{"t":"close","seq":1,"code":999}', 400],
  ['close reason too long', 'bad_frame', `{"t":"close","seq":1,"code":1000,"reason":"${'é'.repeat(62)}"}`, 400],
  ['close reason without code', 'bad_frame', '{"t":"close","seq":1,"reason":"x"}', 400],
  ['open from the client', 'bad_frame', '{"t":"open"}', 400],
];

/** Malformed WebSocket messages. */
export const badWs: Array<[string, string | Uint8Array]> = [
  ['empty text', ''],
  ['no colon', '12'],
  ['leading zero seq', '01:a'],
  ['seq zero', '0:a'],
  ['sign', '-1:a'],
  ['letters', 'ab:c'],
  ['17-digit seq', '12345678901234567:a'],
  ['binary shorter than header', bytes(1, 2, 3)],
  ['binary seq NaN', new Uint8Array([0x7f, 0xf8, 0, 0, 0, 0, 0, 0])],
  ['binary seq 0', new Uint8Array(8)],
];
