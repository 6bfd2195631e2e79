/**
 * The messages on a session's wake channel, as the subscriber reads them: JSON (a {@link WakeEvent}),
 * where an `append` may also carry the frames it appended (scripts.ts burrowAppend, ARGV[8]).
 *
 * Every node with a core of the session hears every wake, but only the one holding its downstream
 * uses the frames, and a wake held behind this node's own appends drops them: so the `append` wake
 * the scripts write is read by its fixed head (`lastSeq` only) and its frames are parsed when first
 * asked for. A JSON.parse of every carried wake on every node cost more than the reads it saves
 * (issue #14).
 */
import type { OutboundFrame, WakeEvent } from '../store.js';

/** How burrowAppend and burrowAppendClose begin an append wake. */
const APPEND_HEAD = '{"type":"append","lastSeq":';

export function parseWake(message: string): WakeEvent | undefined {
  if (message.startsWith(APPEND_HEAD)) {
    let i = APPEND_HEAD.length;
    let n = 0;
    for (; i < message.length; i++) {
      const c = message.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
    }
    const next = message.charCodeAt(i);
    if (i > APPEND_HEAD.length && Number.isSafeInteger(n)) {
      if (next === 0x7d && i === message.length - 1) return { type: 'append', lastSeq: n };
      if (next === 0x2c) return new CarriedWake(n, message);
    }
  }
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type === 'append' && typeof o.lastSeq === 'number') return { type: 'append', lastSeq: o.lastSeq };
  if (o.type === 'attach' && typeof o.owner === 'string') return { type: 'attach', owner: o.owner };
  if (o.type === 'pong') return { type: 'pong' };
  return undefined;
}

/** An `append` wake with fields after `lastSeq`: its frames, parsed on first use (undefined when unreadable). */
class CarriedWake {
  readonly type = 'append' as const;
  #message: string | undefined;
  #frames: OutboundFrame[] | undefined;

  constructor(
    readonly lastSeq: number,
    message: string,
  ) {
    this.#message = message;
  }

  get frames(): readonly OutboundFrame[] | undefined {
    const m = this.#message;
    if (m !== undefined) {
      this.#message = undefined;
      this.#frames = carried(m, this.lastSeq);
    }
    return this.#frames;
  }
}

/**
 * The text frames a wake carries: log entries ('t' + text) of seqs `first`... ending at `lastSeq`;
 * undefined (the listener reads the log) for anything else.
 */
function carried(message: string, lastSeq: number): OutboundFrame[] | undefined {
  let o: { first?: unknown; texts?: unknown };
  try {
    o = JSON.parse(message) as typeof o;
  } catch {
    return undefined;
  }
  const { first, texts } = o;
  if (typeof first !== 'number' || !Array.isArray(texts) || texts.length === 0 || first + texts.length - 1 !== lastSeq) return undefined;
  const out: OutboundFrame[] = [];
  for (let i = 0; i < texts.length; i++) {
    const e: unknown = texts[i];
    if (typeof e !== 'string' || e.charCodeAt(0) !== 0x74) return undefined;
    const data = e.slice(1);
    out.push({ frame: { t: 'd', seq: first + i, data }, size: Buffer.byteLength(data, 'utf8') });
  }
  return out;
}
