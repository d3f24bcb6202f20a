-- Enqueue one or many jobs of one queue, atomically.
-- KEYS: queued, scheduled, seq, stats, wake
-- ARGV: base, now_ms, count, then per job 10 values:
--       uid, payload, task, priority, max_attempts, due_ms, expires_ms, result_ttl_s, unique_key, signature
-- Returns a flat list: uid, created (1 new / 0 an existing job holds the unique key), per job.
local queued, scheduled, seq_key, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local base, now, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local out, created = {}, 0
for i = 0, count - 1 do
  local b = 4 + i * 10
  local uid, unique_key = ARGV[b], ARGV[b + 8]
  local holder = false
  if unique_key ~= '' then
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
    local priority, due = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 5])
    redis.call('HSET', job, 'payload', ARGV[b + 1], 'task', ARGV[b + 2], 'priority', priority,
      'attempts', 0, 'max_attempts', ARGV[b + 4], 'enqueued_at', now, 'result_ttl', ARGV[b + 7])
    if ARGV[b + 6] ~= '0' then redis.call('HSET', job, 'expires_at', ARGV[b + 6]) end
    if unique_key ~= '' then redis.call('HSET', job, 'unique_key', unique_key) end
    if ARGV[b + 9] ~= '' then redis.call('HSET', job, 'sig', ARGV[b + 9]) end
    if due > now then
      redis.call('HSET', job, 'state', 'scheduled', 'due_at', due)
      redis.call('ZADD', scheduled, due, uid)
    else
      redis.call('HSET', job, 'state', 'queued')
      redis.call('ZADD', queued, queue_score(priority, redis.call('INCR', seq_key)), uid)
    end
    created = created + 1
    out[#out + 1] = uid
    out[#out + 1] = 1
  end
end
if created > 0 then
  redis.call('HINCRBY', stats, 'enqueued', created)
  -- Also for scheduled jobs: an idle worker wakes to shorten its wait to the new due time.
  wake_one(wake)
end
return out
