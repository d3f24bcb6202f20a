-- Enqueue one or many jobs of one queue, atomically.
-- KEYS: queued (its name is <base>queued; the queue's other keys are derived from <base>: same slot)
-- ARGV: now_ms, count, default_result_ttl_s, then per job:
--       uid, payload, priority, max_attempts, n_extra, then n_extra field/value pairs among
--       due_at, expires_at, result_ttl, unique_key, sig (rare options cost nothing when absent)
-- Returns a flat list: uid, created (1 new / 0 an existing job holds the unique key), per job.
local queued = KEYS[1]
local base = string.sub(queued, 1, -7)
local now, count, default_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local scheduled, seq_key = base .. 'scheduled', base .. 'seq'

local out, created, n_queued, n_scheduled = {}, 0, 0, 0
local b = 4
for _ = 1, count do
  local uid, payload, priority, max_attempts = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2]), ARGV[b + 3]
  local n_extra = tonumber(ARGV[b + 4])
  local fields = { 'payload', payload, 'priority', priority, 'attempts', 0, 'max_attempts', max_attempts,
    'enqueued_at', now, 'result_ttl', default_ttl }
  local due, unique_key = 0, nil
  for i = b + 5, b + 4 + 2 * n_extra, 2 do
    local name, value = ARGV[i], ARGV[i + 1]
    if name == 'due_at' then due = tonumber(value) end
    if name == 'unique_key' then unique_key = value end
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
  b = b + 5 + 2 * n_extra

  local holder = false
  if unique_key then
    local unique = base .. 'unique:' .. unique_key
    holder = redis.call('GET', unique)
    if holder and redis.call('EXISTS', job_key(base, holder)) == 0 then holder = false end
    if not holder then redis.call('SET', unique, uid) end
  end
  if holder then
    out[#out + 1] = holder
    out[#out + 1] = 0
  else
    local job = job_key(base, uid)
    fields[#fields + 1] = 'state'
    if due > now then
      fields[#fields + 1] = 'scheduled'
      redis.call('HSET', job, unpack(fields))
      redis.call('ZADD', scheduled, due, uid)
      n_scheduled = n_scheduled + 1
    else
      if due > 0 then -- a due time already past: not a scheduled job
        fields[#fields + 1] = 'queued'
        redis.call('HSET', job, unpack(fields))
        redis.call('HDEL', job, 'due_at')
      else
        fields[#fields + 1] = 'queued'
        redis.call('HSET', job, unpack(fields))
      end
      redis.call('ZADD', queued, queue_score(priority, redis.call('INCR', seq_key)), uid)
      n_queued = n_queued + 1
    end
    created = created + 1
    out[#out + 1] = uid
    out[#out + 1] = 1
  end
end
if created > 0 then
  redis.call('HINCRBY', base .. 'stats', 'enqueued', created)
  -- Idle workers only block when they found the queue empty: wake one when it stops being empty (the
  -- woken worker passes the wake on while work remains, see fetch.lua). A new scheduled job may be due
  -- before an idle worker's wait ends: wake one to shorten it.
  if n_scheduled > 0 or (n_queued > 0 and redis.call('ZCARD', queued) == n_queued) then
    wake_one(base .. 'wake')
  end
end
return out
