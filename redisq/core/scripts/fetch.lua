-- Move due scheduled jobs to queued, then lease up to `count` queued jobs to one worker.
-- KEYS: queued, scheduled, active, seq, stats, wake
-- ARGV: base, now_ms, count, lease_ms, worker_id, promote_limit
-- Returns: next_due_ms (or -1), then per leased job: uid, payload, attempts, max_attempts, signature.
-- The lease token of a delivery is "<worker_id>/<attempts>": unique per delivery, so a worker whose lease
-- lapsed can neither renew nor settle the job's next delivery.
local queued, scheduled, active, seq_key, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local base, now, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lease_ms, worker_id, promote_limit = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
-- A paused queue still promotes its due jobs, but hands none out (resume wakes a worker).
if redis.call('EXISTS', base .. 'paused') == 1 then count = 0 end

local due = redis.call('ZRANGE', scheduled, '-inf', now, 'BYSCORE', 'LIMIT', 0, promote_limit)
for _, uid in ipairs(due) do
  redis.call('ZREM', scheduled, uid)
  local job = job_key(base, uid)
  if redis.call('EXISTS', job) == 1 then requeue(base, uid, job, seq_key, false) end
end

local out = { -1 }
if count > 0 then
  local popped = redis.call('ZPOPMIN', queued, count)
  local expired = 0
  for i = 1, #popped, 2 do
    local uid = popped[i]
    local job = job_key(base, uid)
    local f = redis.call('HMGET', job, 'payload', 'expires_at', 'max_attempts', 'sig', 'result_ttl', 'attempts')
    if f[1] then
      local expires = tonumber(f[2])
      if expires and expires <= now then
        finalize(base, uid, job, 'expired', now, tonumber(f[5]) or 3600)
        expired = expired + 1
      else
        local attempts = (tonumber(f[6]) or 0) + 1
        redis.call('HSET', job, 'attempts', attempts, 'state', 'active', 'started_at', now,
          'worker', worker_id, 'lease', worker_id .. '/' .. attempts)
        redis.call('ZADD', active, now + lease_ms, uid)
        out[#out + 1] = uid
        out[#out + 1] = f[1]
        out[#out + 1] = attempts
        out[#out + 1] = f[3]
        out[#out + 1] = f[4] or ''
      end
    end
  end
  if expired > 0 then redis.call('HINCRBY', stats, 'expired', expired) end
  if redis.call('ZCARD', queued) > 0 then wake_one(wake) end
end
local next_due = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
if next_due[2] then out[1] = tonumber(next_due[2]) end
return out
