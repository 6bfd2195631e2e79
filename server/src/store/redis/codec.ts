/**
 * How the store's values look in Redis, both ways: numbers sent as arguments, frames as log and journal
 * entries, and the session record as a hash.
 *
 * A log entry (and an inbound journal entry) is a 1-byte tag and the payload:
 *   't' + UTF-8 text, 'b' + raw bytes, 'c' + JSON {code?, reason?} (a close frame)
 * so STRLEN - 1 is the payload size the buffer limits count (0 for a close).
 */
import type { JournalEntry, OutboundFrame, SessionRecord } from '../store.js';

// ---- numbers --------------------------------------------------------------------------------------

/** Larger counts are clamped (LRANGE wants integers). */
const MAX_COUNT = 2 ** 31 - 1;

/** A TTL in ms as an integer string of at least 1: a huge one is capped (its decimal form stays plain). */
export function ms(n: number): string {
  return String(Math.max(1, Math.ceil(Number.isFinite(n) ? Math.min(n, Number.MAX_SAFE_INTEGER) : MAX_COUNT)));
}

/** A count (frames) as an integer string in 0 .. 2^31-1. */
export function count(n: number): string {
  if (Number.isNaN(n)) return '0';
  return String(Math.max(0, Math.min(MAX_COUNT, Math.floor(n))));
}

/** A non-negative integer seq/ack as a decimal string (Lua reads it exactly up to 2^53). */
export function seqArg(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? String(Number.MAX_SAFE_INTEGER) : '0';
  return String(Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(n))));
}

/** A reply element as a string (replies mix strings, Buffers and integers). */
export function toStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number') return String(v);
  return undefined;
}

// ---- entries --------------------------------------------------------------------------------------

const TAG_TEXT = 0x74; // 't'
const TAG_BINARY = 0x62; // 'b'
const TAG_CLOSE = 0x63; // 'c'
const TEXT_HEAD = Buffer.from([TAG_TEXT]);
const BINARY_HEAD = Buffer.from([TAG_BINARY]);
const CLOSE_HEAD = Buffer.from([TAG_CLOSE]);

/** Encodes a data payload as a log entry. */
export function encodeEntry(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.concat([TEXT_HEAD, Buffer.from(data, 'utf8')]);
  return Buffer.concat([BINARY_HEAD, data]);
}

/** Encodes a close frame as a log entry. */
export function encodeClose(code: number | undefined, reason: string | undefined): Buffer {
  const info = JSON.stringify({ ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) });
  return Buffer.concat([CLOSE_HEAD, Buffer.from(info, 'utf8')]);
}

/** Payload bytes of `data` (`size` when the caller knows it already). */
export function payloadBytes(data: string | Uint8Array, size?: number): number {
  return size ?? (typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength);
}

/**
 * Many data entries as two script arguments (a group append, a batch of inbound frames): the entries
 * back to back in one Buffer, and their lengths as decimal text, space-separated (prelude.ts
 * `unpackEntries` splits them again). Two arguments instead of one per entry: ioredis encodes each
 * argument on its own, and that, not Redis, was most of a batch's cost.
 */
export class EntryPack {
  readonly #data: (string | Uint8Array)[] = [];
  readonly #bytes: number[] = [];
  #total = 0;
  #lengths = '';
  /** Written before every entry (the inbound journal's "owner "), and counted in its length. */
  readonly #prefix: Buffer | undefined;

  constructor(prefix?: string) {
    this.#prefix = prefix ? Buffer.from(prefix, 'utf8') : undefined;
  }

