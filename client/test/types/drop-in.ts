// Type-level test (compiled by client/test/types.test.ts with tsc, strict, DOM lib): a BurrowSocket is
// a drop-in for the DOM WebSocket, and its handlers get the events a WebSocket's do. Nothing here runs.
import { BurrowSocket } from '../../src/index.js';

declare const url: string;

// Assignable where a DOM WebSocket is expected (issue 16).
const asWebSocket: WebSocket = new BurrowSocket(url);
function takesWebSocket(ws: WebSocket): void {
  ws.send('x');
}
takesWebSocket(new BurrowSocket(url, ['chat']));

const s = new BurrowSocket(url);
// The README's snippet: ev.data exists because onmessage gets a MessageEvent.
s.onmessage = (ev) => {
  const data: unknown = ev.data;
  void data;
};
s.onclose = (ev) => {
  const code: number = ev.code;
  const reason: string = ev.reason;
  const clean: boolean = ev.wasClean;
  void [code, reason, clean];
};
s.onopen = (ev) => void ev.type;
s.onerror = (ev) => void ev.type;
s.addEventListener('message', (ev) => void ev.data);
s.addEventListener('close', (ev) => void ev.code);
s.addEventListener('transport', (ev) => {
  const now: string = ev.transport;
  void now;
});
// Handlers set through the WebSocket type work on the BurrowSocket too.
asWebSocket.onmessage = (ev: MessageEvent) => void ev.data;

// @ts-expect-error a MessageEvent handler is not a CloseEvent handler
s.onclose = (ev: MessageEvent<string>) => void ev.data.length;
// @ts-expect-error sending a number is not allowed, as on a WebSocket
s.send(42);
