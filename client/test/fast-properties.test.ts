/**
 * The engine's parts are closures returning an object of functions, called on every message. An
 * object literal with a getter (`get bufferedAmount() {}`) is made a dictionary by V8: ~450 B per
 * part per socket (2 KB of the Node client's 20 KB per WebSocket session) and a hash lookup per call.
 * V8's own check (`%HasFastProperties`, behind --allow-natives-syntax) in a child process says
 * they stay fast, and a BurrowSocket's handler table too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the engine parts called per message are not V8 dictionaries (a getter in a literal made them so)', () => {
  const script = `
    import { createOutbox } from './client/src/engine/outbox.ts';
    import { createAckClock } from './client/src/engine/acks.ts';
    import { createHeartbeat } from './client/src/engine/heartbeat.ts';
    const parts = {
      outbox: createOutbox(),
      acks: createAckClock({ delivered: () => 0, delay: () => 1000, live: () => false, send() {} }),
      heartbeat: createHeartbeat(() => {}, () => {}),
    };
    console.log(JSON.stringify(Object.fromEntries(Object.entries(parts).map(([k, o]) => [k, %HasFastProperties(o)]))));
  `;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { outbox: true, acks: true, heartbeat: true });
});
