-- Prepended to every script at load time (one static file, never formatted).
-- A queue's keys all start with `base` ("<prefix>:{<queue>}:"), which carries the Cluster hash tag.
--
-- Redis never rolls a script back: a command that fails half-way leaves the writes before it in place.
-- So every script checks what it will touch before its first write (`wrong_types`), reads job records
-- with `redis.pcall` (a record that is not a hash is an error value, not a failed script), and checks
-- every field it uses; a record that cannot be used goes to the dead letters (`bury`) and the rest of
-- the batch goes on (issue 11).
local PRIORITY_SPAN = 1099511627776 -- 2^40: FIFO sequence space inside one priority level

local function job_key(base, uid)
  return base .. 'job:' .. uid
end

local function queue_score(priority, seq)
  return -priority * PRIORITY_SPAN + seq
end

-- nil if every key holds its expected type (or does not exist yet), else an error reply that names the
-- first that does not. Call it before the first write: a write to a key of another type would fail after
-- the writes before it. `checks` is a flat list: key, type, key, type...
local function wrong_types(checks)
  for i = 1, #checks, 2 do
    local found = redis.call('TYPE', checks[i]).ok
    if found ~= 'none' and found ~= checks[i + 1] then
      return redis.error_reply('REDISQ_CORRUPT key ' .. checks[i] .. ' is a ' .. found .. ', not a '
        .. checks[i + 1] .. ': redisq cannot use this queue until it is repaired or deleted')
    end
  end
  return nil
end

-- The keys of a queue that scripts write, with their types, for `wrong_types`.
local function queue_checks(base, ...)
  local types = { queued = 'zset', scheduled = 'zset', active = 'zset', succeeded = 'zset', dead = 'zset',
    seq = 'string', stats = 'hash', wake = 'list' }
  local checks = {}
  for _, part in ipairs({ ... }) do
    checks[#checks + 1] = base .. part
    checks[#checks + 1] = types[part]
  end
  return checks
end

-- HMGET that never fails: {values} for a hash (nils for a missing key), or nil and the key's type.
local function read_record(job, ...)
  local f = redis.pcall('HMGET', job, ...)
  if type(f) == 'table' and f.err then
    return nil, redis.call('TYPE', job).ok
  end
  return f, nil
end

-- One token wakes one idle worker; a worker that leaves work behind passes the token on.
local function wake_one(wake)
  redis.call('LPUSH', wake, '1')
  redis.call('LTRIM', wake, 0, 0)
end

-- Put a job at the back (seq from the counter) or the front (seq 0) of its priority level.
-- `job` must be a hash (callers check); a priority that is not a number counts as 0.
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

-- The minute bucket `count_minute` writes now, for `wrong_types`.
local function minute_check(base, now)
  return base .. 'minute:' .. math.floor(now / 60000), 'hash'
end

-- A job record that cannot be used (not a hash, or a field missing or not a number) goes to the dead
-- letters, never run, with the reason as its error. A record of another type is kept for inspection as
-- `corrupt:<uid>` (expiring with the dead letter) and replaced by a dead record that the API can show.
-- Counted as a failure and a death, as the worker counts a job it refuses. Callers have removed the
-- uid from the index it was in, and checked the queue's keys (`wrong_types`).
local function bury(base, uid, job, kind, reason, now, dead_ttl)
  if kind ~= 'hash' then
    local kept = base .. 'corrupt:' .. uid
    redis.call('RENAME', job, kept)
    redis.call('EXPIRE', kept, dead_ttl)
    reason = reason .. ' (its data is kept as ' .. kept .. ')'
  end
  redis.call('HSET', job, 'error', cjson.encode({ type = 'CorruptRecord', message = reason, traceback = '' }))
  finalize(base, uid, job, 'dead', now, dead_ttl)
  redis.call('ZADD', base .. 'dead', now, uid)
  redis.call('HINCRBY', base .. 'stats', 'failed', 1)
  redis.call('HINCRBY', base .. 'stats', 'dead', 1)
  count_minute(base, now, 'failed', 1)
end

-- Why a hash record cannot be run or settled, or nil: `names` and `values` are the fields read, and
-- `required` (a set of names) those that must be present; every field in `numeric` must be a number.
local function record_problem(names, values, required, numeric)
  for i, name in ipairs(names) do
    local value = values[i]
    if value == false or value == nil then
      if required[name] then return 'the record has no ' .. name end
    elseif numeric[name] and not tonumber(value) then
      return 'the record\'s ' .. name .. ' is not a number: ' .. string.sub(tostring(value), 1, 40)
    end
  end
  return nil
end
