-- Run a scheduled job (delayed, or waiting for its next retry) now: to the back of its priority level.
-- KEYS: scheduled, levels, wake. ARGV: base, uid.
-- Returns 1 promoted, 0 not scheduled, -1 no such job (or a record that is not a job's).
local scheduled, wake, base, uid = KEYS[1], KEYS[3], ARGV[1], ARGV[2]
local job = job_key(base, uid)
if redis.call('TYPE', job).ok ~= 'hash' then return -1 end
local level = ready_level(redis.call('HGET', job, 'priority'))
local refused = wrong_types(ready_checks({ scheduled, 'zset' }, base, { [level] = true }))
if refused then return refused end
if redis.call('ZREM', scheduled, uid) == 0 then return 0 end
requeue(base, uid, job, level, false)
wake_one(wake)
return 1
