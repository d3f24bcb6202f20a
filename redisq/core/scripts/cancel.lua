-- Cancel a job that has not started. KEYS: queued, scheduled, stats. ARGV: base, uid, now_ms.
-- Returns 1 cancelled, 0 not cancellable in its state, -1 no such job (or a record that is not a job's:
-- a worker moves it to the dead letters).
local queued, scheduled, stats, base, uid, now = KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], tonumber(ARGV[3])
local job = job_key(base, uid)
local f = read_record(job, 'state', 'result_ttl')
if not f or not f[1] then return -1 end
if f[1] ~= 'queued' and f[1] ~= 'scheduled' then return 0 end
local refused = wrong_queue_types(base, 'queued', 'scheduled')
if refused then return refused end
redis.call('ZREM', queued, uid)
redis.call('ZREM', scheduled, uid)
finalize(base, uid, job, 'cancelled', now, tonumber(f[2]) or 3600)
add_to(stats, 'cancelled', 1)
return 1
