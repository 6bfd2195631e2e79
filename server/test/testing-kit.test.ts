/**
 * `@burrow/server/testing` works with whichever runner its user has: the kit registers its suites
 * through the { describe, it, beforeAll, afterAll } it is given and nothing else, and the same
 * contracts pass under node:test as under vitest (server/test/store-conformance.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { MemoryStore } from '../src/index.js';
import { runStoreConformance, type TestRunner } from '../src/testing.js';

/** A runner that only records what the kit registers: `skip` marks every test below a skipped suite. */
function recordingRunner(): { runner: TestRunner; tests: Array<{ name: string; skipped: boolean; timeoutMs?: number }>; hooks: string[] } {
  const tests: Array<{ name: string; skipped: boolean; timeoutMs?: number }> = [];
  const hooks: string[] = [];
  const path: string[] = [];
  let skipping = 0;
  const suite = (name: string, fn: () => void): void => {
    path.push(name);
    try {
      fn();
    } finally {
      path.pop();
    }
  };
  const runner: TestRunner = {
    describe: Object.assign(suite, {
      skip(name: string, fn: () => void): void {
        skipping++;
        try {
          suite(name, fn);
        } finally {
          skipping--;
        }
      },
    }),
    it: (name, _fn, timeoutMs) => void tests.push({ name: [...path, name].join(' > '), skipped: skipping > 0, timeoutMs }),
    beforeAll: () => void hooks.push(`beforeAll ${path.join(' > ')}`),
    afterAll: () => void hooks.push(`afterAll ${path.join(' > ')}`),
  };
  return { runner, tests, hooks };
}

const factory = async () => {
  const store = new MemoryStore();
  return { a: store, b: store, cleanup: () => store.close() };
};

it('registers every suite through the runner it is given, with a bound on each test', () => {
  const plain = recordingRunner();
  runStoreConformance(plain.runner, 'X', factory);
  // The outer suite sets the store up and tears it down; inner suites may have hooks of their own.
  assert.deepEqual(plain.hooks.slice(0, 2), ['beforeAll Store conformance: X', 'afterAll Store conformance: X']);
  assert.ok(plain.hooks.every((h) => / Store conformance: X( > |$)/.test(h)), plain.hooks.join('; '));
  assert.ok(plain.tests.length > 0);
  assert.ok(plain.tests.every((t) => t.name.startsWith('Store conformance: X > ') && t.timeoutMs !== undefined && t.timeoutMs > 0));
  const journal = plain.tests.filter((t) => t.name.includes(' > inbound journal > '));
  assert.ok(journal.length > 0 && journal.every((t) => t.skipped), 'without inboundJournal its suite is skipped');
  assert.ok(plain.tests.filter((t) => !t.name.includes(' > inbound journal > ')).every((t) => !t.skipped));

  const withJournal = recordingRunner();
  runStoreConformance(withJournal.runner, 'X', factory, { inboundJournal: true });
  assert.ok(withJournal.tests.every((t) => !t.skipped), 'inboundJournal: true runs that suite');
  assert.equal(withJournal.tests.length, plain.tests.length);
});

it('passes on node:test: every contract for MemoryStore, none failed', { timeout: 30_000 }, async () => {
  const registered = recordingRunner();
  runStoreConformance(registered.runner, 'X', factory);
  const expected = registered.tests.filter((t) => !t.skipped).length;
  const file = fileURLToPath(new URL('./fixtures/conformance-on-node-test.ts', import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(process.execPath, ['--conditions=burrow-src', '--import', 'tsx', '--test', '--test-reporter=tap', file], { cwd: root }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
  assert.equal(code, 0, out.slice(-3000));
  assert.match(out, /^# fail 0$/m, out.slice(-3000));
  assert.equal(Number(/^# pass (\d+)$/m.exec(out)?.[1]), expected, 'node:test ran and passed every contract the kit registered');
});
