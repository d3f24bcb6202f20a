-- Prepended to every script at load time (one static file, never formatted).
-- A queue's keys all start with `base` ("<prefix>:{<queue>}:"), which carries the Cluster hash tag.
local PRIORITY_SPAN = 1099511627776 -- 2^40: FIFO sequence space inside one priority level

local function job_key(base, uid)
  return base .. 'job:' .. uid
end

local function queue_score(priority, seq)
  return -priority * PRIORITY_SPAN + seq
end

-- One token wakes one idle worker; a worker that leaves work behind passes the token on.
local function wake_one(wake)
  redis.call('LPUSH', wake, '1')
  redis.call('LTRIM', wake, 0, 0)
end

-- Put a job at the back (seq from the counter) or the front (seq 0) of its priority level.
local function requeue(base, uid, job, seq_key, at_front)
  local priority = tonumber(redis.call('HGET', job, 'priority')) or 0
  local seq = 0
  if not at_front then seq = redis.call('INCR', seq_key) end
  redis.call('HSET', job, 'state', 'queued')
  redis.call('HDEL', job, 'lease', 'due_at')
  redis.call('ZADD', base .. 'queued', queue_score(priority, seq), uid)
end

-- A final state keeps the record for `ttl` seconds (the unique key with it) and tells result waiters.
-- `unique_key` and `watched` are the record's fields, when the caller has already read them (hot path);
-- `field`/`value`, if given, are written with the state (the result or the error).
-- Deleting the lease makes a repeated settle of the same delivery (a retry after a lost reply) stale.
local function finalize_known(base, uid, job, state, now, ttl, unique_key, watched, field, value)
  if field then
    redis.call('HSET', job, 'state', state, 'finished_at', now, field, value)
  else
    redis.call('HSET', job, 'state', state, 'finished_at', now)
  end
  redis.call('HDEL', job, 'lease', 'due_at')
  redis.call('EXPIRE', job, ttl)
  if unique_key then
    redis.call('EXPIRE', base .. 'unique:' .. unique_key, ttl)
  end
  if watched then
    redis.call('PUBLISH', base .. 'done:' .. uid, state)
  end
end

local function finalize(base, uid, job, state, now, ttl)
  local f = redis.call('HMGET', job, 'unique_key', 'watched')
  finalize_known(base, uid, job, state, now, ttl, f[1], f[2])
end

local function count_minute(base, now, field, n)
  local key = base .. 'minute:' .. math.floor(now / 60000)
  redis.call('HINCRBY', key, field, n)
  redis.call('EXPIRE', key, 7200)
end
