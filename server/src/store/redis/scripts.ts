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

/** Shared prelude: is the session alive? Touching an expired `ttl` key makes Redis expire it now. */
const ALIVE = `
local function int(n)
  return string.format('%d', n)
end
local function alive()
  return redis.call('EXISTS', KEYS[4]) == 1 and redis.call('EXISTS', KEYS[1]) == 1
end
local function followTtl(key)
  if redis.call('PTTL', key) == -1 then
    local t = redis.call('PTTL', KEYS[1])
    if t > 0 then redis.call('PEXPIRE', key, int(t)) end
  end
end
local function sizeOf(e)
  if string.byte(e, 1) == 99 then return 0 end
  return #e - 1
end
-- Has the append with token \`t\` ('<node> <n>') run? The record keeps each node's last token (field
-- ap:<node>), and one node's appends of a session run in token order (burrowAppend's \`after\`), so a
-- number at least \`n\` there means it ran. '' (none) counts as run.
local function appended(t)
  local node, n = string.match(t or '', '^(%S+) (%S+)$')
  if not node then return true end
  local prev = redis.call('HGET', KEYS[1], 'ap:' .. node)
  local pn = prev and tonumber(string.match(prev, '^(%S+) '))
  return pn ~= nil and pn >= tonumber(n)
end
-- The inbound journal. Drops the entries of \`owner\` up to \`confirm\` (a number or nil) and returns every
-- other entry as {seq, owner, entry, ...}: the caller's own (a reply it never got) and other nodes'.
-- \`after\` (a token, '' = none): the owner's latest append of the session that may not have run yet,
-- made while it handled those entries (an echo). Until it has run, the confirm is \`held\` (second
-- result): the entries stay, and the next seq waits on another node, so that node's appends cannot
-- take seqs before it (issue #14: an append held through a failover, overtaken by the next node's).
-- A held confirm's entries are not returned: they are the owner's, emitted, not a lost reply.
local function journalScan(owner, confirm, after)
  local j = redis.call('HGETALL', KEYS[5])
  local out = {}
  local held = confirm ~= nil and not appended(after)
  for i = 1, #j, 2 do
    local v = j[i + 1]
    local sp = string.find(v, ' ', 1, true)
    local s = tonumber(j[i])
    if not sp or not s then
      redis.call('HDEL', KEYS[5], j[i])
    else
      local o = string.sub(v, 1, sp - 1)
      if o == owner and confirm and s <= confirm then
        if not held then redis.call('HDEL', KEYS[5], j[i]) end
      else
        out[#out + 1] = s
        out[#out + 1] = o
        out[#out + 1] = string.sub(v, sp + 1)
      end
    end
  end
  return out, held
end
`;

export interface ScriptDef {
  readonly lua: string;
  readonly numberOfKeys: number;
}

function def(body: string): ScriptDef {
  return { lua: ALIVE + body, numberOfKeys: 5 };
}

export const SCRIPTS = {
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
local long = int(tonumber(ARGV[1]) + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[1], long)
redis.call('PEXPIRE', KEYS[2], long)
redis.call('PEXPIRE', KEYS[3], long)
redis.call('PEXPIRE', KEYS[5], long)
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'activity', 1) end
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
   * ARGV: channel, maxMessages, maxBytes, token ('' = none), after ('' = none), entry... → first seq
   * assigned, or -1 unknown, -2 closed, -3 overflow, -4 behind, -5 ran already. Publishes the
   * \`append\` wake event in the same script. A token ('<node> <n>', n increasing per send of that node)
   * makes a retry idempotent: the node's last token and the seq it got are kept in the record (field
   * \`ap:<node>\`), and the same token again answers that seq without appending (its first try ran, the
   * reply was lost). \`after\`: the node's previous append of the session that may not have run yet (a
   * failed try waiting for its retry): until it has, this one is refused (-4), so a node's appends of
   * a session run in the order it made them. Hence a later token of the node in the record means this
   * one ran too, its reply lost (-5).
   */
  burrowAppend: def(`
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
local tokNode, tokN = string.match(ARGV[4], '^(%S+) (%S+)$')
if tokNode then
  local prev = redis.call('HGET', KEYS[1], 'ap:' .. tokNode)
  if prev then
    local pn, pseq = string.match(prev, '^(%S+) (%S+)$')
    if pn == tokN then return tonumber(pseq) end
    if tonumber(pn) > tonumber(tokN) then return -5 end
  end
  if not appended(ARGV[5]) then return -4 end
