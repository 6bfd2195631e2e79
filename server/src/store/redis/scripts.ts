/**
 * The Lua scripts behind {@link RedisStore}. Each one touches the keys of a single session only (they
 * share the `{sid}` hash tag), so every script runs in one Redis Cluster slot. Every session script
 * takes the same five keys:
 *
 *   KEYS[1] rec   HASH  tokenHash, protocol, data (JSON, absent = undefined), inAck, outSeq, outAck,
 *                       outBytes, activity, closedBy, closedCode, closedReason
 *   KEYS[2] log   LIST  encoded frames, head = seq outAck+1 (see codec.ts for the encoding)
 *   KEYS[3] rooms SET   rooms the session is in
 *   KEYS[4] ttl   STRING shadow key carrying the real TTL; rec/log/rooms live TTL + grace longer so the
 *                       node that claims the expiry still finds the record's last state
 *   KEYS[5] journal HASH the inbound journal: seq -> owner node id .. ' ' .. entry (an accepted client
 *                       data frame, encoded like a log entry) until its owner confirms it emitted it;
 *                       only unconfirmed entries stay (a handful); TTL follows the record's
 *
 * A session exists while its `ttl` key does (an expired `ttl` key means "expiring: the claimer will
 * report it").
 *
 * A number a script computes goes back into `redis.call` only through `int(n)`. Redis turns a Lua
 * number argument into text itself, and on Redis 7.0 that text is `%.17g`: `-0` for a negative zero and
 * `1e+17` from 10^17 up, both of which HINCRBY, PEXPIRE and LRANGE reject as "not an integer". (Since
 * 7.2 integral numbers are sent as integers; `int` costs nothing there.) Seqs and TTLs that arrive as
 * ARGV strings are passed through as they are.
 */

import { JOURNAL_SCRIPTS } from './journal-scripts.js';
import { def, type ScriptDef } from './prelude.js';

export type { ScriptDef } from './prelude.js';

const SESSION_SCRIPTS = {
  /** ARGV: ttlMs, graceMs, field, value, ... → 1 created, 0 collision. */
  burrowCreate: def(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[5])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], int(tonumber(ARGV[1]) + tonumber(ARGV[2])))
redis.call('SET', KEYS[4], '1', 'PX', ARGV[1])
return 1
`),

  /** → HGETALL of the record, or nil. */
  burrowGet: def(`
if not alive() then return false end
return redis.call('HGETALL', KEYS[1])
`),

  /** ARGV: ttlMs, graceMs, activity ('1' | '0') → HGETALL after the touch, or nil. */
  burrowTouch: def(`
if not alive() then return false end
refresh(ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'activity', 1) end
return redis.call('HGETALL', KEYS[1])
`),

  /**
   * \`burrowGet\` and \`burrowTouch\` of a request in one step, the touch only for the right token.
   * ARGV: ttlMs, graceMs, tokenHash, claim ('1' | '0') → HGETALL (after the touch, if any), or nil
   * when the session is unknown or \`tokenHash\` is not the record's (then nothing is touched). Not
   * touched: a closed record, and an unclaimed raced one when claim is '0' (an abandon). Lua strings are
   * interned, so the comparison is one of two references, whatever the content.
   */
  burrowTouchProven: def(`
if not alive() then return false end
local f = redis.call('HMGET', KEYS[1], 'tokenHash', 'closedBy', 'raced', 'activity')
if f[1] ~= ARGV[3] then return false end
if f[2] or (ARGV[4] == '0' and f[3] == '1' and tonumber(f[4]) == 0) then return redis.call('HGETALL', KEYS[1]) end
refresh(ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'activity', 1)
return redis.call('HGETALL', KEYS[1])
`),

  /** → the rooms the session was in; every key of the session is gone after it. */
  burrowDelete: def(`
local rooms = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return rooms
`),

  /** ARGV: has ('1' | '0'), json → 1 | 0 (unknown). */
  burrowSetData: def(`
