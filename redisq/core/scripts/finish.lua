-- Settle a batch of deliveries: success, retry later, dead, or released unrun (graceful shutdown: back to
-- the front of the queue without spending the attempt).
-- KEYS: active, scheduled, succeeded, dead, stats, wake, seq
-- ARGV: base, now_ms, dead_ttl_s, count, then per delivery 5 values:
--       uid, lease_token, outcome ('ok' | 'retry' | 'dead' | 'release'), data (result or error JSON),
--       retry_at_ms
-- A delivery whose lease is no longer held (it lapsed and the job was recovered, or the record is not a
-- hash any more) changes nothing: the sweeper deals with what is left in `active`.
-- Returns the uids of those stale deliveries.
local active, scheduled, succeeded, dead, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local seq_key = KEYS[7]
local base, now, dead_ttl, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local checks = queue_checks(base, 'active', 'scheduled', 'succeeded', 'dead', 'stats', 'wake', 'seq', 'queued')
local minute_key, minute_type = minute_check(base, now)
checks[#checks + 1] = minute_key
checks[#checks + 1] = minute_type
local refused = wrong_types(checks)
if refused then return refused end

local stale = {}
local n_ok, n_failed, n_retried, n_dead, n_released = 0, 0, 0, 0, 0
for i = 0, count - 1 do
  local b = 5 + i * 5
  local uid, token, outcome, data = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local job = job_key(base, uid)
  local f = read_record(job, 'lease', 'attempts', 'max_attempts', 'result_ttl', 'unique_key', 'watched')
  if not f or f[1] ~= token then
    stale[#stale + 1] = uid
  else
    redis.call('ZREM', active, uid)
    local attempts, max_attempts = tonumber(f[2]), tonumber(f[3])
    if outcome == 'release' then
      redis.call('HSET', job, 'attempts', math.max((attempts or 1) - 1, 0))
      requeue(base, uid, job, seq_key, true)
      n_released = n_released + 1
    elseif outcome == 'ok' then
      finalize_known(base, uid, job, 'succeeded', now, tonumber(f[4]) or 3600, f[5], f[6], 'result', data)
      redis.call('ZADD', succeeded, now, uid)
      n_ok = n_ok + 1
    else
      n_failed = n_failed + 1
      redis.call('HSET', job, 'error', data)
      -- Counts that are not numbers (a damaged record) allow no retry: the job ends dead with its error.
      if outcome == 'retry' and attempts and max_attempts and attempts < max_attempts then
        local retry_at = tonumber(ARGV[b + 4])
        redis.call('HSET', job, 'state', 'scheduled', 'due_at', retry_at)
        redis.call('HDEL', job, 'lease')
        redis.call('ZADD', scheduled, retry_at, uid)
        n_retried = n_retried + 1
      else
        finalize_known(base, uid, job, 'dead', now, dead_ttl, f[5], f[6])
        redis.call('ZADD', dead, now, uid)
        n_dead = n_dead + 1
      end
    end
  end
end
if n_ok > 0 then
  redis.call('HINCRBY', stats, 'succeeded', n_ok)
  count_minute(base, now, 'succeeded', n_ok)
end
if n_failed > 0 then
  redis.call('HINCRBY', stats, 'failed', n_failed)
  count_minute(base, now, 'failed', n_failed)
end
if n_retried > 0 then redis.call('HINCRBY', stats, 'retried', n_retried) end
if n_retried > 0 or n_released > 0 then
  wake_one(wake) -- an idle worker takes released jobs, or re-reads the next due time
end
if n_dead > 0 then redis.call('HINCRBY', stats, 'dead', n_dead) end
return stale
