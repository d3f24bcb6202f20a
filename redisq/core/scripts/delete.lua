-- Delete one job that is not running: its record, its place in every index, the unique key it holds.
-- KEYS: levels, scheduled, succeeded, dead. ARGV: base, uid.
-- Returns 1 deleted, 0 running (a worker holds its lease: cancel or let it finish), -1 no such job (or a
-- record that is not a job's).
local base, uid = ARGV[1], ARGV[2]
local job = job_key(base, uid)
local f = read_record(job, 'state', 'unique_key', 'priority')
if f then f[1] = record_state(job, f[1]) end
if not f or not f[1] then return -1 end
if f[1] == 'active' then return 0 end
local unique, holder = nil, nil
if f[2] then
  unique = base .. 'unique:' .. f[2]
  holder = redis.pcall('GET', unique) -- another type: not ours to delete
end
local level = f[1] == 'queued' and ready_level(f[3]) or nil -- only a queued job is in a ready list
local refused = wrong_queue_types(base, 'queued', 'scheduled', 'succeeded', 'dead')
  or (level and wrong_types(ready_checks({}, base, { [level] = true })))
if refused then return refused end
if level then ready_remove(base, uid, level) end
for i = 2, 4 do redis.call('ZREM', KEYS[i], uid) end
if holder == uid then redis.call('DEL', unique) end
redis.call('DEL', job, base .. 'corrupt:' .. uid)
return 1
