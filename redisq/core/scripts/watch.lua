-- Mark a job as awaited (so that finishing it publishes) and return its state, result and error.
-- Atomic with the scripts that finish jobs: either they see the mark, or this sees the final state.
-- KEYS: job. Returns false if there is no such job (or the record is not a job's).
local job = KEYS[1]
local f = read_record(job, 'state', 'result', 'error')
if f then f[1] = record_state(job, f[1]) end
if not f or not f[1] then return false end
redis.call('HSET', job, 'watched', 1)
return f
