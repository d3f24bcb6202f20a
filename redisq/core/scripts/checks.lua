-- Follows common.lua in the scripts that use these (scripts.py looks for their names): the checks of a
-- queue's keys, burying records that cannot be used, and cancelling a job that has not started.

-- `wrong_types` for named parts of a queue.
local function wrong_queue_types(base, ...)
  local types = { queued = 'zset', scheduled = 'zset', active = 'zset', succeeded = 'zset', dead = 'zset',
    levels = 'zset', stats = 'hash', wake = 'list', waiting = 'zset' }
  -- queued: the ready index before issue 15 (legacy); waiting: jobs waiting for their dependencies
  local checks = {}
  for _, part in ipairs({ ... }) do
    checks[#checks + 1] = base .. part
    checks[#checks + 1] = types[part]
  end
  return wrong_types(checks)
end

-- The task a payload names, for the counters per task on the rare paths where the worker does not say
-- (expiry, recovery): orjson writes `[2,"<name>",...` (version 1: `{"v":1,"task":"<name>",...`), so an
-- anchored match reads it without decoding the arguments; a name with escapes is decoded. '' when the
-- payload is not an envelope.
local function task_of(payload)
  if type(payload) ~= 'string' then return '' end
  local name = string.match(payload, '^%[2,"([^"\\]*)"')
    or string.match(payload, '^{"v":1,"task":"([^"\\]*)"')
  if name then return name end
  local ok, data = pcall(cjson.decode, payload)
  if ok and type(data) == 'table' then
    if data[1] == 2 and type(data[2]) == 'string' then return data[2] end
    if type(data.task) == 'string' then return data.task end
  end
  return ''
end

-- A job record that cannot be used goes to the dead letters, never run, with the reason as its error. A
-- record of another type is kept for inspection as `corrupt:<uid>` (expiring with the dead letter) and
-- replaced by a dead record that the API can show. Counted as a failure and a death, as the worker counts
-- a job it refuses. Callers have taken the uid out of its index and checked that `dead` is a zset.
local function bury(base, uid, job, kind, reason, now, dead_ttl)
  if kind ~= 'hash' then
    local kept = base .. 'corrupt:' .. uid
    redis.call('RENAME', job, kept)
    redis.call('EXPIRE', kept, dead_ttl)
    reason = reason .. ' (its data is kept as ' .. kept .. ')'
  end
  local error_json = cjson.encode({ type = 'CorruptRecord', message = reason, traceback = '' })
  unpiece_for(job, error_json)
  redis.call('HSET', job, 'error', error_json)
  finalize(base, uid, job, 'dead', now, dead_ttl)
  redis.call('ZADD', base .. 'dead', now, uid)
  add_to(base .. 'stats', 'failed', 1)
  add_to(base .. 'stats', 'dead', 1)
  metric_failed(base, now, 1)
end

-- Why a record taken out of an index cannot be run or recovered, or nil: `f` and `kind` are what
-- `read_record` read for `names`; `required` (a set) must be present, `numeric` (a set) must be numbers.
-- `gone` is true for a record deleted meanwhile (nothing to do, nothing to report): neither the first
-- field nor the `key`-th is there, and the key does not exist.
local function record_problem(job, f, kind, names, required, numeric, key)
  if not f then
    return 'the record is a ' .. kind .. ', not a hash'
  end
  if not f[1] and not f[key] and redis.call('EXISTS', job) == 0 then
    return nil, true
  end
  for i, name in ipairs(names) do
    local value = f[i]
    if not value then
      if required[name] then return 'the record has no ' .. name end
    elseif numeric[name] and not tonumber(value) then
      return 'the record\'s ' .. name .. ' is not a number: ' .. string.sub(tostring(value), 1, 40)
    end
  end
  return nil
end

-- Ready jobs (`entries`: {uid, level} in line order) to the front of their levels, keeping their order.
-- Callers have checked the keys (`ready_checks`).
local function ready_push_front(base, entries)
  local groups = {}
  for i = #entries, 1, -1 do -- last first: LPUSH puts each before the one pushed before it
    local level = entries[i][2]
    local group = groups[level]
    if not group then
      group = {}
      groups[level] = group
    end
    group[#group + 1] = entries[i][1]
  end
  for level, uids in pairs(groups) do ready_push(base, level, 'LPUSH', uids) end
end

-- A queued job out of the ready index: out of its level's list, whose level leaves `levels` if that
-- empties it, and out of the legacy `queued` (a queue not yet upgraded). LREM is O(N) in the level's
-- length (BullMQ pays the same for a waiting job); it scans from the tail, where a job cancelled soon
-- after its enqueue is. Callers have checked the keys (`ready_checks`, 'queued').
local function ready_remove(base, uid, level)
  local key = ready_key(base, level)
  if redis.call('LREM', key, -1, uid) > 0 and redis.call('LLEN', key) == 0 then
    redis.call('ZREM', base .. 'levels', level)
  end
  redis.call('ZREM', base .. 'queued', uid)
end

-- The level of a parked job, or of a job in the legacy `queued`: both scores are -priority·2^40 + its
-- order (seq, before issue 15).
local function level_of_score(score)
  return ready_level(-math.floor(tonumber(score) / PRIORITY_SPAN))
end

-- Upgrade (issue 15): the ready jobs of a queue written before the ready index (the zset `queued`,
-- score -priority·2^40 + seq) move to the front of their levels, a batch from the line's tail per call,
-- so that once the last batch has moved they stand in their old order, ahead of the jobs enqueued since
-- (all younger). Returns an error reply (nothing written) for a damaged key, else whether legacy jobs
-- remain (then the caller hands none out yet: the oldest are still to move).
local LEGACY_BATCH = 2000
local function migrate_legacy(base)
  local legacy = base .. 'queued'
  if redis.call('EXISTS', legacy) == 0 then return nil, false end
  local tail = checked('ZRANGE', legacy, -LEGACY_BATCH, -1, 'WITHSCORES')
  local entries, levels = {}, {}
  for i = 1, #tail, 2 do
    local level = level_of_score(tail[i + 1])
    entries[#entries + 1] = { tail[i], level }
    levels[level] = true
  end
  local refused = wrong_types(ready_checks({}, base, levels))
  if refused then return refused, true end
  ready_push_front(base, entries)
  redis.call('ZREMRANGEBYRANK', legacy, -#entries, -1)
  if redis.call('EXISTS', legacy) == 1 then return nil, true end
  redis.call('DEL', base .. 'seq') -- its counter, unused since
  return nil, false
end

-- A queued, scheduled or waiting job -> cancelled (`cancel`, and `abort` of a job not started). `ttl`:
-- how long the record is kept; `level`: its level when it is queued (nil: scheduled or waiting, issue 16).
-- Returns an error reply (nothing written) if an index is of another type.
local function cancel_waiting(base, uid, job, ttl, now, level)
  local refused = wrong_queue_types(base, 'queued', 'scheduled', 'waiting')
    or (level and wrong_types(ready_checks({}, base, { [level] = true })))
  if refused then return refused end
  if level then ready_remove(base, uid, level) end
  redis.call('ZREM', base .. 'scheduled', uid)
  redis.call('ZREM', base .. 'waiting', uid)
  finalize(base, uid, job, 'cancelled', now, ttl)
  add_to(base .. 'stats', 'cancelled', 1)
  return 1
end
