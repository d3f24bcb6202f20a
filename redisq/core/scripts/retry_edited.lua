-- Edit and retry (issue 17): a dead job back on its queue with new arguments. It keeps its id, its record
-- and its history (the attempt that killed it joins the history, as requeue_dead's do): the payload is
-- replaced in place, then the job is requeued as requeue_dead does. The caller built the new payload from
-- the record it read and checked the arguments against the task's signature; this compares the payload
-- with the one it read, so an edit made meanwhile is never overwritten unseen.
-- KEYS: dead, levels, stats, wake
-- ARGV: base, uid, the SHA-1 (hex) of the payload the caller read, the new payload, its signature ('':
--       none), its `limits` field ('': none; new arguments may fall under other per-key limits)
-- Returns 1 requeued, 0 the job is not dead, -1 no such job (or its record is not a hash), -2 its payload
-- changed since the caller read it. Nothing is written unless it returns 1.
local dead, stats, wake = KEYS[1], KEYS[3], KEYS[4]
local base, uid, read_sha1, payload, sig, limits = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local job = job_key(base, uid)

local f = read_record(job, 'state', 'payload', 'pn', 'priority', 'unique_key', 'attempts', 'worker',
  'started_at', 'finished_at', 'error', 'history')
if not f then return -1 end
local state = record_state(job, f[1])
if not state then return -1 end
if state ~= 'dead' or not checked('ZSCORE', dead, uid) then return 0 end
if redis.sha1hex(joined_payload(job, f[2], f[3]) or '') ~= read_sha1 then return -2 end
local level = ready_level(f[4])
local refused = wrong_types(ready_checks({}, base, { [level] = true }))
if refused then return refused end
local history = with_dead_attempt(f[6], f[7], f[8], f[9], f[10], f[11])

-- Written whole: a dead record holds its error JSON, so it is a hash table already, where pieces would
-- only add entries (common.lua).
local stale = { 'pn' }
local pieces = tonumber(f[3])
if pieces and pieces >= 1 and pieces <= MAX_PIECES then
  for _, name in ipairs(piece_names(pieces)) do stale[#stale + 1] = name end
end
redis.call('HDEL', job, unpack(stale))
redis.call('HSET', job, 'payload', payload)
if sig ~= '' then redis.call('HSET', job, 'sig', sig) else redis.call('HDEL', job, 'sig') end
if limits ~= '' then redis.call('HSET', job, 'limits', limits) else redis.call('HDEL', job, 'limits') end
redis.call('ZREM', dead, uid)
revive_dead(base, uid, job, f[5], level, history)
add_to(stats, 'requeued', 1)
wake_one(wake)
return 1
