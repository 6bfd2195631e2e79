/** The W3C WebSocket surface of BurrowSocket, with no server (a fake WebSocket that never answers). */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'vitest';
import { BurrowSocket } from '../src/index.js';
import { clampUnsignedShort } from '../src/w3c-arguments.js';
import { FakeWS, fakeOptions, next, record } from './helpers.js';

const open: BurrowSocket[] = [];
function make(url: string | URL = 'ws://example.test/burrow', protocols?: string | string[]): BurrowSocket {
  const s = new BurrowSocket(url, protocols, fakeOptions());
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) if (s.readyState === 0) s.close();
  FakeWS.reset();
});

function throwsDom(fn: () => unknown, name: string): void {
  assert.throws(fn, (e: unknown) => e instanceof DOMException && e.name === name);
}

describe('constructor', () => {
  it('has the readyState constants on the class and the instance', () => {
    assert.deepEqual([BurrowSocket.CONNECTING, BurrowSocket.OPEN, BurrowSocket.CLOSING, BurrowSocket.CLOSED], [0, 1, 2, 3]);
    const s = make();
    assert.deepEqual([s.CONNECTING, s.OPEN, s.CLOSING, s.CLOSED], [0, 1, 2, 3]);
    assert.equal(s.readyState, 0);
    assert.equal(s.protocol, '');
    assert.equal(s.extensions, '');
    assert.equal(s.bufferedAmount, 0);
    assert.equal(s.binaryType, 'blob');
    assert.equal(s.transport, '');
    assert.equal(s.sessionId, '');
    assert.ok(s instanceof EventTarget);
  });

  it('reports http(s) as ws(s) and keeps the query', () => {
    assert.equal(make('http://example.test/burrow').url, 'ws://example.test/burrow');
    assert.equal(make('https://example.test/burrow?room=1').url, 'wss://example.test/burrow?room=1');
    assert.equal(make(new URL('wss://example.test:8443/x')).url, 'wss://example.test:8443/x');
  });

  it('opens the WebSocket on P/ws with the offered protocols', () => {
    make('ws://example.test/burrow?room=1', ['chat', 'v2']);
    const ws = FakeWS.last();
    assert.equal(ws.url.pathname, '/burrow/ws');
    assert.equal(ws.url.searchParams.get('room'), '1');
    assert.deepEqual(ws.protocols, ['chat', 'v2']);
  });

  it('throws SyntaxError for bad URLs, schemes and fragments', () => {
    throwsDom(() => new BurrowSocket('not a url', undefined, fakeOptions()), 'SyntaxError');
    throwsDom(() => new BurrowSocket('ftp://example.test/', undefined, fakeOptions()), 'SyntaxError');
    throwsDom(() => new BurrowSocket('ws://example.test/#frag', undefined, fakeOptions()), 'SyntaxError');
    throwsDom(() => new BurrowSocket('ws://example.test/#', undefined, fakeOptions()), 'SyntaxError');
    assert.equal(FakeWS.instances.length, 0);
  });

  it('throws SyntaxError for duplicate or invalid subprotocols', () => {
    throwsDom(() => new BurrowSocket('ws://example.test/', ['a', 'a'], fakeOptions()), 'SyntaxError');
    throwsDom(() => new BurrowSocket('ws://example.test/', 'has space', fakeOptions()), 'SyntaxError');
    throwsDom(() => new BurrowSocket('ws://example.test/', '', fakeOptions()), 'SyntaxError');
    throwsDom(() => new BurrowSocket('ws://example.test/', ['ok', 'bad,comma'], fakeOptions()), 'SyntaxError');
  });
});

describe('close() arguments', () => {
  it('rejects codes other than 1000 and 3000-4999 with InvalidAccessError', () => {
    const s = make();
    for (const code of [0, 999, 1001, 1005, 2999, 5000, 65535]) throwsDom(() => s.close(code), 'InvalidAccessError');
    assert.equal(s.readyState, 0);
  });

  it('rejects reasons over 123 UTF-8 bytes with SyntaxError', () => {
    const s = make();
    throwsDom(() => s.close(1000, 'x'.repeat(124)), 'SyntaxError');
    throwsDom(() => s.close(1000, 'é'.repeat(62)), 'SyntaxError');
    assert.equal(s.readyState, 0);
    s.close(1000, `${'é'.repeat(61)}x`); // exactly 123 bytes
    assert.equal(s.readyState, 2);
  });

  it('validates even when already closed', () => {
    const s = make();
    s.close();
    throwsDom(() => s.close(1001), 'InvalidAccessError');
    s.close(3000); // valid: a no-op
  });
});

