/** The link state machine: the moves the diagram lists happen, any other throws (an engine bug). */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { LINK_STATE_NAMES, moveLink, type LinkState } from '../src/engine/link.js';

const STATES: readonly LinkState[] = [0, 1, 2, 3];
const ALLOWED = new Set(['connecting>open', 'connecting>closed', 'open>reconnecting', 'open>closed', 'reconnecting>open', 'reconnecting>closed']);

describe('moveLink', () => {
  for (const from of STATES) {
    for (const to of STATES) {
      const move = `${LINK_STATE_NAMES[from]}>${LINK_STATE_NAMES[to]}`;
      it(move, () => {
        const link: { state: LinkState } = { state: from };
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
