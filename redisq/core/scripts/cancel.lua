-- Cancel a job that has not started (queued, scheduled, or waiting for its dependencies). KEYS: levels, scheduled, stats. ARGV: base, uid, now_ms.
-- Returns 1 cancelled, 0 not cancellable in its state, -1 no such job (or a record that is not a job's:
-- a worker moves it to the dead letters).
-- (KEYS route the call to the queue's slot; the script derives them from base, as cancel_waiting does.)
local base, uid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local job = job_key(base, uid)
local f = read_record(job, 'state', 'result_ttl', 'priority')
if f then f[1] = record_state(job, f[1]) end
if not f or not f[1] then return -1 end
if f[1] ~= 'queued' and f[1] ~= 'scheduled' and f[1] ~= 'waiting' then return 0 end
local level = f[1] == 'queued' and ready_level(f[3]) or nil -- a queued job is in its level's list
return cancel_waiting(base, uid, job, tonumber(f[2]) or RESULT_TTL, now, level)
