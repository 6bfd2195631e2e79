import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import * as S from '../src/index.js';

describe('review codec', () => {
  it('deep nesting', () => {
    const deep = '['.repeat(200000) + ']'.repeat(200000);
    let t = performance.now();
    const r = S.decodeSendRequest(`{"frames":${deep}}`, { from: 'client' });
    console.log('deep send', r.ok, !r.ok && r.error.code, performance.now() - t);
    const r2 = S.readPollBody(`{"frames":${deep}}`);
    console.log('deep poll', r2);
    const o = '{"a":'.repeat(200000) + '1' + '}'.repeat(200000);
    console.log('deep obj', S.decodeJsonFrame(o, { from: 'client' }));
  });
  it('misc', () => {
    const show = (l: string, v: unknown) => console.log(l, JSON.stringify(v, (k, x) => x instanceof Uint8Array ? [...x] : x));
    show('bin noncanon', S.decodeJsonFrame('{"t":"d","seq":1,"bin":"AB=="}', { from: 'client' }));
    show('bin noncanon2', S.decodeJsonFrame('{"t":"d","seq":1,"bin":"AAB="}', { from: 'client' }));
    show('bin empty', S.decodeJsonFrame('{"t":"d","seq":1,"bin":""}', { from: 'client' }));
    show('close reason lone', S.decodeJsonFrame('{"t":"close","seq":1,"code":1000,"reason":"\\ud800"}', { from: 'client' }));
    show('close reason no code encode', S.encodeJsonFrame({ t: 'close', seq: 1, reason: 'x' }));
    show('close reason no code decode', S.decodeJsonFrame(S.encodeJsonFrame({ t: 'close', seq: 1, reason: 'x' }), { from: 'client' }));
    show('seq max', S.decodeJsonFrame(S.encodeJsonFrame({ t: 'd', seq: S.MAX_SEQ, data: 'x' }), { from: 'client' }));
    show('ws seq max', S.decodeWsMessage(S.encodeWsData(S.MAX_SEQ, 'x'), { from: 'client' }));
    show('ws seq 1e16', S.decodeWsMessage('9007199254740993:x', { from: 'client' }));
    show('ws bin max', S.readWsMessage(S.encodeWsData(S.MAX_SEQ, new Uint8Array([1])) as Uint8Array));
    show('seq 1.0', S.decodeJsonFrame('{"t":"d","seq":1.0,"text":"a"}', { from: 'client' }));
    show('seq 1e0', S.decodeJsonFrame('{"t":"d","seq":1e0,"text":"a"}', { from: 'client' }));
    show('u2028', S.decodeJsonFrame(S.encodeJsonFrame({ t: 'd', seq: 1, data: '\u2028\u2029' }), { from: 'client' }));
    show('lone text', S.decodeJsonFrame('{"t":"d","seq":1,"text":"a\\udc00b\\ud800"}', { from: 'client' }));
    show('err close inf', S.readErrorClose('{"error":"x","close":1e400}'));
    show('err close decode', S.decodeError('{"error":"x","close":-1}', 500));
    show('open', S.readJsonFrame('{"t":"open","v":1,"sid":"","token":"","ack":0,"resumed":false,"protocol":"","heartbeat":0,"heartbeatTimeout":0,"maxPayload":0,"resumeWindow":0}'));
    show('handshake dup', S.decodeHandshakeRequest('{"v":1,"protocols":["a","a"]}'));
    show('handshake v 1.0', S.decodeHandshakeRequest('{"v":1.0}'));
    show('proto key', S.decodeJsonFrame('{"t":"d","__proto__":{"seq":1},"text":"x"}', { from: 'client' }));
    show('ws text empty', S.decodeWsMessage('', { from: 'client' }));
    show('ws 1:', S.decodeWsMessage('1:', { from: 'client' }));
    show('ws lead ws json', S.decodeWsMessage(' {"t":"ping"}', { from: 'client' }));
    show('ack -0', S.decodeJsonFrame('{"t":"ack","ack":-0}', { from: 'client' }));
    show('send enc', S.encodeSendRequest({ frames: [{ t: 'd', seq: 1, data: new Uint8Array([0, 255]) }, { t: 'close', seq: 2 }], ack: 0, token: 'a"b' }));
    show('maxpayload bin exact', S.decodeJsonFrame(S.encodeJsonFrame({ t: 'd', seq: 1, data: new Uint8Array(4) }), { from: 'client', maxPayload: 4 }));
    show('maxpayload bin 1 over', S.decodeJsonFrame(S.encodeJsonFrame({ t: 'd', seq: 1, data: new Uint8Array(5) }), { from: 'client', maxPayload: 4 }));
    show('maxpayload text', S.decodeJsonFrame(S.encodeJsonFrame({ t: 'd', seq: 1, data: '😀' }), { from: 'client', maxPayload: 4 }));
    show('maxpayload text lone', S.decodeJsonFrame('{"t":"d","seq":1,"text":"\\ud800\\ud800"}', { from: 'client', maxPayload: 4 }));
    show('ws bin -0', S.decodeWsMessage(new Uint8Array(8).fill(0).map((x, i) => i === 0 ? 0x80 : 0), { from: 'client' }));
  });
});
