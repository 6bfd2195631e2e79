/**
 * Test doubles: a scriptable fake WebSocket and event helpers. Nothing here sleeps or polls: a test
 * waits for the event that changes what it waits on ({@link Changes}, {@link when}), or for the turn
 * after the client's own work ({@link turn}).
 */
import type { BurrowSocket, BurrowSocketOptions, WebSocketConstructor } from '../src/index.js';

// Taken before any test installs fake timers: a wait's deadline runs on the real clock.
const realSetTimeout = setTimeout;
const realClearTimeout = clearTimeout;

/**
 * What tests wait on instead of polling: whoever changes some state calls `notify()`, and every
 * waiter checks its condition again. `until` rejects after `timeout` ms on the real clock, naming what
 * it waited for (a failure, never a way to let time pass).
 */
export class Changes {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const check of [...this.#waiters]) check();
  }

  until(cond: () => boolean, what: string, timeout = 2000): Promise<void> {
    return new Promise((resolve, reject) => {
      const stop = (): void => {
        realClearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        let ok: boolean;
        try {
          ok = cond();
        } catch (err) {
          stop();
          return reject(err as Error);
        }
        if (!ok) return;
        stop();
        resolve();
      };
      const timer = realSetTimeout(() => {
        stop();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeout);
      this.#waiters.add(check);
      check();
    });
  }
}

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
  /** Notified when a FakeWS is made, sends, or is asked for its bufferedAmount. */
  static readonly changes = new Changes();
  /** Called with each FakeWS once it is made (the client sets its handlers after that, in the same task). */
  static onCreated: ((ws: FakeWS) => void) | undefined;
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
    FakeWS.onCreated?.(this);
    FakeWS.changes.notify();
  }
  send(d: string | Uint8Array): void {
    this.sent.push(typeof d === 'string' ? d : d.slice());
    FakeWS.changes.notify();
  }
  /**
   * Nothing is ever held here. The client's transport reads this right before it reports frames
   * written (bufferedAmount), synchronously: waiters look again once that is done.
   */
  get bufferedAmount(): number {
    queueMicrotask(() => FakeWS.changes.notify());
    return 0;
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
    FakeWS.onCreated = undefined;
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

/**
 * Resolves once `cond()` holds: checked now, and after each event of `types` on `target` (after the
 * listeners registered before this call, such as {@link record}'s).
 */
export function when(target: EventTarget, types: readonly string[], cond: () => boolean, what: string, timeout = 2000): Promise<void> {
  const changes = new Changes();
  const notify = (): void => changes.notify();
  for (const t of types) target.addEventListener(t, notify);
  const done = changes.until(cond, what, timeout);
  const off = (): void => {
    for (const t of types) target.removeEventListener(t, notify);
  };
  done.then(off, off);
  return done;
}

/**
 * One turn of the event loop: resolves in a setImmediate queued now, so after every setImmediate
 * already queued and whatever microtasks they run. In Node the client queues its upstream flush
 * (`afterSends`) and its event dispatches (`scheduleTask`) that way, so by then what the client's
 * last callbacks decided to send or dispatch has been sent or dispatched: the point a negative
 * check ("no request was made") waits for. Not a sleep: no time passes that the test relies on.
 */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
