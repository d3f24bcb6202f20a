-- Recover jobs whose lease lapsed (their worker died or lost Redis for longer than a lease), and trim
-- the succeeded and dead indexes so that no structure grows without bound.
-- KEYS: active, levels, dead, succeeded, stats, wake
-- ARGV: base, now_ms, limit, dead_ttl_s, succeeded_keep_ms, succeeded_max, dead_keep_ms, dead_max
-- Returns {recovered, sent_to_dead}. A lapsed record that cannot be used goes to the dead letters with
-- the reason (counted in sent_to_dead). A recovered job frees its place under its limits (limits.lua).
-- A queue written before issue 15 moves a batch of its legacy `queued` into the ready index, last
-- (migrate_legacy, checks.lua: it checks its own keys).
local active, dead, succeeded, stats, wake = KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local base, now, limit, dead_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local refused = wrong_queue_types(base, 'active', 'dead', 'succeeded')
if refused then return refused end

local FIELDS = { 'attempts', 'max_attempts', 'worker', 'limits', 'payload', 'priority', 'pn', 'started_at',
  'history' }
local REQUIRED = {}
local NUMERIC = { attempts = true, max_attempts = true }

local recovered, died, buried, freed = 0, 0, 0, false
local recovered_tasks, died_tasks = {}, {}
local lapsed = redis.call('ZRANGE', active, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
-- Every record is read before the first write: on a Cluster slot being moved (resharding), a record that
-- has already moved fails the read, and the script must then have changed nothing (no rollback).
local reads, levels = {}, {}
for i, uid in ipairs(lapsed) do
  local f, kind = read_record(job_key(base, uid), unpack(FIELDS))
  reads[i] = { f = f, kind = kind }
  if f then levels[ready_level(f[6])] = true end
end
if #lapsed > 0 then -- recovered jobs go back to the front of their levels
  refused = wrong_types(ready_checks({}, base, levels))
  if refused then return refused end
end
local front = {} -- {uid, level} in the order they lapsed
for i, uid in ipairs(lapsed) do
  redis.call('ZREM', active, uid)
  local job = job_key(base, uid)
  local f, kind = reads[i].f, reads[i].kind
  local problem, gone = record_problem(job, f, kind, FIELDS, REQUIRED, NUMERIC, 2)
  if problem then
    bury(base, uid, job, kind or 'hash', problem, now, dead_ttl)
    buried = buried + 1
  elseif not gone then
    local list = f[4] and limits_of(f[4])
    if list and release(base, uid, list, now) then freed = true end
    redis.pcall('HINCRBY', job, 'recovered', 1) -- a count, not worth failing for
    if (tonumber(f[1]) or 0) >= tonumber(f[2] or MAX_ATTEMPTS) then
      local error_json = cjson.encode({
        type = 'LeaseExpired',
        message = 'worker ' .. tostring(f[3]) .. ' stopped renewing its lease on the last attempt',
        traceback = '' })
      unpiece_for(job, error_json)
      redis.call('HSET', job, 'error', error_json)
      finalize(base, uid, job, 'dead', now, dead_ttl)
      redis.call('ZADD', dead, now, uid)
      died = died + 1
      local task = task_of(joined_payload(job, f[5], f[7]))
      died_tasks[task] = (died_tasks[task] or 0) + 1
    else
      -- The lost attempt joins the job's history (attempts.lua), ended when it was found lapsed.
      local lost = attempt_entry(f[1], f[3], f[8], now, 'lost', cjson.encode({ type = 'LeaseExpired',
        message = 'worker ' .. tostring(f[3]) .. ' stopped renewing its lease' }))
      local history = add_attempt(f[9], lost)
      unpiece_for(job, history)
      redis.call('HSET', job, 'state', 'queued', 'history', history)
      redis.call('HDEL', job, 'lease', 'due_at')
      front[#front + 1] = { uid, ready_level(f[6]) }
      recovered = recovered + 1
      local task = task_of(joined_payload(job, f[5], f[7]))
      recovered_tasks[task] = (recovered_tasks[task] or 0) + 1
    end
  end
end
ready_push_front(base, front)
if recovered > 0 then
  add_to(stats, 'recovered', recovered)
  count_tasks(base, 'recovered', recovered_tasks)
end
if recovered > 0 or freed then wake_one(wake) end
if died > 0 then
  add_to(stats, 'failed', died)
  add_to(stats, 'dead', died)
  metric_failed(base, now, died)
  count_tasks(base, 'failed', died_tasks)
  count_tasks(base, 'dead', died_tasks)
end

-- Index entries outlive nothing: their records expire on their own TTL, the index is cut to match.
redis.call('ZREMRANGEBYSCORE', succeeded, '-inf', now - tonumber(ARGV[5]))
redis.call('ZREMRANGEBYRANK', succeeded, 0, -tonumber(ARGV[6]) - 1)
local old_dead = redis.call('ZRANGE', dead, '-inf', now - tonumber(ARGV[7]), 'BYSCORE', 'LIMIT', 0, limit)
local over = redis.call('ZCARD', dead) - tonumber(ARGV[8])
if over > 0 then
  for _, uid in ipairs(redis.call('ZRANGE', dead, 0, math.min(over, limit) - 1)) do
    old_dead[#old_dead + 1] = uid
  end
end
for _, uid in ipairs(old_dead) do
  redis.call('ZREM', dead, uid)
  redis.call('DEL', job_key(base, uid), base .. 'corrupt:' .. uid)
end
refused = migrate_legacy(base)
if refused then return refused end
return { recovered, died + buried }