describe('close() while CONNECTING', () => {
  it('goes CLOSING at once, then fires error and close 1006 as tasks', async () => {
    const s = make();
    const log = record(s);
    const ws = FakeWS.last();
    s.close(1000, 'bye');
    assert.equal(s.readyState, 2);
    assert.equal(log.length, 0, 'no event inside the call');
    const closed = (await next(s, 'close')) as CloseEvent;
    assert.deepEqual(log.map((e) => e.type), ['error', 'close']);
    assert.equal(closed.code, 1006);
    assert.equal(closed.wasClean, false);
    assert.equal(closed.reason, '');
    assert.equal(s.readyState, 3);
    assert.notEqual(ws.closedWith, undefined, 'the transport was dropped');
  });

  it('never fires open even if the server answers right after', async () => {
    const s = make();
    const log = record(s);
    const ws = FakeWS.last();
    ws.accept();
    s.close();
    await next(s, 'close');
    assert.deepEqual(log.map((e) => e.type), ['error', 'close']);
  });
});

describe('send()', () => {
  it('throws InvalidStateError while CONNECTING', () => {
    const s = make();
    throwsDom(() => s.send('x'), 'InvalidStateError');
  });

  it('after close only grows bufferedAmount', async () => {
    const s = make();
    s.close();
    s.send('héllo'); // 6 bytes
    s.send(new Uint8Array(10));
    s.send(new ArrayBuffer(4));
    assert.equal(s.bufferedAmount, 20);
    await next(s, 'close');
    s.send(new Blob(['abc']));
    assert.equal(s.bufferedAmount, 23);
  });

  // Regression (differential scenario sendKinds): a Symbol was sent as the text "Symbol(s)", and a
  // detached buffer threw a TypeError; Chromium throws for the first and sends nothing for the second.
  it('converts as Chromium: a Symbol throws TypeError, a detached buffer or view is an empty message', async () => {
    const s = make();
    s.close();
    await next(s, 'close');
    const detached = new ArrayBuffer(4);
    const view = new Uint8Array(detached, 1, 2);
    const dataView = new DataView(detached);
    structuredClone(detached, { transfer: [detached] });
    assert.throws(() => s.send(Symbol('s') as unknown as string), TypeError);
    for (const v of [detached, view, dataView]) s.send(v);
    assert.equal(s.bufferedAmount, 0);
    s.send({ toString: () => 'obj' } as unknown as string);
    assert.equal(s.bufferedAmount, 3);
  });
});

describe('attributes', () => {
  it('binaryType ignores invalid values', () => {
    const s = make();
    s.binaryType = 'arraybuffer';
    assert.equal(s.binaryType, 'arraybuffer');
    (s as { binaryType: string }).binaryType = 'nodebuffer';
    assert.equal(s.binaryType, 'arraybuffer');
  });

  // Regression (differential scenario eventShapes): an object was dropped (null) where Chromium keeps it.
  it('an event handler attribute keeps any object, and drops what is not one', () => {
    const s = make();
    const obj = { handleEvent() {} };
    (s as unknown as { onmessage: unknown }).onmessage = obj;
    assert.equal(s.onmessage, obj);
    (s as unknown as { onmessage: unknown }).onmessage = 'x';
    assert.equal(s.onmessage, null);
    s.close();
  });

  it('event handler attributes work alongside addEventListener, in registration order', async () => {
    const s = make();
    const order: string[] = [];
    s.addEventListener('close', () => order.push('listener1'));
    s.onclose = () => order.push('first handler');
    s.addEventListener('close', () => order.push('listener2'));
    const h = function (this: BurrowSocket) {
      assert.equal(this, s);
      order.push('handler');
    };
    s.onclose = h; // replaces in place
    assert.equal(s.onclose, h);
    s.onerror = () => order.push('error handler');
    s.onerror = null;
    assert.equal(s.onerror, null);
    s.close();
    await next(s, 'close');
    assert.deepEqual(order, ['listener1', 'handler', 'listener2']);
  });
});

// [Clamp] unsigned short as Chromium's close() converts its code: clamped to 0..65535, NaN to 0, then
// truncated toward zero (WebIDL would round half to even; Chromium sends 3999 for 3999.6).
describe('clampUnsignedShort', () => {
  it.each([
    [0, 0], [-0, 0], [-1, 0], [-Infinity, 0], [NaN, 0], ['x', 0], [undefined, 0], [null, 0],
    [0.5, 0], [1.5, 1], [2.5, 2], [999.5, 999], [1000.5, 1000], [1000.9, 1000], [3000.5, 3000], [3999.6, 3999],
    [4999.4999, 4999], [4999.5, 4999], [65534.5, 65534], [65535.5, 65535], [65536, 65535], [Infinity, 65535],
    [' 3000 ', 3000], [-0.5, 0],
  ] as const)('%s -> %s', (input, expected) => {
    assert.ok(Object.is(clampUnsignedShort(input), expected));
  });
});
