/**
 * BurrowSocket: the W3C `WebSocket` API, as Chromium implements it, over a Burrow session that may
 * run on WebSocket, SSE or long polling and survives transport switches and reconnects unseen.
 */
import { isAppCloseCode, MAX_CLOSE_REASON_BYTES, type OpenFrame, type Payload, payloadSize, utf8Length, wellFormed } from '@burrow/shared';
import { ABNORMAL } from './close-codes.js';
import { type Connection, type ConnectionEvents, createConnection } from './engine/connection.js';
import { testHook } from './engine/test-hook.js';
import { CloseEventImpl, scheduleTask } from './platform/dom.js';
import { type AnyListener, type BurrowCloseEvent, type BurrowMessageEvent, type BurrowSocketEventMap, type ListenerOptions, ReconnectEvent, TransportEvent } from './events.js';
import type { BurrowSocketOptions, TransportName } from './types.js';
import { clampUnsignedShort, parseProtocols, parseSocketUrl, syntaxError, toPayload } from './w3c-arguments.js';

/**
 * `readyState` values, as in the W3C WebSocket. It only moves forward (CONNECTING to OPEN, CLOSING or
 * CLOSED; OPEN to CLOSING or CLOSED; CLOSING to CLOSED), and only through `#setState`, which throws
 * on any other move.
 */
type ReadyState = 0 | 1 | 2 | 3;
const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** What {@link BurrowSocket.binaryType} accepts. */
export type BurrowBinaryType = 'blob' | 'arraybuffer';

/**
 * One item of the send pipeline: data (`payload` undefined while a Blob is read), or the close
 * request behind it (`payload` null, `size` 0).
 */
interface Outgoing {
  size: number;
  payload: Payload | undefined | null;
  code?: number | undefined;
  reason?: string | undefined;
}

type HandlerName = 'open' | 'message' | 'error' | 'close';
/**
 * An `on…` handler. No `this` type is declared: a WebSocket's handlers are typed with `this:
 * WebSocket`, and leaving it open is what lets a BurrowSocket stand where a WebSocket is expected.
 */
type Handler<E extends Event = Event> = ((ev: E) => unknown) | null;

/**
 * A W3C `WebSocket` look-alike that runs one Burrow session over WebSocket, SSE or long polling.
 *
 * @example
 * ```ts
 * const socket = new BurrowSocket('wss://example.com/burrow', 'chat');
 * socket.onmessage = (ev) => console.log(ev.data);
 * socket.addEventListener('transport', () => console.log('now on', socket.transport));
 * ```
 *
 * Events: `open`, `message` (MessageEvent), `error`, `close` (CloseEvent), and Burrow's
 * `transport` ({@link TransportEvent}), `reconnecting` and `reconnected` ({@link ReconnectEvent}). All are dispatched as tasks, never inside a method call.
 */

export interface BurrowSocket {
  addEventListener<K extends keyof BurrowSocketEventMap>(
    type: K,
    listener: (this: BurrowSocket, ev: BurrowSocketEventMap[K]) => unknown,
    options?: ListenerOptions,
  ): void;
  addEventListener(type: string, listener: AnyListener, options?: ListenerOptions): void;
  removeEventListener<K extends keyof BurrowSocketEventMap>(
    type: K,
    listener: (this: BurrowSocket, ev: BurrowSocketEventMap[K]) => unknown,
    options?: boolean | { readonly capture?: boolean },
  ): void;
  removeEventListener(type: string, listener: AnyListener, options?: boolean | { readonly capture?: boolean }): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed listeners, as the DOM's WebSocket has
export class BurrowSocket extends EventTarget {
  static readonly CONNECTING = 0 as const;
  static readonly OPEN = 1 as const;
  static readonly CLOSING = 2 as const;
  static readonly CLOSED = 3 as const;

  #readyState: ReadyState = CONNECTING;
  readonly #url: string;
  readonly #origin: string;
  #protocol = '';
  #transport: TransportName | '' = '';
  #sessionId = '';
  #binaryType: BurrowBinaryType = 'blob';
  #reconnecting = false;
  /** This socket's events scheduled and not yet run: a message may skip the task queue only when it is 0. */
  #queued = 0;
  readonly #conn: Connection;
  /** Sends not yet handed to the engine: a Blob being read, and whatever queued behind it. */
  readonly #pipeline: Outgoing[] = [];
  #pipelineBytes = 0;
  /** Bytes passed to send() after close: they only grow bufferedAmount, as in browsers. */
  #lateBytes = 0;
  /**
   * The `on…` handlers that are set; each has {@link #callHandler} registered for its event. Every
   * key is there from the start and cleared to null, never deleted: added one by one they made a
   * dictionary in V8 (~270 B per socket).
   */
  readonly #handlers: Record<HandlerName, ((ev: Event) => unknown) | null> = { open: null, message: null, error: null, close: null };