  /** Adds a data entry of `bytes` payload bytes. */
  add(data: string | Uint8Array, bytes: number): void {
    const len = bytes + 1 + (this.#prefix?.length ?? 0);
    this.#data.push(data);
    this.#bytes.push(bytes);
    this.#total += len;
    this.#lengths += this.#lengths === '' ? String(len) : ' ' + String(len);
  }

  get lengths(): string {
    return this.#lengths;
  }

  /** Bytes of the blob (what a wake that carries the entries carries, before JSON escaping). */
  get size(): number {
    return this.#total;
  }

  /** The entries, encoded as encodeEntry would each (after the prefix), in one Buffer. */
  blob(): Buffer {
    const b = Buffer.allocUnsafe(this.#total);
    const prefix = this.#prefix;
    let o = 0;
    for (let i = 0; i < this.#data.length; i++) {
      const d = this.#data[i]!;
      if (prefix) {
        b.set(prefix, o);
        o += prefix.length;
      }
      if (typeof d === 'string') {
        b[o] = TAG_TEXT;
        // A wrong size would shift every entry after it: refused rather than stored garbled.
        if (b.write(d, o + 1, 'utf8') !== this.#bytes[i]) throw new Error('entry size does not match its UTF-8 length');
      } else {
        b[o] = TAG_BINARY;
        b.set(d, o + 1);
      }
      o += this.#bytes[i]! + 1;
    }
    return b;
  }
}

export function decodeEntry(seq: number, e: Buffer): OutboundFrame {
  return decodeAt(seq, e, 0, e.byteLength);
}

/** The entry in `b` from `start` (its tag) to `end`, as the frame of seq `seq`. */
function decodeAt(seq: number, b: Buffer, start: number, end: number): OutboundFrame {
  const tag = b[start];
  if (tag === TAG_CLOSE) {
    let info: { code?: unknown; reason?: unknown } = {};
    try {
      info = JSON.parse(b.toString('utf8', start + 1, end)) as typeof info;
    } catch {
      // A corrupt entry still closes the session; without a code the peer reports 1005.
    }
    const code = typeof info.code === 'number' ? info.code : undefined;
    const reason = typeof info.reason === 'string' && info.reason ? info.reason : undefined;
    return { frame: { t: 'close', seq, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) }, size: 0 };
  }
  if (tag === TAG_BINARY) {
    // A copy: the frame may outlive the reply (a downstream's resend), and must not pin all of it.
    const bytes = new Uint8Array(end - start - 1);
    bytes.set(b.subarray(start + 1, end));
    return { frame: { t: 'd', seq, data: bytes }, size: bytes.byteLength };
  }
  return { frame: { t: 'd', seq, data: b.toString('utf8', start + 1, end) }, size: end - start - 1 };
}

/**
 * Entries packed as {@link EntryPack} packs them (`blob`, and `lengths`: decimal lengths separated by
 * one space) as the frames of seqs `first`, `first + 1`, ...: one pass over the lengths, no Buffer or
 * string per entry but its payload. Throws on lengths that do not add up to the blob (a garbled reply
 * would otherwise shift every frame after the bad length).
 */
export function decodePacked(first: number, lengths: Buffer, blob: Buffer): OutboundFrame[] {
  const out: OutboundFrame[] = [];
  let o = 0;
  let len = 0;
  let digits = 0;
  for (let i = 0; i <= lengths.length; i++) {
    const c = i < lengths.length ? lengths[i]! : 0x20;
    if (c >= 0x30 && c <= 0x39) {
      len = len * 10 + (c - 0x30);
      digits++;
      continue;
    }
    if (c !== 0x20 || digits === 0 || len < 1 || o + len > blob.length) throw new Error('garbled packed entries from redis');
    out.push(decodeAt(first + out.length, blob, o, o + len));
    o += len;
    len = 0;
    digits = 0;
  }
  if (o !== blob.length) throw new Error('garbled packed entries from redis');
  return out;
}

/** A journal entry (encoded like a log entry) as the session core delivers it. */
export function journalEntry(seq: number, e: Buffer): JournalEntry {
  const f = decodeEntry(seq, e).frame;
  return { seq, data: f.t === 'd' ? f.data : '' };
}

// ---- records --------------------------------------------------------------------------------------

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A new record as HSET's field, value, ... list. */
export function encodeRecord(record: SessionRecord): string[] {
  const fields: string[] = [
    'tokenHash', record.tokenHash,
    'protocol', record.protocol,
    'inAck', seqArg(record.inAck),
    'outSeq', seqArg(record.outSeq),
    'outAck', seqArg(record.outAck),
    'outBytes', '0',
    'activity', seqArg(record.activity),
  ];
  const json = record.data === undefined ? undefined : JSON.stringify(record.data);
  if (json !== undefined) fields.push('data', json);
  if (record.user !== undefined) fields.push('user', JSON.stringify(record.user));
  if (record.raced) fields.push('raced', '1');
  if (record.closed) {
    fields.push('closedBy', record.closed.by);
    if (record.closed.code !== undefined) fields.push('closedCode', String(record.closed.code));
    if (record.closed.reason) fields.push('closedReason', record.closed.reason);
  }
  return fields;
}

/** A record from HGETALL's flat [field, value, ...] array. */
export function decodeRecord(sid: string, flat: unknown): SessionRecord | undefined {
  if (!Array.isArray(flat) || flat.length === 0) return undefined;
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = toStr(flat[i]);
    const v = toStr(flat[i + 1]);
    if (k !== undefined && v !== undefined) h.set(k, v);
  }
  const num = (k: string): number => {
    const n = Number(h.get(k) ?? 0);
    return Number.isFinite(n) ? n : 0;
  };
  let data: unknown;
  const json = h.get('data');
  if (json !== undefined) {
    try {
      data = JSON.parse(json);
    } catch {
      data = undefined;
    }
  }
  const rec: Mutable<SessionRecord> = {
    id: sid,
    tokenHash: h.get('tokenHash') ?? '',
    protocol: h.get('protocol') ?? '',
    data,
    inAck: num('inAck'),
    outSeq: num('outSeq'),
    outAck: num('outAck'),
    activity: num('activity'),
  };
  const userJson = h.get('user');
  if (userJson !== undefined) {
    try {
      rec.user = JSON.parse(userJson);
    } catch {
      // an unreadable user is no user
    }
  }
  if (h.get('raced') === '1') rec.raced = true;
  const by = h.get('closedBy');
  if (by === 'client' || by === 'server') {
    const code = h.get('closedCode');
    const reason = h.get('closedReason');
    rec.closed = { by, ...(code !== undefined ? { code: Number(code) } : {}), ...(reason ? { reason } : {}) };
  }
  return rec;
}
