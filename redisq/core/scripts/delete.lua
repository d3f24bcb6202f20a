-- Delete one job that is not running: its record, its place in every index, the unique key it holds.
-- A job that had not ended tells the jobs that wait for it (issue 16) that it ended `deleted`, as if it
-- failed: they apply their policy rather than wait forever.
-- KEYS: levels, scheduled, succeeded, dead. ARGV: base, uid.
-- Returns 1 deleted, 0 running (a worker holds its lease: cancel or let it finish), -1 no such job (or a
-- record that is not a job's).
local base, uid = ARGV[1], ARGV[2]
local job = job_key(base, uid)
local f = read_record(job, 'state', 'unique_key', 'priority', 'parents')
if f then f[1] = record_state(job, f[1]) end
if not f or not f[1] then return -1 end
if f[1] == 'active' then return 0 end
local unique, holder = nil, nil
if f[2] then
  unique = base .. 'unique:' .. f[2]
  holder = redis.pcall('GET', unique) -- another type: not ours to delete
end
local level = f[1] == 'queued' and ready_level(f[3]) or nil -- only a queued job is in a ready list
local refused = wrong_queue_types(base, 'queued', 'scheduled', 'succeeded', 'dead', 'waiting')
  or (level and wrong_types(ready_checks({}, base, { [level] = true })))
if refused then return refused end
if level then ready_remove(base, uid, level) end
for i = 2, 4 do redis.call('ZREM', KEYS[i], uid) end
redis.call('ZREM', base .. 'waiting', uid)
if holder == uid then redis.call('DEL', unique) end
if f[4] and (f[1] == 'queued' or f[1] == 'scheduled' or f[1] == 'waiting') then
  for parent in string.gmatch(f[4], '%S+') do
    redis.pcall('RPUSH', base .. 'outbox', parent .. ' ' .. uid .. ' deleted')
  end
end
redis.call('DEL', job, base .. 'corrupt:' .. uid, base .. 'deps:' .. uid)
return 1
