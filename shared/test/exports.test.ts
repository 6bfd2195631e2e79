/**
 * The suites run on the TypeScript sources: `@burrow/shared`, imported by name as the client and the
 * server import it, resolves through the `burrow-src` export condition (vitest.config.ts) to
 * src/index.ts, not to the build in dist/.
 */
import assert from 'node:assert/strict';
import { it } from 'vitest';
import * as shared from '@burrow/shared';
import * as sharedSrc from '../src/index.js';

it('@burrow/shared is shared/src/index.ts', () => {
  assert.equal(shared, sharedSrc);
  assert.equal(shared.encodeJsonFrame, sharedSrc.encodeJsonFrame);
});
