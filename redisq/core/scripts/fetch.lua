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

-- A paused queue still promotes its due jobs, but hands none out (resume wakes a worker).
if redis.call('EXISTS', base .. 'paused') == 1 then count = 0 end

-- Reading `scheduled` and `queued` checks their types before any write. Promoting writes the queue's
-- other keys: they are checked first, only when something is due.
local due = checked('ZRANGE', scheduled, '-inf', now, 'BYSCORE', 'LIMIT', 0, promote_limit)
if #due > 0 then
  local refused = wrong_queue_types(base, 'queued', 'seq', 'active', 'dead')
  if refused then return refused end
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
end

local FIELDS = { 'payload', 'expires_at', 'max_attempts', 'sig', 'result_ttl', 'attempts' }
local REQUIRED = { payload = true, max_attempts = true }
local NUMERIC = { expires_at = true, max_attempts = true, result_ttl = true, attempts = true }

local out = { -1 }
if count > 0 then
  local uids = checked('ZRANGE', queued, 0, count - 1)
  -- Every record is read and judged before anything is written.
  local records, leases, expired, damaged = {}, {}, {}, {}
  for i, uid in ipairs(uids) do
    local job = job_key(base, uid)
    local f, kind = read_record(job, unpack(FIELDS))
    local problem, gone = record_problem(job, f, kind, FIELDS, REQUIRED, NUMERIC, 3)
    if problem then
      damaged[#damaged + 1] = { uid, job, kind or 'hash', problem }
    elseif not gone then
      local expires = tonumber(f[2])
      if expires and expires <= now then
        expired[#expired + 1] = { uid, job, tonumber(f[5]) or 3600 }
      else
        records[#records + 1] = { uid, job, f }
        leases[#leases + 1] = now + lease_ms
        leases[#leases + 1] = uid
      end
    end
  end
  if #damaged > 0 and #due == 0 then
    local refused = wrong_queue_types(base, 'dead')
    if refused then return refused end
  end
  -- When nothing was due this ZADD is the first write: on an `active` of another type it fails, and
  -- nothing is written.
  if #leases > 0 then call_with('ZADD', active, leases) end
  if #uids > 0 then redis.call('ZREMRANGEBYRANK', queued, 0, #uids - 1) end -- exactly those: atomic
  for _, r in ipairs(records) do
    local uid, job, f = r[1], r[2], r[3]
    local attempts = (tonumber(f[6]) or 0) + 1
    redis.call('HSET', job, 'attempts', attempts, 'state', 'active', 'started_at', now, 'worker', worker_id,
      'lease', worker_id .. '/' .. attempts)
    out[#out + 1] = uid
    out[#out + 1] = f[1]
    out[#out + 1] = attempts
    out[#out + 1] = f[3]
    out[#out + 1] = f[4] or ''
  end
  for _, e in ipairs(expired) do
    finalize(base, e[1], e[2], 'expired', now, e[3])
  end
  if #expired > 0 then add_to(stats, 'expired', #expired) end
  for _, d in ipairs(damaged) do
    bury(base, d[1], d[2], d[3], d[4], now, dead_ttl)
  end
  -- Work left behind: pass the wake token on (a batch smaller than asked for emptied the queue).
  if #uids == count and redis.call('ZCARD', queued) > 0 then wake_one(wake) end
end
local next_due = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
if next_due[2] then out[1] = tonumber(next_due[2]) end
return out
