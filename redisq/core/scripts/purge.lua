-- Delete up to `limit` jobs listed in one index (dead, succeeded, queued or scheduled) with their records.
-- KEYS: index. ARGV: base, limit. Returns how many were deleted; the caller repeats until 0.
local index, base, limit = KEYS[1], ARGV[1], tonumber(ARGV[2])
local uids = redis.call('ZRANGE', index, 0, limit - 1)
for _, uid in ipairs(uids) do
  local job = job_key(base, uid)
  local unique_key = redis.call('HGET', job, 'unique_key')
  if unique_key then redis.call('DEL', base .. 'unique:' .. unique_key) end
  redis.call('DEL', job)
  redis.call('ZREM', index, uid)
end
return #uids
