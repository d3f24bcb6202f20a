-- Move due scheduled jobs to the ready index, then lease up to `count` ready jobs to one worker.
-- KEYS: levels, scheduled, active, queued (the legacy index, before issue 15), stats, wake
-- ARGV: base, now_ms, count, lease_ms, worker_id, promote_limit, dead_ttl_s, then the queue's own limit:
--       interval_ms, tolerance_ms (a rate; 0: none), max_running (0: none)
-- Returns: next_due_ms (or -1), then per leased job: uid, payload, attempts, max_attempts, signature,
-- enqueued_at (or '': the queue wait of the worker's metrics).
-- next_due_ms is when to fetch again without a wake: the next scheduled job, the next time a limit frees
-- (or now, when jobs were set aside for their limits and others may be behind them).
-- The lease token of a delivery is "<worker_id>/<attempts>": unique per delivery, so a worker whose lease
-- lapsed can neither renew nor settle the job's next delivery.
-- A record that cannot be run (not a hash, no payload, numbers that are not numbers) goes to the dead
-- letters with the reason; the jobs around it are leased as usual (issue 11).
-- Limits (limits.lua, issue 12): the queue's own limit caps how many are taken, in order; a job whose own
-- limits are full is parked, out of line, and costs no attempt.
-- The ready index (common.lua): jobs are taken from the highest level's list first, FIFO within a level.
local levels_key, scheduled, active, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6]
local base, now, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lease_ms, worker_id, promote_limit = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local dead_ttl = tonumber(ARGV[7])
local q_interval, q_tolerance, q_conc = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local limited = base .. 'limited'
local wake_at = nil -- the earliest time a limit frees, for next_due

-- A paused queue still promotes its due jobs, but hands none out (resume wakes a worker).
if redis.call('EXISTS', base .. 'paused') == 1 then count = 0 end

-- Upgrade (issue 15): a queue written before the ready index moves its legacy `queued` into it, a batch
-- per call; until the last batch has moved (its oldest jobs), nothing is handed out, and the worker is
-- told to fetch again at once. It writes first, but checks its own keys, and the rest of this script
-- does not depend on it.
local refused, legacy_left = migrate_legacy(base)
if refused then return refused end
if legacy_left then count = 0 end

-- Reading `scheduled` checks its type before any write. Promoting writes the queue's other keys: they
-- are checked first, only when something is due.
local due = checked('ZRANGE', scheduled, '-inf', now, 'BYSCORE', 'LIMIT', 0, promote_limit)
if #due > 0 then
  -- Every record's type and level first: on a Cluster slot being moved, one that has moved fails here,
  -- before any write (a script is not rolled back).
  local kinds, levels, level_set = {}, {}, {}
  for i, uid in ipairs(due) do
    local job = job_key(base, uid)
    kinds[i] = redis.call('TYPE', job).ok
    if kinds[i] == 'hash' then
      levels[i] = ready_level(redis.call('HGET', job, 'priority'))
      level_set[levels[i]] = true
    end
  end
  refused = wrong_queue_types(base, 'active', 'dead') or wrong_types(ready_checks({}, base, level_set))
  if refused then return refused end
  for i, uid in ipairs(due) do
    redis.call('ZREM', scheduled, uid)
    local job = job_key(base, uid)
    local kind = kinds[i]
    if kind == 'hash' then
      requeue(base, uid, job, levels[i], false, true)
    elseif kind ~= 'none' then
      bury(base, uid, job, kind, 'the record is a ' .. kind .. ', not a hash', now, dead_ttl)
    end
  end
end

local FIELDS = { 'payload', 'expires_at', 'max_attempts', 'sig', 'result_ttl', 'attempts', 'limits',
  'enqueued_at', 'pn' }
local REQUIRED = {} -- but a payload, whole or in pieces (joined_payload)
local NUMERIC = { expires_at = true, max_attempts = true, result_ttl = true, attempts = true }
local SCAN_MAX = 200 -- jobs looked at past the first `count` when some are parked: a bound per call
local cache = {} -- limit states, read once per call

local function later(t)
  if t and (not wake_at or t < wake_at) then wake_at = t end
end

-- The queue's own limit caps this batch, keeping the queue's order; its running jobs are `active`.
local q_state = nil
if count > 0 and (q_interval > 0 or q_conc > 0) then
  q_state = limit_state(cache, base .. 'qlimit', 0, now)
  if q_conc > 0 then q_state.running = checked('ZCARD', active) end
  local n, retry_at = room(q_state, q_interval, q_tolerance, q_conc, now, count)
  later(retry_at) -- a full queue is woken by the finish of one of its jobs
  count = n
end

