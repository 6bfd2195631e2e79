/**
 * What every session script of scripts.ts and journal-scripts.ts starts with (see scripts.ts for the
 * keys and the rules about numbers).
 */

/** Shared prelude: is the session alive? Touching an expired `ttl` key makes Redis expire it now. */
export const ALIVE = `
local function int(n)
  return string.format('%d', n)
end
local function alive()
  return redis.call('EXISTS', KEYS[4]) == 1 and redis.call('EXISTS', KEYS[1]) == 1
end
-- A fresh resume window: the ttl key lives ttlMs, the session's other keys ttlMs + graceMs.
local function refresh(ttlMs, graceMs)
  local long = int(tonumber(ttlMs) + tonumber(graceMs))
  redis.call('PEXPIRE', KEYS[4], ttlMs)
  redis.call('PEXPIRE', KEYS[1], long)
  redis.call('PEXPIRE', KEYS[2], long)
  redis.call('PEXPIRE', KEYS[3], long)
  redis.call('PEXPIRE', KEYS[5], long)
end
local function followTtl(key)
  if redis.call('PTTL', key) == -1 then
    local t = redis.call('PTTL', KEYS[1])
    if t > 0 then redis.call('PEXPIRE', key, int(t)) end
  end
end
-- The entries codec.ts EntryPack packed into \`blob\`, their lengths in \`lens\` (space-separated).
local function unpackEntries(blob, lens)
  local out = {}
  local pos = 1
  for len in string.gmatch(lens, '%d+') do
    len = tonumber(len)
    out[#out + 1] = string.sub(blob, pos, pos + len - 1)
    pos = pos + len
  end
  return out
end
-- HDEL of many fields in as few calls as Lua's unpack allows: one call per confirmed run of journal
-- entries instead of one per entry (an echo burst confirms a hundred at once).
local function hdelAll(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end
-- Drops \`fields\` of the hash \`key\` that holds \`total\` fields: all of them (the usual confirm of a
-- node's own run) is one DEL, since HDEL searches a small hash's listpack once per field.
local function hdropAll(key, fields, total)
  if #fields > 0 and #fields == total then redis.call('DEL', key) else hdelAll(key, fields) end
end
local function sizeOf(e)
  if string.byte(e, 1) == 99 then return 0 end
  return #e - 1
end
-- The client acknowledged the log up to \`upTo\` (a string): trims it, clamped to outSeq, and subtracts
-- the trimmed bytes. 1, or 0 when the session is unknown.
local function ackUpTo(upTo)
  if not alive() then return 0 end
  local r = redis.call('HMGET', KEYS[1], 'outSeq', 'outAck')
  upTo = tonumber(upTo)
  local outSeq = tonumber(r[1])
  if upTo > outSeq then upTo = outSeq end
  local n = upTo - tonumber(r[2])
  if n > 0 then
    -- outBytes is the sum of sizeOf over the log, so it can be counted from either side of the cut:
    -- the entries that stay when they are fewer (a client acks what it has, usually all or most of
    -- the log: an SSE or polling POST acks every echo of the round before), else those that go.
    local len = redis.call('LLEN', KEYS[2])
    if len - n < n then
      local rest = 0
      if len > n then
        for _, e in ipairs(redis.call('LRANGE', KEYS[2], int(n), -1)) do rest = rest + sizeOf(e) end
      end
      redis.call('LTRIM', KEYS[2], int(n), -1)
      redis.call('HINCRBY', KEYS[1], 'outAck', int(n))
      redis.call('HSET', KEYS[1], 'outBytes', int(rest))
    else
      local bytes = 0
      for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, int(n - 1))) do bytes = bytes + sizeOf(e) end
      redis.call('LTRIM', KEYS[2], int(n), -1)
      redis.call('HINCRBY', KEYS[1], 'outAck', int(n))
      -- Not for 0 bytes (close frames, empty texts): -bytes would be a negative zero.
      if bytes > 0 then redis.call('HINCRBY', KEYS[1], 'outBytes', int(-bytes)) end
    end
  end
  return 1
end
-- Has the append with token \`t\` ('<node> <n>') run? The record keeps each node's last token (field
-- ap:<node>), and one node's appends of a session run in token order (burrowAppend's \`after\`), so a
-- number at least \`n\` there means it ran. '' (none) counts as run.
local function appended(t)
  local node, n = string.match(t or '', '^(%S+) (%d+)$')
  if not node then return true end
  local prev = redis.call('HGET', KEYS[1], 'ap:' .. node)
  -- A missing field is false, not nil: \`prev and ...\` would compare false with a number.
  local pn
  if prev then pn = tonumber(string.match(prev, '^(%S+) ')) end
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
  local drop = {}
  for i = 1, #j, 2 do
    local v = j[i + 1]
    local sp = string.find(v, ' ', 1, true)
    local s = tonumber(j[i])
    if not sp or not s then
      drop[#drop + 1] = j[i]
    else
      local o = string.sub(v, 1, sp - 1)
      if o == owner and confirm and s <= confirm then
        if not held then drop[#drop + 1] = j[i] end
      else
        out[#out + 1] = s
        out[#out + 1] = o
        out[#out + 1] = string.sub(v, sp + 1)
      end
    end
  end
  hdropAll(KEYS[5], drop, #j / 2)
  return out, held
end
`;

export interface ScriptDef {
  readonly lua: string;
  readonly numberOfKeys: number;
}

/** A session script: the prelude, then `body`; the five session keys. */
export function def(body: string): ScriptDef {
  return { lua: ALIVE + body, numberOfKeys: 5 };
}

