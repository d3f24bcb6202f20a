-- Delete one job that is not running: its record, its place in every index, the unique key it holds.
-- KEYS: queued, scheduled, succeeded, dead. ARGV: base, uid.
-- Returns 1 deleted, 0 running (a worker holds its lease: cancel or let it finish), -1 no such job.
local base, uid = ARGV[1], ARGV[2]
local job = job_key(base, uid)
local f = redis.call('HMGET', job, 'state', 'unique_key')
if not f[1] then return -1 end
if f[1] == 'active' then return 0 end
for i = 1, 4 do redis.call('ZREM', KEYS[i], uid) end
if f[2] then
  local unique = base .. 'unique:' .. f[2]
  if redis.call('GET', unique) == uid then redis.call('DEL', unique) end
end
redis.call('DEL', job)
return 1
