/**
 * The suites run on the TypeScript sources: `@burrow/client`, imported by name as an app would,
 * resolves through the `burrow-src` export condition (vitest.config.ts) to src/, and on Node to the
 * Node entry (src/node.ts: ws, node:http and Burrow's SSE reader as defaults), not to the build in dist/.
 */
import assert from 'node:assert/strict';
import { it } from 'vitest';
import * as client from '@burrow/client';
import * as browserEntry from '../src/index.js';
import * as nodeEntry from '../src/node.js';

it('@burrow/client is client/src/node.ts on Node, re-exporting src/index.ts', () => {
  assert.equal(client, nodeEntry);
  assert.notEqual(client, browserEntry);
  assert.equal(client.BurrowSocket, browserEntry.BurrowSocket);
});
