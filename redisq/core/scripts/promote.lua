-- Run a scheduled job (delayed, or waiting for its next retry) now: to the back of its priority level.
-- KEYS: scheduled, seq, wake. ARGV: base, uid.
-- Returns 1 promoted, 0 not scheduled, -1 no such job (or a record that is not a job's).
local scheduled, seq_key, wake, base, uid = KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2]
local job = job_key(base, uid)
if redis.call('TYPE', job).ok ~= 'hash' then return -1 end
local refused = wrong_queue_types(base, 'scheduled', 'seq', 'queued')
if refused then return refused end
if redis.call('ZREM', scheduled, uid) == 0 then return 0 end
requeue(base, uid, job, seq_key, false)
wake_one(wake)
return 1
