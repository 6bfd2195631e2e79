#!/usr/bin/env node
// Removes the packages' build output, so a pack never ships files of an earlier layout (tsc -b only
// adds and overwrites; it never deletes a file whose source moved).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const pkg of ['shared', 'server', 'client']) {
  rmSync(`${root}${pkg}/dist`, { recursive: true, force: true });
  rmSync(`${root}${pkg}/tsconfig.tsbuildinfo`, { force: true });
}
