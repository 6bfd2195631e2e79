import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { SseParser } from '../src/transports/sse-parser.js';

/** Parses `chunks` in order; returns the events' data and how many comments were seen. */
function parse(chunks: string[], max = 1 << 20): { events: string[]; comments: number; ok: boolean; lastEventId: string } {
  const events: string[] = [];
  let comments = 0;
  const p = new SseParser({ event: (d) => events.push(d), comment: () => comments++ }, max);
  let ok = true;
  for (const c of chunks) ok &&= p.push(c);
  return { events, comments, ok, lastEventId: p.lastEventId };
}

/** Every way of cutting `text` in two, plus one chunk per character. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

describe('SseParser', () => {
  it('reads what a Burrow server writes: padding comment, events with id and data, keep-alive comments', () => {
    const stream = `:${' '.repeat(2048)}\n\ndata: {"t":"ack","ack":0}\n\nid: 1\ndata: {"t":"d","seq":1,"text":"a"}\n\n:hb\n\nid: 2\ndata: {"t":"d","seq":2,"text":"b: c"}\n\n`;
    for (const chunks of splits(stream)) {
      const r = parse(chunks);
      assert.deepEqual(r.events, ['{"t":"ack","ack":0}', '{"t":"d","seq":1,"text":"a"}', '{"t":"d","seq":2,"text":"b: c"}']);
      assert.equal(r.comments, 2);
      assert.equal(r.lastEventId, '2');
    }
  });

  it('accepts LF, CR and CRLF line ends, even a CRLF split between chunks', () => {
    for (const nl of ['\n', '\r', '\r\n']) {
      const stream = `data: x${nl}data: y${nl}${nl}data:z${nl}${nl}`;
      for (const chunks of splits(stream)) assert.deepEqual(parse(chunks).events, ['x\ny', 'z'], JSON.stringify(chunks));
    }
  });

  it('follows the field rules: one leading space dropped, no colon means an empty value, unknown fields ignored', () => {
    const r = parse(['data:  two spaces\n\ndata\n\ndata:\n\nretry: 10\nfoo: bar\ndata: a:b\n\n']);
    assert.deepEqual(r.events, [' two spaces', '', '', 'a:b']);
  });

  it('dispatches nothing for an event without data, and only unnamed or message events', () => {
    const r = parse(['id: 3\n\nevent: other\ndata: no\n\nevent: message\ndata: yes\n\ndata: plain\n\n']);
    assert.deepEqual(r.events, ['yes', 'plain']);
    assert.equal(r.lastEventId, '3');
  });

  it('ignores an id holding NUL, keeps the last one otherwise', () => {
    assert.equal(parse(['id: 7\n\nid: 8\u0000\n\n']).lastEventId, '7');
  });

  it('drops a leading BOM, once', () => {
    assert.deepEqual(parse(['\ufeffdata: a\n\n\ufeffdata: b\n\n']).events, ['a']);
    assert.deepEqual(parse(['\ufeff', 'data: a\n\n']).events, ['a']);
  });

  it('keeps an unfinished event for the next chunk, and never dispatches one the stream cut off', () => {
    const r = parse(['data: a', 'bc\n', 'data: d']);
    assert.deepEqual(r.events, []);
  });

  it('bounds an event: a line or data buffer past maxChars fails the stream', () => {
    assert.equal(parse(['data: ' + 'x'.repeat(100)], 50).ok, false);
    assert.equal(parse(['data: ' + 'x'.repeat(30) + '\n', 'data: ' + 'y'.repeat(30) + '\n'], 50).ok, false);
    assert.equal(parse(['data: ' + 'x'.repeat(30) + '\n\n', 'data: ' + 'y'.repeat(30) + '\n\n'], 50).ok, true);
    // A long line arriving in many small pieces is bounded too.
    const p = new SseParser({ event: () => {}, comment: () => {} }, 1000);
    let ok = true;
    for (let i = 0; i < 200 && ok; i++) ok = p.push('xxxxxxxxxx');
    assert.equal(ok, false);
  });
});
