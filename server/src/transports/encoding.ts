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

/**
 * Text escaped for JSON, for the last text encoded: a broadcast or room fan-out sends one string to
 * every member, and only the seq differs between their frames, so the escape is done once per message
 * rather than once per member. Longer texts are not kept (the cache would pin them in memory).
 */
let lastText: string | undefined;
let lastEscaped = '';
const CACHED_TEXT_MAX = 64 * 1024;

export function jsonOf(f: OutboundFrame): string {
  if (f.json !== undefined) return f.json;
  const frame = f.frame;
  if (frame.t !== 'd' || typeof frame.data !== 'string') return (f.json = encodeJsonFrame(frame));
  const text = frame.data;
  let escaped: string;
  if (text === lastText) escaped = lastEscaped;
  else {
    escaped = JSON.stringify(text);
    if (text.length <= CACHED_TEXT_MAX) {
      lastText = text;
      lastEscaped = escaped;
    }
  }
  // Byte for byte encodeJsonFrame's text-data form.
  return (f.json = `{"t":"d","seq":${frame.seq},"text":${escaped}}`);
}
