/**
 * encoding.ts escapes a text once for every frame that carries it (a broadcast): each frame's JSON
 * must still be byte for byte what encodeJsonFrame gives, whatever text came before.
 */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { encodeJsonFrame, type Frame } from '@burrow/shared';
import { jsonOf } from '../src/transports/encoding.js';
import type { OutboundFrame } from '../src/store/store.js';

const out = (frame: Frame): OutboundFrame => ({ frame, size: 0 }) as OutboundFrame;

test('frames sharing a text, and frames in between, encode exactly as encodeJsonFrame', () => {
  const shared = 'say "hi" \\ é 😀\n\u0001';
  const frames: Frame[] = [
    { t: 'd', seq: 1, data: shared },
    { t: 'd', seq: 2, data: shared },
    { t: 'd', seq: 3, data: `${shared}x`.slice(0, -1) }, // equal content, another string object
    { t: 'd', seq: 4, data: 'other' },
    { t: 'd', seq: 5, data: new Uint8Array([0, 1, 2]) },
    { t: 'd', seq: 6, data: 'other' },
    { t: 'close', seq: 7, code: 1000, reason: 'bye' },
    { t: 'd', seq: 8, data: 'x'.repeat(70 * 1024) },
    { t: 'd', seq: 9, data: 'x'.repeat(70 * 1024) },
    { t: 'd', seq: 10, data: '' },
  ];
  for (const f of frames) {
    const o = out(f);
    assert.equal(jsonOf(o), encodeJsonFrame(f));
    assert.equal(jsonOf(o), encodeJsonFrame(f), 'cached on the frame');
  }
});
