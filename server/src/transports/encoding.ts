/**
 * Encodings of outbound frames, computed once per frame and cached on it, so a resend or a poll after
 * a lost response costs no re-encoding. Text data on WebSocket is the exception: `"seq:" + text` is as
 * cheap as a cache lookup and caching it would double the log's memory.
 */
import { encodeJsonFrame, encodeWsFrame, type WsMessage } from '@burrow/shared';
import type { OutboundFrame } from '../store/store.js';

export function wsMessageOf(f: OutboundFrame): WsMessage {
  if (f.ws !== undefined) return f.ws;
  const frame = f.frame;
  if (frame.t === 'd' && typeof frame.data === 'string') return `${frame.seq}:${frame.data}`;
  return (f.ws = encodeWsFrame(frame));
}

export function jsonOf(f: OutboundFrame): string {
  return (f.json ??= encodeJsonFrame(f.frame));
}
