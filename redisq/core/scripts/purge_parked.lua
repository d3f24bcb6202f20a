-- Delete up to `limit` of the queued jobs that their limits set aside (limits.lua), with their records:
-- purging a queue's queued jobs purges these too.
-- KEYS: limited. ARGV: base, limit. Returns {deleted, 1 if some may be left}; the caller repeats.
local limited, base, limit = KEYS[1], ARGV[1], tonumber(ARGV[2])
local specs = checked('ZRANGE', limited, 0, 0)
if #specs == 0 then return { 0, 0 } end
local lim = limit_parse(specs[1])
if not lim then
  redis.call('ZREM', limited, specs[1])
  return { 0, 1 }
end
local parked = parked_key(base, lim)
local uids = checked('ZRANGE', parked, 0, limit - 1)
for _, uid in ipairs(uids) do
  local job = job_key(base, uid)
  local f = read_record(job, 'unique_key')
  if f and f[1] then
    local unique = base .. 'unique:' .. f[1]
    if redis.pcall('GET', unique) == uid then redis.call('DEL', unique) end
  end
  redis.call('DEL', job)
  redis.call('ZREM', parked, uid)
end
if redis.call('ZCARD', parked) == 0 then redis.call('ZREM', limited, specs[1]) end
return { #uids, 1 }