  /**
   * @param url `ws:`, `wss:`, `http:` or `https:` URL of the server's mount path, e.g. `wss://host/burrow`.
   *   Relative URLs resolve against the document in browsers. Its query is sent on every request.
   * @param protocols subprotocols to offer; `protocol` reports the server's pick.
   * @param options transports, timeouts, reconnect and platform pieces; see {@link BurrowSocketOptions}.
   * @throws DOMException `SyntaxError` for an invalid URL, a scheme other than ws(s)/http(s), a
   *   fragment, or an invalid or duplicated subprotocol.
   */
  constructor(url: string | URL, protocols?: string | string[], options: BurrowSocketOptions = {}) {
    // WebIDL: a missing required argument is a TypeError (it opened `…/undefined`).
    if (arguments.length === 0) throw TypeError('1 argument required');
    super();
    const u = parseSocketUrl(url);
    const list = parseProtocols(protocols);
    this.#url = u.href;
    this.#origin = u.origin;
    this.#conn = createConnection({ url: u, protocols: list, options }, this.#engineEvents());
    this.#conn.start();
    // A test's registry of live sockets (see engine/test-hook.ts); absent in apps.
    const reg = testHook()?.sockets;
    if (Array.isArray(reg)) reg.push(this);
  }

  get CONNECTING(): 0 {
    return CONNECTING;
  }
  get OPEN(): 1 {
    return OPEN;
  }
  get CLOSING(): 2 {
    return CLOSING;
  }
  get CLOSED(): 3 {
    return CLOSED;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): ReadyState {
    return this.#readyState;
  }

