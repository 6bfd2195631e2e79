/**
 * When a message reaches the app: at the end of the platform task that carried it when nothing of
 * the socket's waits, else behind what waits; never inside the call that handed the frame over.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'vitest';
import { BurrowSocket } from '../src/index.js';
import { FakeWS, fakeOptions, next } from './helpers.js';

const sockets: BurrowSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  FakeWS.reset();
});

async function opened(): Promise<{ s: BurrowSocket; ws: FakeWS }> {
  const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions());
  sockets.push(s);
  const ws = FakeWS.last();
  ws.accept();
  await next(s, 'open');
  return { s, ws };
}

const dataOf = (ev: Event): unknown => (ev as MessageEvent).data;

describe('message delivery', () => {
  it('a lone message is dispatched in the task that carried it, not a task later (a busy page made that ~200 ms)', async () => {
    const { s, ws } = await opened();
    const log: string[] = [];
    s.onmessage = (ev) => log.push(`message ${String(dataOf(ev))}`);
    // A task queued before the frame arrives: the old per-message task ran after it.
    const marker = new Promise<void>((resolve) => setImmediate(() => {
      log.push('next task');
      resolve();
    }));
    ws.deliver('1:a');
    assert.deepEqual(log, [], 'not inside the call that handed the frame over');
    await marker;
    assert.deepEqual(log, ['message a', 'next task']);
  });

  it('a burst keeps its order, and all a handler queued (however deep) runs before the next message', async () => {
    const { s, ws } = await opened();
    const log: string[] = [];
    let allDeep!: () => void;
    const deep = new Promise<void>((resolve) => (allDeep = resolve));
    s.onmessage = async (ev) => {
      const d = String(dataOf(ev));
      log.push(`message ${d}`);
      queueMicrotask(() => log.push(`microtask ${d}`));
      await null;
      await null;
      await null;
      log.push(`deep ${d}`);
      if (log.length >= 9) allDeep();
    };
    ws.deliver('1:a');
    ws.deliver('2:b');
    ws.deliver('3:c');
    await deep;
    assert.deepEqual(log, [
      'message a', 'microtask a', 'deep a',
      'message b', 'microtask b', 'deep b',
      'message c', 'microtask c', 'deep c',
    ]);
  });

  it('close() inside onmessage: nothing later of the same burst reaches the app', async () => {
    const { s, ws } = await opened();
    const got: unknown[] = [];
    s.onmessage = (ev) => {
      got.push(dataOf(ev));
      s.close();
    };
    ws.deliver('1:a');
    ws.deliver('2:b');
    await next(s, 'message');
    ws.echoClose();
    await next(s, 'close');
    assert.deepEqual(got, ['a']);
  });

  it('a message does not overtake an event still waiting: open, transport, then the message that came with it', async () => {
    const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions());
    sockets.push(s);
    const ws = FakeWS.last();
    const log: string[] = [];
    for (const t of ['open', 'transport', 'message']) s.addEventListener(t, () => log.push(t));
    ws.accept();
    ws.deliver('1:a');
    await next(s, 'message');
    assert.deepEqual(log, ['open', 'transport', 'message']);
  });
});

describe('open delivery', () => {
  it('open is dispatched in the task that carried the open frame, not a task later (behind a page\'s first render)', async () => {
    const s = new BurrowSocket('ws://example.test/burrow', [], fakeOptions());
    sockets.push(s);
    const ws = FakeWS.last();
    const log: string[] = [];
    s.onopen = () => log.push('open');
    const marker = new Promise<void>((resolve) => setImmediate(() => {
      log.push('next task');
      resolve();
    }));
    ws.accept();
    assert.deepEqual(log, [], 'not inside the call that handed the frame over');
    await marker;
    assert.deepEqual(log, ['open', 'next task']);
  });
});
