-- Delete up to `limit` jobs listed in one index (dead, succeeded, scheduled, the legacy `queued`, the
-- jobs a limit parked: zsets; or one level's ready list, `ready:<level>`) with their records.
-- KEYS: index. ARGV: base, limit. Returns how many were deleted; the caller repeats until 0.
-- A ready list that empties takes its level out of `levels` (kept exact). A job deleted before it ended
-- tells the jobs waiting for it (issue 16) that it ended `deleted`, as delete.lua does.
local index, base, limit = KEYS[1], ARGV[1], tonumber(ARGV[2])
local kind = redis.call('TYPE', index).ok
local is_list = kind == 'list'
local refused = wrong_types({ index, is_list and 'list' or 'zset' })
  or (is_list and wrong_types({ base .. 'levels', 'zset' }))
if refused then return refused end
local uids = redis.call(is_list and 'LRANGE' or 'ZRANGE', index, 0, limit - 1)
for _, uid in ipairs(uids) do
  local job = job_key(base, uid)
  local f = read_record(job, 'unique_key', 'parents', 'state')
  if f and f[1] then
    local unique = base .. 'unique:' .. f[1]
    if redis.pcall('GET', unique) == uid then redis.call('DEL', unique) end
  end
  local state = f and f[2] and record_state(job, f[3])
  if state == 'queued' or state == 'scheduled' or state == 'waiting' then
    for parent in string.gmatch(f[2], '%S+') do
      redis.pcall('RPUSH', base .. 'outbox', parent .. ' ' .. uid .. ' deleted')
    end
  end
  redis.call('DEL', job, base .. 'corrupt:' .. uid, base .. 'deps:' .. uid)
  if not is_list then redis.call('ZREM', index, uid) end
end
if is_list then
  redis.call('LTRIM', index, #uids, -1)
  if redis.call('LLEN', index) == 0 then
    redis.call('ZREM', base .. 'levels', string.sub(index, #base + #'ready:' + 1))
  end
end
return #uids