  /** The one place `readyState` changes: forward only, so the W3C order of events cannot be broken. */
  #setState(next: ReadyState): void {
    if (next === this.#readyState) return;
    if (next < this.#readyState) throw new Error(`illegal readyState move ${this.#readyState} -> ${next}`);
    this.#readyState = next;
  }

  /** The URL, with http(s) reported as ws(s) as browsers do. */
  get url(): string {
    return this.#url;
  }

  /** The subprotocol the server picked; '' before open or when none. */
  get protocol(): string {
    return this.#protocol;
  }

  /** Always '': no WebSocket extensions are negotiated end to end. */
  get extensions(): string {
    return '';
  }

  /** Bytes passed to send() not yet written by any transport (on HTTP: until the POST carrying them is answered). */
  get bufferedAmount(): number {
    return this.#conn.bufferedAmount() + this.#pipelineBytes + this.#lateBytes;
  }

  /** How binary messages are delivered: 'blob' (default) or 'arraybuffer'. Other values are ignored. */
  get binaryType(): BurrowBinaryType {
    return this.#binaryType;
  }
  set binaryType(v: BurrowBinaryType) {
    if (v === 'blob' || v === 'arraybuffer') this.#binaryType = v;
  }

  /** The transport carrying the session now: 'websocket', 'sse', 'polling', or '' when none is open. */
  get transport(): TransportName | '' {
    return this.#transport;
  }

  /**
   * True while the session is open but no transport carries it: the link was lost and the socket is
   * resuming the session (sends are queued meanwhile, and arrive once it is back). Burrow's addition to
   * the WebSocket surface, which stays OPEN throughout; `reconnecting` and `reconnected` events mark
   * the changes.
   */
  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  /** The session id once open ('' before); kept after close for diagnostics. */
  get sessionId(): string {
    return this.#sessionId;
  }

  get onopen(): Handler<Event> {
    return this.#handlers.open as Handler<Event>;
  }
  set onopen(fn: Handler<Event>) {
    this.#setHandler('open', fn);
  }
  get onmessage(): Handler<BurrowMessageEvent> {
    return this.#handlers.message as Handler<BurrowMessageEvent>;
  }
  set onmessage(fn: Handler<BurrowMessageEvent>) {
    this.#setHandler('message', fn);
  }
  get onerror(): Handler<Event> {
    return this.#handlers.error as Handler<Event>;
  }
  set onerror(fn: Handler<Event>) {
    this.#setHandler('error', fn);
  }
  get onclose(): Handler<BurrowCloseEvent> {
    return this.#handlers.close as Handler<BurrowCloseEvent>;
  }
  set onclose(fn: Handler<BurrowCloseEvent>) {
    this.#setHandler('close', fn);
  }

  /**
   * Sends a message. Strings go as text, everything else as binary; the bytes are copied now, and
   * Blobs keep their place in the order while they are read.
   * @throws DOMException `InvalidStateError` while CONNECTING. After close() the data is dropped and
   *   only grows `bufferedAmount`, as in browsers.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    // WebIDL: a missing required argument is a TypeError (it sent the text "undefined").
    if (arguments.length === 0) throw TypeError('1 argument required');
    if (this.#readyState === CONNECTING) {
      throw new DOMException('Still in CONNECTING state', 'InvalidStateError');
    }
    if (typeof data === 'string' && this.#readyState === OPEN && this.#pipeline.length === 0) {
      // The common case, straight to the engine: text with nothing queued ahead of it.
      const text = wellFormed(data);
      this.#conn.send(text, utf8Length(text));
      return;
    }
    // By class tag, not instanceof: a Blob or ArrayBuffer made in another realm (an iframe) is no
    // instance of this one's, and was sent as the text "[object Blob]".
    const tag = typeof data === 'string' ? '' : Object.prototype.toString.call(data);
    const blob = tag === '[object Blob]' || tag === '[object File]' ? (data as Blob) : undefined;
    const payload = blob ? undefined : toPayload(data as string | ArrayBufferLike | ArrayBufferView, tag);
    const item: Outgoing = { size: payload === undefined ? blob!.size : payloadSize(payload), payload };
    if (this.#readyState !== OPEN) {
      this.#lateBytes += item.size;
      return;
    }
    this.#push(item);
    if (blob) {
      blob.arrayBuffer().then(
        (buf) => {
          item.payload = new Uint8Array(buf);
          this.#pump();
        },
        // A Blob that cannot be read fails the connection, as in browsers.
        () => this.#failLocally(),
      );
    }
  }

  /**
   * Closes the socket. While CONNECTING the attempt is abandoned (`error`, then `close` 1006);
   * while OPEN a close frame follows everything sent so far and `close` fires with the server's echo.
   * @param code 1000 or 3000–4999 (needed when a reason is given), else DOMException `InvalidAccessError`.
   * @param reason at most 123 UTF-8 bytes, else DOMException `SyntaxError`.
   */
  close(code?: number, reason?: string): void {
    let c: number | undefined;
    // A reason needs a code: Chromium converts an undefined code given with a reason to 0, which it
    // refuses (the WHATWG spec would send 1000; a drop-in matches Chromium).
    if (code !== undefined || reason !== undefined) {
      c = clampUnsignedShort(code);
      if (!isAppCloseCode(c)) {
        throw new DOMException(`Invalid close code ${c} (1000, 3000-4999)`, 'InvalidAccessError');
      }
    }
    let r: string | undefined;
    if (reason !== undefined) {
      r = wellFormed(String(reason));
      if (utf8Length(r) > MAX_CLOSE_REASON_BYTES) {
        throw syntaxError(`Close reason over ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`);
      }
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      this.#failLocally();
      return;
    }
    this.#setState(CLOSING);
    this.#push({ size: 0, payload: null, code: c, reason: r || undefined });
  }

  // ---- internals ------------------------------------------------------------------------------

  #engineEvents(): ConnectionEvents {
    return {
      open: (open: OpenFrame, transport: TransportName) => {
        this.#task(() => {
          if (this.#readyState !== CONNECTING) return;
          this.#protocol = open.protocol;
          this.#sessionId = open.sid;
          this.#transport = transport;
          this.#setState(OPEN);
          this.dispatchEvent(new Event('open'));
          // Same task: the first `transport` event always follows `open`, even if onopen closes.
          this.dispatchEvent(new TransportEvent('transport', transport, ''));
        }, true);
      },
      message: (data: Payload) => {
        this.#task(() => {
          // Checked at dispatch, as the spec does: nothing is delivered once close() was called.
          if (this.#readyState !== OPEN) return;
          this.dispatchEvent(new MessageEvent('message', { data: this.#toAppData(data), origin: this.#origin }));
        }, true);
      },
      transport: (name: TransportName, previous: TransportName) => {
        this.#task(() => {
          if (this.#readyState === CLOSED || this.#readyState === CONNECTING) return;
          this.#transport = name;
          this.dispatchEvent(new TransportEvent('transport', name, previous));
        });
      },
      closing: () => {
        this.#task(() => {
          if (this.#readyState === OPEN) this.#setState(CLOSING);
        });
      },
      close: (code: number, reason: string, wasClean: boolean) => {
        this.#task(() => this.#closed(code, reason, wasClean));
      },
      reconnecting: (attempt: number, delay: number) => {
        this.#task(() => {
          if (this.#readyState !== OPEN) return;
          this.#reconnecting = true;
          this.dispatchEvent(new ReconnectEvent('reconnecting', attempt, delay));
        });
      },
      reconnected: (attempts: number) => {
        this.#task(() => {
          if (this.#readyState !== OPEN || !this.#reconnecting) return;
          this.#reconnecting = false;
          this.dispatchEvent(new ReconnectEvent('reconnected', attempts, 0));
        });
      },
    };
  }

  /**
   * Schedules one of this socket's events, counted in {@link #queued}: as a task, or, when `soon` and
   * none of its events wait, at the end of the current task. The engine hears a frame inside the
   * platform task that carried it (a WebSocket, EventSource or fetch callback), never inside an app
   * call, so "the end of that task" is what a native socket's own task is; a task of our own waits
   * behind every other task of a busy page (~200 ms per message in the bench's saturated Chromium, and
   * the page's first render before `open`). Queued behind what waits, order and "a handler's
   * microtasks run before the next event" hold.
   */
  #task(fn: () => void, soon = false): void {
    const run = (): void => {
      this.#queued--;
      fn();
    };
    if (soon && this.#queued === 0) queueMicrotask(run);
    else scheduleTask(run);
    this.#queued++;
  }

  #closed(code: number, reason: string, wasClean: boolean): void {
    if (this.#readyState === CLOSED) return;
    this.#setState(CLOSED);
    this.#reconnecting = false;
    this.#transport = '';
    // Data still waiting for a Blob read will never be sent; it stays counted, as in browsers.
    if (!wasClean) this.dispatchEvent(new Event('error'));
    this.dispatchEvent(new CloseEventImpl('close', { wasClean, code, reason }));
  }

  /** Fails the connection locally: CLOSING now, then `error` and `close` 1006 as a task. */
  #failLocally(): void {
    if (this.#readyState === CLOSED) return;
    this.#conn.abort();
    this.#setState(CLOSING);
    this.#task(() => this.#closed(ABNORMAL, '', false));
  }

  #toAppData(data: Payload): string | ArrayBuffer | Blob {
    if (typeof data === 'string') return data;
    // slice(): an exactly-sized buffer, never a view into a larger frame buffer.
    if (this.#binaryType === 'arraybuffer') return data.slice().buffer;
    return new Blob([data as Uint8Array<ArrayBuffer>]);
  }

  #push(item: Outgoing): void {
    this.#pipelineBytes += item.size;
    this.#pipeline.push(item);
    this.#pump();
  }

  /** Hands ready items to the engine in order; stops at a Blob still being read. */
  #pump(): void {
    let head: Outgoing | undefined;
    while ((head = this.#pipeline[0]) && head.payload !== undefined) {
      this.#pipeline.shift();
      this.#pipelineBytes -= head.size;
      if (head.payload === null) this.#conn.close(head.code, head.reason);
      else this.#conn.send(head.payload, head.size);
    }
  }

  /**
   * Event handler attributes as in HTML: the listener is added where the first non-null value was
   * set, replacing the value keeps that place, and null removes it.
   */
  #setHandler<E extends Event>(type: HandlerName, fn: Handler<E>): void {
    const had = this.#handlers[type];
    // Any object is kept, as Chromium keeps it ([LegacyTreatNonObjectAsNull]); one that is not
    // callable then throws a TypeError when its event fires, which is reported, as there.
    if (Object(fn) === fn) {
      this.#handlers[type] = fn as (ev: Event) => unknown;
      if (!had) this.addEventListener(type, this.#callHandler);
    } else if (had) {
      this.#handlers[type] = null;
      this.removeEventListener(type, this.#callHandler);
    }
  }

  /** The one listener behind every handler attribute: it calls the handler set for the event's type. */
  readonly #callHandler = (ev: Event): void => {
    this.#handlers[ev.type as HandlerName]?.call(this, ev);
  };
}
