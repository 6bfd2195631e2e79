/**
 * A `text/event-stream` parser (the WHATWG "event stream interpretation"), for reading SSE from a
 * streamed HTTP body where the platform's EventSource is not used (Node). It keeps what Burrow's
 * downstream needs and what the format requires of a reader: `data:` lines (joined by LF when an
 * event has several), `id:` (the last event ID, kept across events; ignored when it holds NUL),
 * `event:` (only unnamed or `message` events are dispatched, as `onmessage` would see them), comments
 * (reported, they prove the stream alive), `retry:` and unknown fields ignored; lines end in LF, CR or
 * CRLF, a leading BOM is dropped, and a chunk may end anywhere, even between CR and LF.
 *
 * It does not reconnect: the Burrow engine resumes a lost stream itself, with a fresh `ack`.
 */

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

export interface SseHandlers {
  /** One dispatched event's data (the `message` events an EventSource would deliver). */
  event(data: string): void;
  /** A comment line (`:` first): the server's keep-alive, or its padding. */
  comment(): void;
}

export class SseParser {
  readonly #on: SseHandlers;
  readonly #maxChars: number;
  /** The end of a line not yet terminated. */
  #rest = '';
  /** The previous chunk ended in CR: a LF opening the next one belongs to it. */
  #afterCR = false;
  #first = true;
  /** The data buffer of the event being read, or null when it has no data field yet. */
  #data: string | null = null;
  #type = '';
  #size = 0;
  /** The last event ID seen (the stream's, not per event). */
  lastEventId = '';

  /**
   * @param maxChars the longest event (data plus the line in progress) accepted, in UTF-16 units;
   *   past it {@link push} returns false and the stream must be dropped: a reader's memory is bounded.
   */
  constructor(handlers: SseHandlers, maxChars: number) {
    this.#on = handlers;
    this.#maxChars = maxChars;
  }

  /** Feeds a piece of the body. False when an event outgrew the bound (nothing more is parsed). */
  push(chunk: string): boolean {
    if (this.#first && chunk.length > 0) {
      this.#first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.#afterCR && chunk.length > 0) {
      this.#afterCR = false;
      if (chunk.charCodeAt(0) === LF) chunk = chunk.slice(1);
    }
    if (chunk.indexOf('\r') !== -1) {
      this.#afterCR = chunk.charCodeAt(chunk.length - 1) === CR;
      chunk = chunk.replace(/\r\n?/g, '\n');
    }
    if (this.#rest.length > 0 && chunk.indexOf('\n') === -1) {
      // Still inside one long line: append without flattening what came before.
      this.#rest += chunk;
      return this.#size + this.#rest.length <= this.#maxChars;
    }
    const text = this.#rest.length > 0 ? this.#rest + chunk : chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      this.#line(text, start, nl);
      start = nl + 1;
    }
    this.#rest = start === 0 ? text : text.slice(start);
    return this.#size + this.#rest.length <= this.#maxChars;
  }

  /** The line `text[start, end)`. */
  #line(text: string, start: number, end: number): void {
    if (start === end) return this.#dispatch();
    const c = text.charCodeAt(start);
    if (c === COLON) return this.#on.comment();
    // The names read here are at most 5 characters: a colon further on ends a name ignored anyway, and
    // a search to the end of the chunk for each line without one made a chunk of them quadratic.
    let colon = end;
    for (let i = start, last = Math.min(end, start + 6); i < last; i++) {
      if (text.charCodeAt(i) === COLON) {
        colon = i;
        break;
      }
    }
    if (colon === end && end - start > 5) return;
    let v = colon + 1;
    if (v < end && text.charCodeAt(v) === SPACE) v++;
    const value = v >= end ? '' : text.slice(v, end);
    const nameLength = colon - start;
    // Field names compared in place: no substring for the name.
    if (nameLength === 4 && text.startsWith('data', start)) {
      this.#data = this.#data === null ? value : `${this.#data}\n${value}`;
      this.#size += value.length + 1;
    } else if (nameLength === 2 && text.startsWith('id', start)) {
      if (value.indexOf('\0') === -1) this.lastEventId = value;
    } else if (nameLength === 5 && text.startsWith('event', start)) {
      this.#type = value;
    }
  }

  #dispatch(): void {
    const data = this.#data;
    const type = this.#type;
    this.#data = null;
    this.#type = '';
    this.#size = 0;
    if (data !== null && (type === '' || type === 'message')) this.#on.event(data);
  }
}
