-- Delete up to `limit` jobs listed in one index (dead, succeeded, queued, scheduled, or the jobs a limit
-- parked) with their records.
-- KEYS: index. ARGV: base, limit. Returns how many were deleted; the caller repeats until 0.
local index, base, limit = KEYS[1], ARGV[1], tonumber(ARGV[2])
local refused = wrong_types({ index, 'zset' })
if refused then return refused end
local uids = redis.call('ZRANGE', index, 0, limit - 1)
for _, uid in ipairs(uids) do
  local job = job_key(base, uid)
  local f = read_record(job, 'unique_key')
  if f and f[1] then
    local unique = base .. 'unique:' .. f[1]
    if redis.pcall('GET', unique) == uid then redis.call('DEL', unique) end
  end
  redis.call('DEL', job, base .. 'corrupt:' .. uid)
  redis.call('ZREM', index, uid)
end
return #uids
