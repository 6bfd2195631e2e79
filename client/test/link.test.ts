/** The link state machine: the moves the diagram lists happen, any other throws (an engine bug). */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { moveLink, type LinkState } from '../src/engine/link.js';

const STATES: readonly LinkState[] = ['connecting', 'open', 'reconnecting', 'closed'];
const ALLOWED = new Set(['connecting>open', 'connecting>closed', 'open>reconnecting', 'open>closed', 'reconnecting>open', 'reconnecting>closed']);

describe('moveLink', () => {
  for (const from of STATES) {
    for (const to of STATES) {
      const move = `${from}>${to}`;
      it(move, () => {
        const link = { state: from };
        if (from === to) {
          moveLink(link, to);
          assert.equal(link.state, from, 'staying put is no move');
        } else if (ALLOWED.has(move)) {
          moveLink(link, to);
          assert.equal(link.state, to);
        } else {
          assert.throws(() => moveLink(link, to), /illegal link move/);
          assert.equal(link.state, from);
        }
      });
    }
  }
});
