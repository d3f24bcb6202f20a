-- Put dead jobs back on their queue with a fresh set of attempts; the attempt that killed each joins its
-- history (attempts.lua).
-- KEYS: dead, levels, stats, wake
-- ARGV: base, limit, offset, then uids (none: `limit` dead jobs from rank `offset`, oldest first)
-- Returns {requeued, kept}: a dead letter whose record cannot run (buried as corrupt without a payload,
-- or not a hash) is kept dead, and the caller pages past it.
local dead, stats, wake = KEYS[1], KEYS[3], KEYS[4]
local base, limit, offset = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local refused = wrong_queue_types(base, 'dead')
if refused then return refused end
local uids = {}
for i = 4, #ARGV do uids[#uids + 1] = ARGV[i] end
if #uids == 0 then uids = redis.call('ZRANGE', dead, offset, offset + limit - 1) end
-- Every record is read, and the levels they go back to checked, before the first write.
local reads, levels = {}, {}
for i, uid in ipairs(uids) do
  local job = job_key(base, uid)
  local f = read_record(job, 'payload', 'max_attempts', 'unique_key', 'priority', 'pn', 'attempts', 'worker',
    'started_at', 'finished_at', 'error', 'history')
  -- runnable: a payload, whole or in pieces (joined_payload), and a number of attempts
  local runnable = f and joined_payload(job, f[1], f[5]) and tonumber(f[2] or MAX_ATTEMPTS) and true or false
  reads[i] = { f = f, runnable = runnable }
  if runnable then
    levels[ready_level(f[4])] = true
    reads[i].history = with_dead_attempt(f[6], f[7], f[8], f[9], f[10], f[11]) -- its last attempt kept
  end
end
if next(levels) then
  refused = wrong_types(ready_checks({}, base, levels))
  if refused then return refused end
end
local n, kept = 0, 0
for i, uid in ipairs(uids) do
  local job = job_key(base, uid)
  local f, runnable = reads[i].f, reads[i].runnable
  if runnable then
    if redis.call('ZREM', dead, uid) == 1 then
      revive_dead(base, uid, job, f[3], ready_level(f[4]), reads[i].history)
      n = n + 1
    end
  elseif f and not f[1] and not f[2] and not f[5] and redis.call('EXISTS', job) == 0 then
    redis.call('ZREM', dead, uid) -- its record expired or was deleted: nothing to requeue
  elseif redis.call('ZSCORE', dead, uid) then
    kept = kept + 1
  end
end
if n > 0 then
  add_to(stats, 'requeued', n)
  wake_one(wake)
end
return { n, kept }