end
local r = redis.call('HMGET', KEYS[1], 'outSeq', 'outAck', 'outBytes', 'closedBy')
if not r[1] then return -1 end
if r[4] then return -2 end
local outSeq = tonumber(r[1])
local bytes = tonumber(r[3])
local n = #ARGV - 5
local add = 0
for i = 6, #ARGV do add = add + #ARGV[i] - 1 end
if outSeq - tonumber(r[2]) + n > tonumber(ARGV[2]) or bytes + add > tonumber(ARGV[3]) then return -3 end
if n == 0 then return outSeq + 1 end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
followTtl(KEYS[2])
local last = redis.call('HINCRBY', KEYS[1], 'outSeq', int(n))
redis.call('HINCRBY', KEYS[1], 'outBytes', int(add))
if tokNode then redis.call('HSET', KEYS[1], 'ap:' .. tokNode, tokN .. ' ' .. string.format('%d', last - n + 1)) end
redis.call('PUBLISH', ARGV[1], '{"type":"append","lastSeq":' .. string.format('%d', last) .. '}')
return last - n + 1
`),

  /**
   * ARGV: channel, by, code ('' = none), reason ('' = none), entry → nil (unknown) or
   * {first (1 | 0), HGETALL}. First caller wins; ignores the buffer bounds.
   */
  burrowAppendClose: def(`