if not alive() then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'data', ARGV[2]) else redis.call('HDEL', KEYS[1], 'data') end
return 1
`),

  /**
   * A group of appends of one session in one step (the appends of one turn of one node: group commit).
   * ARGV: channel, maxMessages, maxBytes, appends (a line per append: token ('' = none) TAB after
   * ('' = none) TAB n), lengths and blob (every append's entries, packed: codec.ts EntryPack) → one
   * result per append, in order: its first seq, or -1 unknown, -2 closed, -3 overflow,
   * -4 behind, -5 ran already; an empty list when the session is unknown. Each append is judged as if
   * it ran alone after the ones before it (buffer caps included), and the whole group publishes one
   * \`append\` wake event. A token ('<node> <n>', n increasing per send of that node) makes a retry
   * idempotent: the node's last token and the seq it got are kept in the record (field \`ap:<node>\`),
   * and the same token again answers that seq without appending (its first try ran, the reply was
   * lost). \`after\`: the node's previous append of the session that may not have run yet (a failed try
   * waiting for its retry): until it has, this one is refused (-4), so a node's appends of a session
   * run in the order it made them. Hence a later token of the node in the record means this one ran
   * too, its reply lost (-5). ARGV[7] (optional, '' = none): the session's client ack of the same turn,
   * applied first as \`burrowAck\` would, its result (1 | 0) one more element after the appends'.
   * ARGV[8] (optional, '' or '0' = never): when every frame the group appended is text and they
   * come to at most this many bytes, the wake event carries them too (\`first\`: the seq of the first,
   * \`texts\`: the log entries, tag included), so the node holding the downstream need not read them;
   * older nodes read the same JSON and ignore the extra fields.
   * A line without a TAB, just a number N, is short for the usual next send of a burst: one frame,
   * token '<node> N' with the node of the line before, after = the line before's token (parsed once,
   * not per send: the Lua per send was most of Redis's time per echo, issue #14).
   */
  burrowAppend: def(`
if redis.call('EXISTS', KEYS[4]) == 0 then return {} end
-- The session's client ack of this turn, if any, first (as when it was its own script before these).
local acked
if ARGV[7] and ARGV[7] ~= '' then acked = ackUpTo(ARGV[7]) end
local r = redis.call('HMGET', KEYS[1], 'outSeq', 'outAck', 'outBytes', 'closedBy')
local outSeq = tonumber(r[1])
local outAck = tonumber(r[2])
local bytes = tonumber(r[3])
local maxN = tonumber(ARGV[2])
local maxB = tonumber(ARGV[3])
-- Tokens this group ran, per node: n and first seq (two tables, not a table per send), written to
-- the record once at the end.
local apN, apSeq = {}, {}
local function last(node)
  local n = apN[node]
  if n then return n, apSeq[node] end
  local prev = redis.call('HGET', KEYS[1], 'ap:' .. node)
  if not prev then return nil, nil end
  local pn, pseq = string.match(prev, '^(%S+) (%S+)$')
  return tonumber(pn), tonumber(pseq)
end
local function ran(t)
  local node, n = string.match(t, '^(%S+) (%d+)$')
  if not node then return true end
  local pn = last(node)
  return pn ~= nil and pn >= tonumber(n)
