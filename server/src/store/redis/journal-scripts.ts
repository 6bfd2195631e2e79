/**
 * The inbound journal's Lua scripts (see journal.ts and scripts.ts, whose prelude and five session keys
 * they share; KEYS[5] is the journal hash: seq -> owner node id .. ' ' .. entry).
 */
import { def, type ScriptDef } from './prelude.js';

export const JOURNAL_SCRIPTS = {
  /**
   * \`burrowAccept\` for a run of data frames of one session in one step (group commit). ARGV: owner,
   * confirm, after (as burrowAccept's), seqs (space-separated), lengths and blob (the frames' journal
   * values, owner .. ' ' .. entry, packed: codec.ts EntryPack with the owner prefix, so the script
   * builds no string per frame) → {1 (0: unknown, and nothing
   * else), inAck after, confirm held (1 | 0), k, k statuses (as burrowAccept's), journal entries as
   * journalScan returns them (before these were added)...}. The frames are judged in order, each as
   * burrowAccept would judge it alone after the ones before it; the run stops after the first one that
   * is neither new nor a duplicate (k counts those judged).
   */
  burrowAcceptBatch: def(`
if not alive() then return {0, 0, 0, 0} end
local out, held = journalScan(ARGV[1], tonumber(ARGV[2]), ARGV[3])
local inAck = tonumber(redis.call('HGET', KEYS[1], 'inAck'))
local foreign = false
for i = 2, #out, 3 do
  if out[i] ~= ARGV[1] then foreign = true end
end
local statuses = {}
local entries = {}
local frames = unpackEntries(ARGV[6], ARGV[5])
local k = 0
for s in string.gmatch(ARGV[4], '%d+') do
  k = k + 1
  local seq = tonumber(s)
  local status = 3
  if seq == inAck + 1 and foreign then
    status = 4
  elseif seq == inAck + 1 then
    inAck = seq
    status = 1
    entries[#entries + 1] = s
    entries[#entries + 1] = frames[k]
  elseif seq <= inAck then
    status = 2
  end
  statuses[#statuses + 1] = status
  if status > 2 then break end
end
if #entries > 0 then
  redis.call('HSET', KEYS[1], 'inAck', int(inAck))
  if #entries >= 64 then
    -- A run of 32 frames or more goes into a hash table, not a listpack: one value longer than
    -- hash-max-listpack-value (64 by default) in the HSET makes Redis convert the hash before it
    -- inserts, where a listpack searches itself for every field it adds (quadratic in the run).
    -- The pad goes again at once: no script ever sees it.
    entries[#entries + 1] = 'pad'
    entries[#entries + 1] = string.rep(' ', 65)
    redis.call('HSET', KEYS[5], unpack(entries))
    redis.call('HDEL', KEYS[5], 'pad')
  else
    redis.call('HSET', KEYS[5], unpack(entries))
  end
  followTtl(KEYS[5])
end
local head = {1, inAck, held and 1 or 0, #statuses}
for _, st in ipairs(statuses) do head[#head + 1] = st end
for _, v in ipairs(out) do head[#head + 1] = v end
return head
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
   * to \`upTo\` (it emitted them), and a field that is no seq, as journalScan does: compared as one, it
   * would be a script error on every retry of the confirm.
   */
  burrowJournalConfirm: def(`
if not appended(ARGV[3]) then return 0 end
local head = ARGV[1] .. ' '
local upTo = tonumber(ARGV[2])
local j = redis.call('HGETALL', KEYS[5])
local drop = {}
for i = 1, #j, 2 do
  local s = tonumber(j[i])
  if not s or (s <= upTo and string.sub(j[i + 1], 1, #head) == head) then drop[#drop + 1] = j[i] end
end
hdropAll(KEYS[5], drop, #j / 2)
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

} satisfies Record<string, ScriptDef>;
