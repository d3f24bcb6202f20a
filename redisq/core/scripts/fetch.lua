-- Move due scheduled jobs to queued, then lease up to `count` queued jobs to one worker.
-- KEYS: queued, scheduled, active, seq, stats, wake
-- ARGV: base, now_ms, count, lease_ms, worker_id, promote_limit, dead_ttl_s
-- Returns: next_due_ms (or -1), then per leased job: uid, payload, attempts, max_attempts, signature.
-- The lease token of a delivery is "<worker_id>/<attempts>": unique per delivery, so a worker whose lease
-- lapsed can neither renew nor settle the job's next delivery.
-- A record that cannot be run (not a hash, no payload, numbers that are not numbers) goes to the dead
-- letters with the reason; the jobs around it are leased as usual (issue 11).
local queued, scheduled, active, seq_key, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local base, now, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lease_ms, worker_id, promote_limit = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local dead_ttl = tonumber(ARGV[7])

local checks = queue_checks(base, 'queued', 'scheduled', 'active', 'seq', 'stats', 'wake', 'dead')
local minute_key, minute_type = minute_check(base, now)
checks[#checks + 1] = minute_key
checks[#checks + 1] = minute_type
local refused = wrong_types(checks)
if refused then return refused end

-- A paused queue still promotes its due jobs, but hands none out (resume wakes a worker).
if redis.call('EXISTS', base .. 'paused') == 1 then count = 0 end

local due = redis.call('ZRANGE', scheduled, '-inf', now, 'BYSCORE', 'LIMIT', 0, promote_limit)
for _, uid in ipairs(due) do
  redis.call('ZREM', scheduled, uid)
  local job = job_key(base, uid)
  local kind = redis.call('TYPE', job).ok
  if kind == 'hash' then
    requeue(base, uid, job, seq_key, false)
  elseif kind ~= 'none' then
    bury(base, uid, job, kind, 'the record is a ' .. kind .. ', not a hash', now, dead_ttl)
  end
end

local FIELDS = { 'payload', 'expires_at', 'max_attempts', 'sig', 'result_ttl', 'attempts' }
local REQUIRED = { payload = true, max_attempts = true }
local NUMERIC = { expires_at = true, max_attempts = true, result_ttl = true, attempts = true }

local out = { -1 }
if count > 0 then
  local uids = redis.call('ZRANGE', queued, 0, count - 1)
  if #uids > 0 then redis.call('ZREMRANGEBYRANK', queued, 0, #uids - 1) end -- exactly those: atomic
  local expired = 0
  for _, uid in ipairs(uids) do
    local job = job_key(base, uid)
    local f, kind = read_record(job, unpack(FIELDS))
    local problem = nil
    if not f then
      problem = 'the record is a ' .. kind .. ', not a hash'
    elseif not f[1] and not f[3] and redis.call('EXISTS', job) == 0 then
      f = nil -- deleted meanwhile: nothing to run, nothing to report
    else
      kind = 'hash'
      problem = record_problem(FIELDS, f, REQUIRED, NUMERIC)
    end
    if problem then
      bury(base, uid, job, kind, problem, now, dead_ttl)
    elseif f then
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