end
local entries = unpackEntries(ARGV[6], ARGV[5])
local out = {}
local push = {}
local e = 1
-- The token of the line before, parsed: a short line (a number only) continues from it.
local prevNode, prevN
for line in string.gmatch(ARGV[4], '([^\\n]*)\\n') do
  local tokNode, tokN, n, after, afterRan
  if not string.find(line, '\\t', 1, true) then
    if not prevNode then return redis.error_reply('burrowAppend: a short line without a token before it') end
    tokNode, tokN, n = prevNode, tonumber(line), 1
    local pn = last(tokNode)
    afterRan = pn ~= nil and pn >= prevN
  else
    local tok
    tok, after, n = string.match(line, '^([^\\t]*)\\t([^\\t]*)\\t(%d+)$')
    n = tonumber(n)
    tokNode, tokN = string.match(tok, '^(%S+) (%d+)$')
    if tokNode then tokN = tonumber(tokN) end
  end
  prevNode, prevN = tokNode, tokN
  local first = e
  e = e + n
  local res
  if tokNode then
    local pn, pseq = last(tokNode)
    if pn == tokN then res = pseq
    elseif pn ~= nil and pn > tokN then res = -5
    elseif afterRan == false or (afterRan == nil and not ran(after)) then res = -4 end
  end
  if res then
    -- judged by its token
  elseif not outSeq then res = -1
  elseif r[4] then res = -2
  else
    local add = 0
    for k = first, e - 1 do add = add + #entries[k] - 1 end
    if outSeq - outAck + n > maxN or bytes + add > maxB then res = -3
    else
      res = outSeq + 1
      if n > 0 then
        for k = first, e - 1 do push[#push + 1] = entries[k] end
        outSeq = outSeq + n
        bytes = bytes + add
        if tokNode then
          apN[tokNode] = tokN
          apSeq[tokNode] = res
        end
      end
    end
  end
  out[#out + 1] = res
end
if #push > 0 then
  redis.call('RPUSH', KEYS[2], unpack(push))
  followTtl(KEYS[2])
  redis.call('HSET', KEYS[1], 'outSeq', int(outSeq), 'outBytes', int(bytes))
  for node, n in pairs(apN) do redis.call('HSET', KEYS[1], 'ap:' .. node, int(n) .. ' ' .. int(apSeq[node])) end
  local wake = '{"type":"append","lastSeq":' .. int(outSeq)
  local carry = tonumber(ARGV[8] or '') or 0
  if carry > 0 then
    for _, v in ipairs(push) do
      -- Text only: a binary entry's bytes need not be UTF-8, and JSON carries text.
      if string.byte(v, 1) ~= 116 then carry = -1; break end
      carry = carry - #v
      if carry < 0 then break end
    end
    if carry >= 0 then wake = wake .. ',"first":' .. int(outSeq - #push + 1) .. ',"texts":' .. cjson.encode(push) end
  end
  redis.call('PUBLISH', ARGV[1], wake .. '}')
end
if acked then out[#out + 1] = acked end
return out
`),

  /**
   * ARGV: channel, by, code ('' = none), reason ('' = none), entry → nil (unknown) or
   * {first (1 | 0), HGETALL, rooms}. First caller wins; ignores the buffer bounds. \`rooms\`: the
   * session's, for the caller to take it out of each room's set (another slot): a closed session is
   * no member, though its record lingers for the echo. The later callers get them too, so the echo
   * retries what a failed first removal left.
   */
  burrowAppendClose: def(`
if not alive() then return false end
if redis.call('HEXISTS', KEYS[1], 'closedBy') == 1 then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[3])}
end
redis.call('HSET', KEYS[1], 'closedBy', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'closedCode', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'closedReason', ARGV[4]) end
local seq = redis.call('HINCRBY', KEYS[1], 'outSeq', 1)
redis.call('RPUSH', KEYS[2], ARGV[5])
followTtl(KEYS[2])
redis.call('PUBLISH', ARGV[1], '{"type":"append","lastSeq":' .. string.format('%d', seq) .. '}')
return {1, redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[3])}
`),

  /**
   * ARGV: afterSeq, maxFrames, maxBytes → {firstSeq, lengths, blob}: frames after `afterSeq`, at most
   * `maxFrames`, stopping before the one that would pass `maxBytes` (but at least one); or {0} when
   * there is none. Packed as appends are (codec.ts EntryPack: the entries back to back in `blob`, each
   * one's length in `lengths`, space-separated): one bulk reply for the read instead of one per entry,
   * which the node's parser and a Buffer per entry cost (issue #14).
   */
  burrowRead: def(`
local outAck = redis.call('HGET', KEYS[1], 'outAck')
if not outAck then return {0} end
outAck = tonumber(outAck)
local start = tonumber(ARGV[1]) - outAck
if start < 0 then start = 0 end
local len = redis.call('LLEN', KEYS[2])
if start >= len then return {0} end
local stop = start + tonumber(ARGV[2]) - 1
if stop >= len then stop = len - 1 end
local items = redis.call('LRANGE', KEYS[2], int(start), int(stop))
local maxBytes = tonumber(ARGV[3])
local lens = {}
local bytes = 0
for i, e in ipairs(items) do
  local size = sizeOf(e)
  if i > 1 and bytes + size > maxBytes then break end
  bytes = bytes + size
  lens[i] = #e
end
if #lens == 0 then return {0} end
return {outAck + start + 1, table.concat(lens, ' '), table.concat(items, '', 1, #lens)}
`),

  /** ARGV: ack → 1, or 0 when unknown. Clamped to outSeq; subtracts the trimmed bytes. */
  burrowAck: def(`
return ackUpTo(ARGV[1])
`),

  /**
   * ARGV: room → 1, or 0 when unknown, or 2 when closed: kept in the session's rooms (as for an open
   * one) but the caller takes it out of the room's set again, which it added to first — a join that
   * lands after the close (sent before its node heard of it) must not make a closed session a member.
   */
  burrowJoin: def(`
if not alive() then return 0 end
redis.call('SADD', KEYS[3], ARGV[1])
followTtl(KEYS[3])
if redis.call('HEXISTS', KEYS[1], 'closedBy') == 1 then return 2 end
return 1
`),

  /**
   * Claims an expiry: 0 while the session is alive, 1 when it is already gone (claimed or deleted),
   * else {HGETALL, rooms} — to exactly one caller, since the keys are deleted in the same script.
   */
  burrowClaim: def(`
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
local rec = redis.call('HGETALL', KEYS[1])
local rooms = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5])
return {rec, rooms}
`),

  /** KEYS[1] epoch; ARGV: candidate → the epoch in force (set to the candidate when missing). */
  burrowEpoch: {
    numberOfKeys: 1,
    lua: `
local e = redis.call('GET', KEYS[1])
if e then return e end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`,
  },
} satisfies Record<string, ScriptDef>;

/** Every script of the store, by command name. */
export const SCRIPTS = { ...SESSION_SCRIPTS, ...JOURNAL_SCRIPTS } satisfies Record<string, ScriptDef>;

export type ScriptName = keyof typeof SCRIPTS;
