-- Upsert, pause, resume or delete one schedule, atomically (issue 12). Times are computed in Python
-- (cron and time zones); an upsert or a resume is a compare-and-set on what Python read, so a tick
-- claimed or a schedule redefined meanwhile makes it read again instead of moving a next run back.
-- KEYS: schedules (its name is <base>schedules)
-- ARGV: mode, id, then
--   put:    expected version ('': none stored), expected next ('': none), new next ('': none), then the
--           definition's field/value pairs (its state: paused, last run and job, creation, is kept)
--   pause:  nothing
--   resume: expected version, new next ('': none)
--   delete: nothing
-- A schedule is in `schedules` scored by its next run, or +inf while paused or ended (listed, never due).
-- Returns -1: no such schedule; 0: it changed meanwhile (read again); 1: done.
local schedules = KEYS[1]
local base = string.sub(schedules, 1, -10)
local mode, id = ARGV[1], ARGV[2]
local key = base .. 'schedule:' .. id

local f, kind = read_record(key, 'version', 'next', 'paused', 'last_tick', 'last_job', 'last_at',
  'created_at')
if not f and mode ~= 'delete' then
  return redis.error_reply('REDISQ_CORRUPT key ' .. key .. ' is a ' .. kind .. ', not a hash: redisq '
    .. 'cannot use this schedule until it is deleted')
end
local refused = wrong_types({ schedules, 'zset' })
if refused then return refused end

if mode == 'delete' then
  local found = redis.call('DEL', key) + redis.call('ZREM', schedules, id)
  if found == 0 then return -1 end
  return 1
end
if mode == 'put' then
  if (f[1] or '') ~= ARGV[3] or (f[2] or '') ~= ARGV[4] then return 0 end
  local fields = {}
  for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
  local kept = { 'paused', 'last_tick', 'last_job', 'last_at', 'created_at' }
  for i, name in ipairs(kept) do
    if f[i + 2] then
      fields[#fields + 1] = name
      fields[#fields + 1] = f[i + 2]
    end
  end
  if ARGV[5] ~= '' then
    fields[#fields + 1] = 'next'
    fields[#fields + 1] = ARGV[5]
  end
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(fields))
  if f[3] or ARGV[5] == '' then
    redis.call('ZADD', schedules, '+inf', id)
  else
    redis.call('ZADD', schedules, ARGV[5], id)
  end
  return 1
end
if not f[1] then return -1 end
if mode == 'pause' then
  redis.call('HSET', key, 'paused', '1')
  redis.call('ZADD', schedules, '+inf', id)
  return 1
end
-- resume
if f[1] ~= ARGV[3] then return 0 end
redis.call('HDEL', key, 'paused')
if ARGV[4] == '' then
  redis.call('HDEL', key, 'next')
  redis.call('ZADD', schedules, '+inf', id)
else
  redis.call('HSET', key, 'next', ARGV[4])
  redis.call('ZADD', schedules, ARGV[4], id)
end
return 1