if not alive() then return false end
if redis.call('HEXISTS', KEYS[1], 'closedBy') == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
redis.call('HSET', KEYS[1], 'closedBy', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'closedCode', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'closedReason', ARGV[4]) end
local seq = redis.call('HINCRBY', KEYS[1], 'outSeq', 1)
redis.call('RPUSH', KEYS[2], ARGV[5])
followTtl(KEYS[2])
redis.call('PUBLISH', ARGV[1], '{"type":"append","lastSeq":' .. string.format('%d', seq) .. '}')
return {1, redis.call('HGETALL', KEYS[1])}
`),

  /**
   * ARGV: afterSeq, maxFrames, maxBytes → {firstSeq, entry...}: frames after `afterSeq`, at most
   * `maxFrames`, stopping before the one that would pass `maxBytes` (but at least one).
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
local out = {outAck + start + 1}
local bytes = 0
for i, e in ipairs(items) do
  local size = sizeOf(e)
  if i > 1 and bytes + size > maxBytes then break end
  bytes = bytes + size
  out[#out + 1] = e
end
return out
`),

  /** ARGV: ack → 1, or 0 when unknown. Clamped to outSeq; subtracts the trimmed bytes. */
  burrowAck: def(`
if not alive() then return 0 end
local r = redis.call('HMGET', KEYS[1], 'outSeq', 'outAck')
local upTo = tonumber(ARGV[1])
local outSeq = tonumber(r[1])
if upTo > outSeq then upTo = outSeq end
local n = upTo - tonumber(r[2])
if n > 0 then
  local bytes = 0
  for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, int(n - 1))) do bytes = bytes + sizeOf(e) end
  redis.call('LTRIM', KEYS[2], int(n), -1)
  redis.call('HINCRBY', KEYS[1], 'outAck', int(n))
  -- Not for 0 bytes (close frames, empty texts): -bytes would be a negative zero.
  if bytes > 0 then redis.call('HINCRBY', KEYS[1], 'outBytes', int(-bytes)) end
end
return 1
`),

  /**
   * ARGV: seq, owner (this node's id), confirm ('' = none: the piggybacked "owner emitted its entries up
   * to here"), entry ('' = journal nothing: a close frame), force ('1' = accept even behind another
   * node's unconfirmed entry), after (the confirm's condition, see journalScan; '' = none) → {status
   * (0 unknown, 1 new, 2 dup, 3 gap, 4 wait), inAck, confirm held (1 | 0), journal entries as
   * journalScan returns them (before this one was added)...}. A new data frame goes into the
   * journal, owned by \`owner\`, in the same step that makes it the ack. While another node holds an
   * unconfirmed entry (accepted, maybe not yet emitted), the next seq waits (4): accepting it now could
   * let this node emit it before that node emits the earlier one.
   */
  burrowAccept: def(`
if not alive() then return {0, 0, 0} end
local out, held = journalScan(ARGV[2], tonumber(ARGV[3]), ARGV[6])
local inAck = tonumber(redis.call('HGET', KEYS[1], 'inAck'))
local seq = tonumber(ARGV[1])
local status = 3
local foreign = false
for i = 2, #out, 3 do
  if out[i] ~= ARGV[2] then foreign = true end
end
if seq == inAck + 1 and foreign and ARGV[5] ~= '1' then
  status = 4
elseif seq == inAck + 1 then
  redis.call('HINCRBY', KEYS[1], 'inAck', 1)
  inAck = seq
  status = 1
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[5], ARGV[1], ARGV[2] .. ' ' .. ARGV[4])
    followTtl(KEYS[5])
  end
elseif seq <= inAck then
  status = 2
end
table.insert(out, 1, held and 1 or 0)
table.insert(out, 1, inAck)
table.insert(out, 1, status)
return out
`),

  /**
   * ARGV: owner, confirm ('' = none), after (see journalScan) → nil (unknown) or {confirm held (1 | 0),
   * the journal entries as journalScan returns them...}.
   */
  burrowJournal: def(`
if not alive() then return false end
local out, held = journalScan(ARGV[1], tonumber(ARGV[2]), ARGV[3])
table.insert(out, 1, held and 1 or 0)
return out
`),

  /**
   * ARGV: owner, upTo, after (see journalScan) → 1, or 0 when held. Drops the owner's journal entries up
   * to \`upTo\` (it emitted them).
   */
  burrowJournalConfirm: def(`
if not appended(ARGV[3]) then return 0 end
local head = ARGV[1] .. ' '
local upTo = tonumber(ARGV[2])
local j = redis.call('HGETALL', KEYS[5])
for i = 1, #j, 2 do
  if string.sub(j[i + 1], 1, #head) == head and tonumber(j[i]) <= upTo then redis.call('HDEL', KEYS[5], j[i]) end
end
return 1
`),

  /**
   * ARGV: owner, releasedOwner, seq... → how many were released. Entries of \`owner\` whose accept it
   * never heard the answer of (the connection dropped after Redis ran it) pass to \`releasedOwner\`, an
   * id no node beats for: to every node the entry is a dead node's, taken over once (burrowJournalClaim).
   */
  burrowJournalRelease: def(`
local head = ARGV[1] .. ' '
local n = 0
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[5], ARGV[i])
  if v and string.sub(v, 1, #head) == head then
    redis.call('HSET', KEYS[5], ARGV[i], ARGV[2] .. ' ' .. string.sub(v, #head + 1))
    n = n + 1
  end
end
return n
`),

  /**
   * ARGV: newOwner, (deadOwner, seq)... → the seqs taken over: each entry still owned by its dead owner
   * passes to \`newOwner\`, atomically, so exactly one node takes over (and then emits and confirms) it.
   */
  burrowJournalClaim: def(`
if not alive() then return {} end
local out = {}
for i = 2, #ARGV - 1, 2 do
  local v = redis.call('HGET', KEYS[5], ARGV[i + 1])
  local head = ARGV[i] .. ' '
  if v and string.sub(v, 1, #head) == head then
    redis.call('HSET', KEYS[5], ARGV[i + 1], ARGV[1] .. ' ' .. string.sub(v, #head + 1))
    out[#out + 1] = tonumber(ARGV[i + 1])
  end
end
return out
`),

  /** ARGV: room → 1, or 0 when unknown. */
  burrowJoin: def(`
if not alive() then return 0 end
redis.call('SADD', KEYS[3], ARGV[1])
followTtl(KEYS[3])
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

export type ScriptName = keyof typeof SCRIPTS;
