-- Mark a job as awaited (so that finishing it publishes) and return its state, result and error.
-- Atomic with the scripts that finish jobs: either they see the mark, or this sees the final state.
-- KEYS: job. Returns false if there is no such job.
local job = KEYS[1]
if redis.call('EXISTS', job) == 0 then return false end
redis.call('HSET', job, 'watched', 1)
return redis.call('HMGET', job, 'state', 'result', 'error')