-- Parked jobs whose limit may have room again go back in line, at the front of their levels in their
-- order, as many as it admits.
-- The earliest look of `limited`, read once: most queues have none, and then this is the only call.
local first_look = checked('ZRANGE', limited, 0, 0, 'WITHSCORES')
local limits_moved = false
if count > 0 and first_look[2] and tonumber(first_look[2]) <= now then
  limits_moved = true
  local looks = redis.call('ZRANGE', limited, '-inf', now, 'BYSCORE', 'LIMIT', 0, 16)
  -- Every limit's parked head and its records are read, and the lists they go back to checked, before
  -- the first write (on a Cluster slot being moved, a record that has moved fails its read).
  local plans, level_set = {}, {}
  for _, spec in ipairs(looks) do
    local lim = limit_parse(spec)
    local plan = { spec = spec, lim = lim, back = {}, off = 0 }
    plans[#plans + 1] = plan
    if lim then
      plan.parked = parked_key(base, lim)
      plan.st = limit_state(cache, limit_base(base, lim), lim.conc, now)
      plan.n, plan.retry_at = room(plan.st, lim.interval, lim.tolerance, lim.conc, now, count,
        lim.scope == 'g')
      local rounds = 0
      while #plan.back < plan.n and rounds < 8 do
        local wanted = plan.n - #plan.back
        local head = checked('ZRANGE', plan.parked, plan.off, plan.off + wanted - 1, 'WITHSCORES')
        if #head == 0 then break end
        for j = 1, #head, 2 do
          local job = job_key(base, head[j])
          local f = read_record(job, 'state')
          if f and record_state(job, f[1]) == 'queued' then -- cancelled or deleted meanwhile: it leaves the line for good
            local level = level_of_score(head[j + 1])
            plan.back[#plan.back + 1] = { head[j], level }
            level_set[level] = true
          end
        end
        plan.off = plan.off + #head / 2
        rounds = rounds + 1
      end
    end
  end
  if next(level_set) then
    refused = wrong_types(ready_checks({}, base, level_set))
    if refused then return refused end
  end
  for _, plan in ipairs(plans) do
    local lim, spec, parked = plan.lim, plan.spec, plan.parked
    if not lim then
      redis.call('ZREM', limited, spec)
    else
      if plan.off > 0 then redis.call('ZREMRANGEBYRANK', parked, 0, plan.off - 1) end
      ready_push_front(base, plan.back)
      if redis.call('ZCARD', parked) == 0 then
        redis.call('ZREM', limited, spec)
      else
        -- When to look again: when the limit frees (no room now), when the rate allows one more after
        -- those taken back, or at the next fetch (there was room; once it is full, a finish says so).
        local n = plan.n
        local again = plan.retry_at or now
        if n > 0 and lim.interval > 0 then
          again = after_starts(plan.st.tat, lim.interval, n, now) - lim.tolerance
        end
        redis.call('ZADD', limited, again, spec)
      end
    end
  end
end

local out = { -1 }
local parked_any = false
if count > 0 then
  -- Every record is read and judged before anything is written. Jobs are looked at in line order, level
  -- by level (highest first), from the head of each list; the ones looked at all leave the index
  -- (leased, parked, expired, buried, or gone), so they are a prefix of each list looked at.
  local records, leases, expired, damaged, parked = {}, {}, {}, {}, {}
  local looked, taken, checks = 0, 0, {}
  local levels = checked('ZRANGE', levels_key, 0, 15) -- a page of levels: more are read if needed
  local li, pos, trims = 1, 0, {} -- trims[i]: how many of level i's list were looked at
  while taken < count and looked < count + SCAN_MAX do
    if li > #levels then
      if #levels == 0 or #levels % 16 ~= 0 then break end
      local more = redis.call('ZRANGE', levels_key, #levels, #levels + 15)
      if #more == 0 then break end
      for _, level in ipairs(more) do levels[#levels + 1] = level end
    end
    local level, want = levels[li], count - taken
    local uids = checked('LRANGE', ready_key(base, level), pos, pos + want - 1)
    for _, uid in ipairs(uids) do
      if taken >= count then break end
      looked = looked + 1
      pos = pos + 1
      local job = job_key(base, uid)
      local f, kind = read_record(job, unpack(FIELDS))
      local problem, gone = record_problem(job, f, kind, FIELDS, REQUIRED, NUMERIC, 8)
      if not problem and not gone then
        f[1] = joined_payload(job, f[1], f[9])
        if not f[1] then problem = 'the record has no payload' end
      end
      local list = nil
      if not problem and not gone and f[7] then
        list, problem = limits_of(f[7])
      end
      if problem then
        damaged[#damaged + 1] = { uid, job, kind or 'hash', problem }
      elseif not gone then
        local expires = tonumber(f[2])
        local blocked, retry_at = nil, nil
        if list then
          for _, lim in ipairs(list) do
            local n
            n, retry_at = room(limit_state(cache, limit_base(base, lim), lim.conc, now), lim.interval,
              lim.tolerance, lim.conc, now, 1, lim.scope == 'g')
            if n == 0 then
              blocked = lim
              break
            end
          end
        end
        if expires and expires <= now then
          expired[#expired + 1] = { uid, job, tonumber(f[5]) or RESULT_TTL, f[1] }
        elseif blocked then
          parked[#parked + 1] = { uid, level, blocked, retry_at }
          checks[#checks + 1] = parked_key(base, blocked)
          checks[#checks + 1] = 'zset'
        else
          if list then
            for _, lim in ipairs(list) do
              take(cache[limit_base(base, lim)], lim.interval, lim.conc, now, uid, now + lease_ms)
            end
          end
          taken = taken + 1
          records[#records + 1] = { uid, job, f }
          leases[#leases + 1] = now + lease_ms
          leases[#leases + 1] = uid
        end
      end
    end
    trims[li] = pos
    if #uids < want then li, pos = li + 1, 0 end -- this level's list ends here: the next level
  end
  if #parked > 0 then
    checks[#checks + 1] = limited
    checks[#checks + 1] = 'zset'
  end
  if #damaged > 0 and #due == 0 then
    checks[#checks + 1] = base .. 'dead'
    checks[#checks + 1] = 'zset'
  end
  local refused = wrong_types(checks)
  if refused then return refused end
  -- When nothing was due this ZADD is the first write: on an `active` of another type it fails, and
  -- nothing is written.
  if #leases > 0 then call_with('ZADD', active, leases) end
  for i, n in pairs(trims) do -- exactly those looked at: atomic
    local key = ready_key(base, levels[i])
    if n > 0 then redis.call('LTRIM', key, n, -1) end
    if redis.call('LLEN', key) == 0 then redis.call('ZREM', levels_key, levels[i]) end
  end
  for _, r in ipairs(records) do
    local uid, job, f = r[1], r[2], r[3]
    local attempts = (tonumber(f[6]) or 0) + 1
    redis.call('HSET', job, 'attempts', attempts, 'state', 'active', 'started_at', now, 'worker', worker_id,
      'lease', worker_id .. '/' .. attempts)
    out[#out + 1] = uid
    out[#out + 1] = f[1]
    out[#out + 1] = attempts
    out[#out + 1] = f[3] or MAX_ATTEMPTS
    out[#out + 1] = f[4] or ''
    out[#out + 1] = f[8] or ''
  end
  for _, st in pairs(cache) do limit_write(st, now) end
  if q_state and q_interval > 0 then
    for _ = 1, taken do take(q_state, q_interval, 0, now, nil, nil) end
    q_state.dirty = true
    limit_write(q_state, now)
  end
  -- A parked job's score keeps its place among the jobs parked behind the same limit: its level first,
  -- then after those of its level already there (the next one in line parks after them).
  local orders = {}
  for _, p in ipairs(parked) do
    local key = parked_key(base, p[3])
    local low = -tonumber(p[2]) * PRIORITY_SPAN
    local id = key .. ' ' .. p[2]
    if not orders[id] then
      local last = redis.call('ZREVRANGEBYSCORE', key, string.format('%d', low + PRIORITY_SPAN - 1),
        string.format('%d', low), 'WITHSCORES', 'LIMIT', 0, 1)
      orders[id] = last[2] and tonumber(last[2]) or low - 1
    end
    orders[id] = orders[id] + 1
    redis.call('ZADD', key, orders[id], p[1])
    local score = tonumber(redis.call('ZSCORE', limited, p[3].spec))
    if not score or score > p[4] then redis.call('ZADD', limited, math.max(p[4], now + 1), p[3].spec) end
    parked_any = true
  end
  local expired_tasks = {}
  for _, e in ipairs(expired) do
    finalize(base, e[1], e[2], 'expired', now, e[3])
    local task = task_of(e[4])
    expired_tasks[task] = (expired_tasks[task] or 0) + 1
  end
  if #expired > 0 then
    add_to(stats, 'expired', #expired)
    count_tasks(base, 'expired', expired_tasks)
  end
  for _, d in ipairs(damaged) do
    bury(base, d[1], d[2], d[3], d[4], now, dead_ttl)
  end
  -- Work left behind: pass the wake token on (a batch smaller than asked for emptied the queue).
  if taken == count and redis.call('ZCARD', levels_key) > 0 then wake_one(wake) end
end
local next_due = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
if next_due[2] then later(tonumber(next_due[2])) end
local next_look = first_look
if limits_moved or parked_any then next_look = redis.call('ZRANGE', limited, 0, 0, 'WITHSCORES') end
if next_look[2] then later(tonumber(next_look[2])) end
-- Jobs were set aside and others may wait behind them: fetch again at once.
if parked_any and redis.call('ZCARD', levels_key) > 0 then later(now) end
-- Legacy jobs are still to move into the ready index: fetch again at once.
if legacy_left then later(now) end
if wake_at then out[1] = math.floor(wake_at) end
return out
