/**
 * The server's acks on WebSocket are lazy (issue #12): they only bound what the client holds for a
 * resend. At a 50 ms delay an app echoing a message every 100 ms paid an ack frame and a write of its
 * own per message, ~35 % of the server's CPU per echo at paced rates. Now an owed ack rides on the
 * session's own writes once owed for a quarter of `ackDelay`, goes alone only when the delay passes,
 * and goes at once past 128 frames or 64 Ki of payload.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ACK_EVERY, ACK_SIZE, type Frame } from '@burrow/shared';
import { afterAll, afterEach, beforeAll, describe, test, vi } from 'vitest';
import { InboundQueue } from '../src/session/inbound.js';
import type { InboundHost } from '../src/session/types.js';
import { startTestServer, type TestServer } from '@burrow/test-support';
import { connectWs } from './helpers.js';

/** An inbound queue on a fake core whose ack clock the test sets: how long the owed ack has waited. */
function harness(ms = 400) {
  const written: Frame[] = [];
  const armed = new Set<object>();
  let waited = 0;
  const core = {
    id: 's',
    closed: false,
    paused: false,
    transport: 'websocket',
    downstream: { transport: 'websocket', control: (f: Frame) => void written.push(f) },
    host: {
      store: { sync: { acceptInboundSync: (_id: string, seq: number) => ({ status: 'new', ack: seq }) } },
      tap: undefined,
      emitMessage() {},
      acksOwed: {
        ms,
        arm: (q: object) => void armed.add(q),
        disarm: (q: object) => void armed.delete(q),
        has: (q: object) => armed.has(q),
        armedFor: (q: object) => (armed.has(q) ? waited : -1),
      },
    },
    pong() {},
    clientAcked() {},
  } as unknown as InboundHost;
  const q = new InboundQueue(core, 0);
  let seq = 0;
  return {
    q,
    written,
    armed,
    wait: (msSoFar: number) => void (waited = msSoFar),
    deliver: (...data: string[]) => q.applyNow(data.map((d) => ({ t: 'd', seq: ++seq, data: d })), false),
  };
}

describe('InboundQueue acks on WebSocket', () => {
  test('a delivered frame owes an ack but writes none at once', () => {
    const h = harness();
    h.deliver('a');
    assert.deepEqual(h.written, []);
    assert.equal(h.armed.size, 1);
  });

  test('an ack owed for less than a quarter of ackDelay does not ride on a flush', () => {
    const h = harness(400);
    h.deliver('a');
    h.wait(99);
    h.q.rideAck();
    assert.deepEqual(h.written, []);
    assert.equal(h.armed.size, 1, 'still owed: the deadline stays');
  });

  test('an ack owed for a quarter of ackDelay rides on the flush, cumulative, and the deadline goes', () => {
    const h = harness(400);
    h.deliver('a', 'b');
    h.wait(100);
    h.q.rideAck();
    assert.deepEqual(h.written, [{ t: 'ack', ack: 2 }]);
    assert.equal(h.armed.size, 0);
    h.q.rideAck();
    assert.equal(h.written.length, 1, 'nothing owed: no second ack');
  });

  test('the deadline sends the ack when no write came', () => {
    const h = harness();
    h.deliver('a');
    h.q.ackDelayElapsed();
    assert.deepEqual(h.written, [{ t: 'ack', ack: 1 }]);
  });

  test(`${ACK_EVERY} frames are acked at once, whatever the delay`, () => {
    const h = harness();
    h.deliver(...Array.from({ length: ACK_EVERY }, () => 'x'));
    assert.deepEqual(h.written, [{ t: 'ack', ack: ACK_EVERY }]);
  });

  test('64 Ki of payload is acked at once, counted from the last ack', () => {
    const h = harness();
    const half = 'x'.repeat(ACK_SIZE / 2);
    h.deliver(half);
    assert.deepEqual(h.written, []);
    h.deliver(half);
    assert.deepEqual(h.written, [{ t: 'ack', ack: 2 }]);
    h.deliver(half);
    assert.equal(h.written.length, 1, 'the count started again at the ack');
  });
});

describe('over a real WebSocket', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // A delay no test waits out: every ack seen here came from a bound, not the timer.
    srv = await startTestServer({ ackDelay: 60_000 });
    srv.burrow.on('message', (session, data) => void session.send(data));
  });
  afterAll(() => srv.close());
  afterEach(() => vi.restoreAllMocks());

  test('an ack owed for a quarter of ackDelay rides behind the answer to the next message', async () => {
    const c = await connectWs(`${srv.ws}/ws`);
    assert.equal((await c.nextJson()).t, 'open');
    c.ws.send('1:one');
    assert.deepEqual(await c.inbox.next(), { kind: 'text', text: '1:one' });
    // The ack clock (deadlines.ts reads perf_hooks' performance.now) moves on by 20 s: the ack of
    // seq 1 has been owed for a third of the delay, and its own timer (60 s) has not fired.
    // Restored after each test (afterEach), whether this one passes or times out.
    const realNow = performance.now.bind(performance);
    vi.spyOn(performance, 'now').mockImplementation(() => realNow() + 20_000);
    c.ws.send('2:two');
    assert.deepEqual(await c.inbox.next(), { kind: 'text', text: '2:two' });
    assert.deepEqual(await c.inbox.next(), { kind: 'text', text: '{"t":"ack","ack":2}' });
    vi.restoreAllMocks();
    c.ws.close();
  });

  test('a client that sends 64 Ki of payload gets its ack at once with a long ackDelay', async () => {
    const c = await connectWs(`${srv.ws}/ws`);
    assert.equal((await c.nextJson()).t, 'open');
    const half = 'y'.repeat(ACK_SIZE / 2);
    c.ws.send(`1:${half}`);
    c.ws.send(`2:${half}`);
    const ack = await c.nextJson();
    assert.deepEqual(ack, { t: 'ack', ack: 2 });
    c.ws.close();
  });
});
