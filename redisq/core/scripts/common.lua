-- Prepended to every script at load time (one static file, never formatted); checks.lua follows it in
-- the scripts that use its functions. A queue's keys all start with `base` ("<prefix>:{<queue>}:"), which
-- carries the Cluster hash tag.
--
-- Redis never rolls a script back: a command that fails half-way leaves the writes before it in place.
-- So a script reads and checks what it depends on before its first write (issue 11): job records are
-- read with `read_record` (a record that is not a hash is a value to judge, not a failed script); the
-- types of the keys it writes are checked by reads it needs anyway, by its first write, or else by
-- `wrong_types`; counters and wake tokens, which are not worth failing a script for, are written with
-- pcall. Each redis.call costs ~2 us and each function defined here a little on every call (measured in
-- benchmarks/README.md): the hot paths check with what they do anyway.
local PRIORITY_SPAN = 1099511627776 -- 2^40: a parked job's score is -priority·2^40 + its order in the level
-- Lua 5.1 (Redis, Valkey) has `unpack`; Lua 5.4 (Dragonfly) only `table.unpack`.
local unpack = unpack or table.unpack

local function job_key(base, uid)
  return base .. 'job:' .. uid
end

-- A record stays a listpack (Redis's compact hash encoding, about a third of a hash table's memory) only
-- while each value is at most `hash-max-listpack-value` bytes (64 by default) and it has at most
-- `hash-max-listpack-entries` fields (128). The payload is the only long value of a waiting job, so one
-- longer than a piece is written as `pn` pieces `p1`..`pN` of 64 bytes (issue 15). One of more than
-- MAX_PIECES stays whole in `payload`: its record is a hash table anyway, where pieces only add entries.
-- Readers take `payload` when present (records written before issue 15, and short payloads), else the
-- pieces: `joined_payload`. Only version-2 envelopes (`[2,...`) are cut: a client that writes version 1
-- (Settings.envelope_version, during a rolling upgrade) writes records that the previous version reads.
local PIECE, MAX_PIECES = 64, 16
-- A field at its default is not written, and every reader falls back to it: a priority of 0 and a result
-- ttl of RESULT_TTL (Settings.result_ttl_s's default), which earlier versions read the same way; and in a
-- record of a version-2 envelope (`compact`: only this version reads it), a max_attempts of MAX_ATTEMPTS
-- (a task's default, TaskOptions.retries + 1) and a state `queued` (`record_state`). A waiting job's
-- record is then down to its payload and enqueued_at: the 96-byte size class for the benchmark's job.
local RESULT_TTL = 3600
local MAX_ATTEMPTS = 4

local function compact(payload)
  return string.byte(payload, 1) == 91 -- '[': a version-2 envelope
end

-- The state of a record read as a hash (`state`: its field as read): a record without one is queued;
-- nil when there is no record.
local function record_state(job, state)
  if state then return state end
  if redis.call('EXISTS', job) == 1 then return 'queued' end
  return nil
end

local function add_payload(fields, payload)
  local n = math.ceil(#payload / PIECE)
  if n <= 1 or n > MAX_PIECES or not compact(payload) then
    fields[#fields + 1] = 'payload'
    fields[#fields + 1] = payload
    return
  end
  fields[#fields + 1] = 'pn'
  fields[#fields + 1] = n
  for i = 1, n do
    fields[#fields + 1] = 'p' .. i
    fields[#fields + 1] = string.sub(payload, (i - 1) * PIECE + 1, i * PIECE)
  end
end

local function piece_names(n)
  local names = {}
  for i = 1, n do names[i] = 'p' .. i end
  return names
end

-- The payload of a hash record, given its `payload` and `pn` fields as read: nil when it has neither, or
-- when its pieces are not all there (a damaged record: callers bury it).
local function joined_payload(job, payload, pieces)
  if payload then return payload end
  local n = tonumber(pieces)
  if not n or n < 1 or n > MAX_PIECES or n ~= math.floor(n) then return nil end
  local parts = redis.call('HMGET', job, unpack(piece_names(n)))
  for i = 1, n do
    if not parts[i] then return nil end
  end
  return table.concat(parts)
end

-- A value longer than a piece (a result, an error, a progress report) is about to turn `job` into a hash
-- table: there each piece costs an entry of its own, so the payload goes back to one field first. A
-- record whose pieces are damaged is left as it is (a fetch buries it).
local function unpiece_for(job, value)
  if not value or #value <= PIECE then return end
  local pieces = redis.call('HGET', job, 'pn')
  local payload = pieces and joined_payload(job, false, pieces)
  if not payload then return end
  local names = piece_names(tonumber(pieces))
  names[#names + 1] = 'pn'
  redis.call('HSET', job, 'payload', payload)
  redis.call('HDEL', job, unpack(names))
end

-- nil if every key holds its expected type (or does not exist yet), else an error reply that names the
-- first that does not: call it before the first write. `checks` is a flat list: key, type, key, type...
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

-- A read or a first write that also checks the key: one holding data of another type (or a counter that
-- is not a number) is an error reply `REDISQ_CORRUPT` that names it (CorruptData in Python), raised
-- before anything is written when the call is the script's first write. Other errors (OOM...) stay as
-- they are.
local function checked(command, key, ...)
  local reply = redis.pcall(command, key, ...)
  if type(reply) == 'table' and reply.err then
    if string.find(reply.err, 'WRONGTYPE', 1, true) or string.find(reply.err, 'not an integer', 1, true) then
      error({ err = 'REDISQ_CORRUPT key ' .. key .. ' is a ' .. redis.call('TYPE', key).ok .. ' (' .. reply.err
        .. '): redisq cannot use this queue until it is repaired or deleted' })
    end
    error(reply)
  end
  return reply
end

-- `command key items...` for a list of any length, in chunks that stay under Lua's unpack limit. The
-- first chunk is `checked`: only it can fail on the key's type, before any of the list is written.
local function call_with(command, key, items)
  for i = 1, #items, 1000 do
    local chunk = { unpack(items, i, math.min(i + 999, #items)) }
    if i == 1 then checked(command, key, unpack(chunk)) else redis.call(command, key, unpack(chunk)) end
  end
end

-- HMGET that never fails: {values} for a hash (false for a missing key's fields), or nil and the key's
-- type.
local function read_record(job, ...)
  local f = redis.pcall('HMGET', job, ...)
  if f.err then
    return nil, redis.call('TYPE', job).ok
  end
  return f, nil
end

-- Counters and the wake token are hints: one of another type is left alone rather than fail the script
-- (the stats script then reports the damaged counter; a worker's BLPOP on a damaged wake list fails and
-- says so in its log).
local function add_to(stats, field, n)
  redis.pcall('HINCRBY', stats, field, n)
end

-- The queue's counters per task (issue 14, Prometheus): `<base>tasks`, fields `<counter>:<task>` (the
-- counter is a word without ':', so the first ':' splits them); `counts` maps a task to its count. A job
-- whose task is not known here ('') is counted per queue only.
local function count_tasks(base, counter, counts)
  for task, n in pairs(counts) do
    if task ~= '' then redis.pcall('HINCRBY', base .. 'tasks', counter .. ':' .. task, n) end
  end
end

-- One token wakes one idle worker; a worker that leaves work behind passes the token on.
local function wake_one(wake)
  redis.pcall('LPUSH', wake, '1')
  redis.pcall('LTRIM', wake, 0, 0)
end

-- The ready index (issue 15): one list per priority level, `ready:<level>`, FIFO from its head, and
-- `levels`, a zset of the levels whose list is not empty (member the level, score -level), kept exact:
-- a level is added by the write that makes its list non-empty and removed by the one that empties it.
-- A level is a priority as an integer string; a priority that is not a number counts as 0.
local function ready_level(priority)
  return string.format('%d', math.floor(tonumber(priority) or 0))
end

local function ready_key(base, level)
  return base .. 'ready:' .. level
end

-- `uids` onto a level's list: at its back ('RPUSH', in order) or its front ('LPUSH': give them last
-- first to keep their order). Callers have checked the types of `levels` and of the list.
local function ready_push(base, level, command, uids)
  call_with(command, ready_key(base, level), uids)
  redis.call('ZADD', base .. 'levels', -tonumber(level), level)
end

-- Appends to a `wrong_types` list the keys that pushing onto `levels` (a set of levels) writes.
local function ready_checks(checks, base, levels)
  checks[#checks + 1] = base .. 'levels'
  checks[#checks + 1] = 'zset'
  for level in pairs(levels) do
    checks[#checks + 1] = ready_key(base, level)
    checks[#checks + 1] = 'list'
  end
  return checks
end

-- Put a job at the back or the front of its priority level (`level`: ready_level of its priority).
-- `job` must be a hash, and `levels` and the level's list of their types (callers check).
-- `keep_due`: a due job promoted from `scheduled` keeps its `due_at`, the time its queue wait starts from
-- (metrics.lua); a job put back for other reasons waits, as a new one, from its enqueue.
local function requeue(base, uid, job, level, at_front, keep_due)
  redis.call('HSET', job, 'state', 'queued')
  if keep_due then
    redis.call('HDEL', job, 'lease')
  else
    redis.call('HDEL', job, 'lease', 'due_at')
  end
  ready_push(base, level, at_front and 'LPUSH' or 'RPUSH', { uid })
end

-- A final state keeps the record for `ttl` seconds (the unique key with it) and tells result waiters.
-- `unique_key` and `watched` are the record's fields, when the caller has already read them (hot path);
-- `field`/`value`, if given, are written with the state (the result or the error).
-- Deleting the lease makes a repeated settle of the same delivery (a retry after a lost reply) stale.
-- `parents` (the record's field: the ids of the jobs that wait for this one, issue 16) gets the state as
-- an entry `<parent id> <uid> <state>` in the queue's `outbox`, written with the state itself, so that no
-- parent misses it; workers carry it to the parents (workflow.lua). pcall, as for counters: only finish.lua,
-- the one path a workflow takes at volume, checks the outbox's type first. `has_deps` (its `deps_left`
-- field): the job waited for others, and their outcomes, `deps:<uid>`, expire with its record.
local function finalize_known(base, uid, job, state, now, ttl, unique_key, watched, field, value, parents,
                              has_deps)
  if field then
    unpiece_for(job, value)
    redis.call('HSET', job, 'state', state, 'finished_at', now, field, value)
  else
    redis.call('HSET', job, 'state', state, 'finished_at', now)
  end
  redis.call('HDEL', job, 'lease', 'due_at')
  redis.call('EXPIRE', job, ttl)
  if unique_key then -- pcall: a unique key that a resharding has just moved keeps its own expiry
    redis.pcall('EXPIRE', base .. 'unique:' .. unique_key, ttl)
  end
  if watched then
    -- A shard channel of the queue's slot: on a Cluster the message stays on the node that owns the
    -- queue. pcall: before Redis 7 (no SPUBLISH) a waiter only misses it and finds out at its recheck.
    redis.pcall('SPUBLISH', base .. 'done:' .. uid, state)
  end
  if has_deps then redis.pcall('EXPIRE', base .. 'deps:' .. uid, ttl) end
  if parents then
    for parent in string.gmatch(parents, '%S+') do
      redis.pcall('RPUSH', base .. 'outbox', parent .. ' ' .. uid .. ' ' .. state)
    end
  end
end

local function finalize(base, uid, job, state, now, ttl)
  local f = redis.call('HMGET', job, 'unique_key', 'watched', 'parents', 'deps_left')
  finalize_known(base, uid, job, state, now, ttl, f[1], f[2], nil, nil, f[3], f[4])
end
