-- Put dead jobs back on their queue with a fresh set of attempts.
-- KEYS: dead, seq, stats, wake
-- ARGV: base, limit, then uids (none: the oldest `limit` dead jobs)
-- Returns how many were requeued.
local dead, seq_key, stats, wake, base, limit = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], tonumber(ARGV[2])
local uids = {}
for i = 3, #ARGV do uids[#uids + 1] = ARGV[i] end
if #uids == 0 then uids = redis.call('ZRANGE', dead, 0, limit - 1) end
local n = 0
for _, uid in ipairs(uids) do
  local job = job_key(base, uid)
  if redis.call('ZREM', dead, uid) == 1 and redis.call('EXISTS', job) == 1 then
    redis.call('PERSIST', job)
    local unique_key = redis.call('HGET', job, 'unique_key')
    if unique_key then redis.call('PERSIST', base .. 'unique:' .. unique_key) end
    redis.call('HSET', job, 'attempts', 0)
    redis.call('HDEL', job, 'finished_at')
    requeue(base, uid, job, seq_key, false)
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', stats, 'requeued', n)
  wake_one(wake)
end
return n
