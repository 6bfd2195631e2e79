/**
 * Checks shared by `session.send()`, `session.join()` and the room fan-out (`burrow.to(room).send()`,
 * `burrow.broadcast()`): payload preparation and room-name validation.
 */
import { CloseCode } from '@burrow/shared';
import { BurrowError } from '../errors/burrow-error.js';

/** What `session.send()` and the fan-out accept. */
export type SendData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** Longest room name, in UTF-16 code units. */
export const MAX_ROOM_LENGTH = 256;

export interface PreparedPayload {
  readonly data: string | Uint8Array;
  readonly size: number;
  /**
   * For binary: the buffer `data` is a view of, with 8 free bytes in front for the WebSocket seq
   * header (so a single-session send gets its WebSocket encoding for free).
   */
  readonly header: Uint8Array | undefined;
}

/**
 * Copies binary input once (the stored payload is immune to later mutation by the caller) and checks
 * the size against `maxPayload`; throws `payload_too_large`.
 */
export function preparePayload(input: SendData, max: number): PreparedPayload {
  if (typeof input === 'string') {
    const size = Buffer.byteLength(input);
    if (size > max) throw tooLarge(max);
    return { data: input, size, header: undefined };
  }
  const src = toBytes(input);
  const size = src.byteLength;
  if (size > max) throw tooLarge(max);
  const header = new Uint8Array(8 + size);
  header.set(src, 8);
  return { data: header.subarray(8), size, header };
}

function tooLarge(max: number): BurrowError {
  return new BurrowError('payload_too_large', `payload exceeds ${max} bytes`, CloseCode.TooBig);
}

function toBytes(input: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return new Uint8Array(input);
}

/** Throws a TypeError unless `room` is a non-empty string of at most {@link MAX_ROOM_LENGTH} characters. */
export function checkRoom(room: unknown): asserts room is string {
  if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM_LENGTH) {
    throw new TypeError(`a room name is a non-empty string of at most ${MAX_ROOM_LENGTH} characters`);
  }
}
