/** Test doubles: a scriptable fake WebSocket and event helpers. */
import type { BurrowSocket, BurrowSocketOptions, WebSocketConstructor } from '../src/index.js';

export const SID = 'AAAAAAAAAAAAAAAAAAAAAA';
export const TOKEN = 'tok';

export function openFrame(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    t: 'open', v: 1, sid: SID, token: TOKEN, ack: 0, resumed: false, protocol: '',
    heartbeat: 25000, heartbeatTimeout: 20000, maxPayload: 1 << 20, resumeWindow: 60000, ...extra,
  });
}

/** A WebSocket whose "server side" the test drives. */
export class FakeWS {
  static instances: FakeWS[] = [];
  binaryType = 'blob';
  protocol = '';
  readyState = 0;
  onopen: ((ev: unknown) => unknown) | null = null;
  onmessage: ((ev: { data: unknown }) => unknown) | null = null;
  onerror: ((ev: unknown) => unknown) | null = null;
  onclose: ((ev: { code: number; reason: string }) => unknown) | null = null;
  sent: Array<string | Uint8Array> = [];
  closedWith: number | undefined;
  readonly url: URL;
  constructor(url: string, readonly protocols?: string | string[]) {
    this.url = new URL(url);
    FakeWS.instances.push(this);
  }
  send(d: string | Uint8Array): void {
    this.sent.push(typeof d === 'string' ? d : d.slice());
  }
  close(code?: number): void {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }
  // ---- server side ----
  accept(open: Record<string, unknown> = {}, protocol = ''): void {
    this.readyState = 1;
    this.protocol = protocol;
    this.onopen?.({});
    this.onmessage?.({ data: openFrame(open) });
  }
  /** Highest server seq this fake delivered. */
  serverSeq = 0;
  deliver(data: string | ArrayBuffer): void {
    let seq = 0;
    if (typeof data !== 'string') seq = new DataView(data).getFloat64(0);
    else if (data.startsWith('{')) seq = (JSON.parse(data) as { seq?: number }).seq ?? 0;
    else seq = Number(data.slice(0, data.indexOf(':')));
    this.serverSeq = Math.max(this.serverSeq, seq);
    this.onmessage?.({ data });
  }
  /** Answers our close frame, if we sent one. */
  echoClose(): void {
    const mine = this.sent.find((m) => typeof m === 'string' && m.startsWith('{"t":"close"'));
    if (!mine || this.closedWith !== undefined) return;
    const f = JSON.parse(mine as string) as Record<string, unknown>;
    this.deliver(JSON.stringify({ ...f, seq: this.serverSeq + 1 }));
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  /** Text frames sent, binary shown as "<bin:seq:len>". */
  texts(): string[] {
    return this.sent.map((m) => (typeof m === 'string' ? m : `<bin:${new DataView(m.buffer, m.byteOffset).getFloat64(0)}:${m.byteLength - 8}>`));
  }
  static last(): FakeWS {
    const ws = FakeWS.instances.at(-1);
    if (!ws) throw new Error('no FakeWS');
    return ws;
  }
  static reset(): void {
    FakeWS.instances = [];
  }
}

export function fakeOptions(extra: BurrowSocketOptions = {}): BurrowSocketOptions {
  return {
    transports: ['websocket'],
    WebSocket: FakeWS as unknown as WebSocketConstructor,
    remember: false,
    reconnectDelay: 1,
    reconnectDelayMax: 5,
    ...extra,
  };
}

/** Records every event of the given types, in order. */
export function record(socket: BurrowSocket, types = ['open', 'message', 'error', 'close', 'transport']): Event[] {
  const log: Event[] = [];
  for (const t of types) socket.addEventListener(t, (ev) => log.push(ev));
  return log;
}

export function next(socket: EventTarget, type: string): Promise<Event> {
  return new Promise((resolve) => socket.addEventListener(type, resolve, { once: true }));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (polling every few ms). */
export async function until(cond: () => boolean, timeout = 2000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeout) throw new Error('timed out waiting for condition');
    await sleep(2);
  }
}
