/**
 * Regression: a Retry-After past what a timer holds (2^31-1 ms, ~24.8 days) made the next round's
 * timer fire at once, so a client told to stay away retried round after round, as fast as it could.
 */
import assert from 'node:assert/strict';
import { afterEach, it } from 'vitest';
import { MAX_DELAY } from '@burrow/shared';
import { BurrowSocket, type FetchFunction, type ReconnectEvent } from '../src/node.js';
import { openFrame } from './helpers.js';

const sockets: BurrowSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

it('a huge Retry-After on a resume waits at most MAX_DELAY, not 1 ms', async () => {
  let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  let refused = 0;
  const fetch: FetchFunction = async (input) => {
    const path = new URL(input).pathname;
    if (path.endsWith('/sessions')) {
      const body = new ReadableStream<Uint8Array>({ start: (c) => (stream = c).enqueue(new TextEncoder().encode(`data: ${openFrame()}\n\n`)) });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }
    // Every resume: overloaded, come back in ~317 years.
    refused++;
    return new Response(JSON.stringify({ error: 'overloaded', message: 'busy', close: 1013 }), { status: 503, headers: { 'retry-after': '9999999999' } });
  };
  const s = new BurrowSocket('ws://example.test/burrow', undefined, { transports: ['sse'], fetch, remember: false, upgrade: false });
  sockets.push(s);
  await new Promise((resolve) => s.addEventListener('open', resolve, { once: true }));
  const rounds: ReconnectEvent[] = [];
  const second = new Promise<void>((resolve) =>
    s.addEventListener('reconnecting', (e) => {
      rounds.push(e);
      if (rounds.length === 2) resolve();
    }),
  );
  stream!.close();
  await second;
  assert.equal(refused, 1);
  // The round's delay is the one its timer is set with: clamped, not 9,999,999,999,000 ms.
  assert.equal(rounds[1]!.delay, MAX_DELAY);
});
