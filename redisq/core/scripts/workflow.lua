-- Follows common.lua in the scripts that call `workflow_lib` (scripts.py looks for the name): a job that
-- waits for other jobs (issue 16). Its functions are built by `workflow_lib()` only in a call that needs
-- them: a script defines each of its functions on every call (a closure each), and enqueue.lua, which
-- carries this library for the jobs with dependencies, would pay ~2 us per call for all of them.
--
-- A parent (a job enqueued with dependencies) is created in state `waiting`: in no ready list, but in
-- the queue's `waiting` zset (by enqueue time), with `deps_left` in its record, the number of its
-- dependencies not yet satisfied. `deps:<uid>` (a hash in the parent's slot) maps each dependency's job
-- id to `<policy>:<outcome>`: its failure policy (fail, continue, ignore, remove) and its final state
-- ('' while it has not ended). A dependency names its parents in its record's `parents` field; each of
-- its final states is appended to its own queue's `outbox` by finalize_known, in the script that ends it
-- (common.lua). Workers move outbox entries to the parents with `dep_done.lua`, which calls `dep_apply`:
-- the child's outbox and the parent's records may live in different Cluster slots, so the move is a
-- second step, made idempotent by the outcome kept in `deps:<uid>` (a replay finds it there and does
-- nothing), and an entry leaves the outbox only after it was applied.
local function workflow_lib()
  local DEP_KEEP_S = 86400 -- how long an outcome waits for a parent that is not created yet

  local function deps_key(base, uid)
    return base .. 'deps:' .. uid
  end

  -- Succeeded satisfies any dependency; a failure only one whose policy ignores or removes it.
  local function dep_satisfied(policy, outcome)
    if outcome == 'succeeded' then return true end
    return outcome ~= '' and (policy == 'ignore' or policy == 'remove')
  end

  local function split_dep(value)
    if not value then return '', '' end
    local policy, outcome = string.match(value, '^(%a*):(%a*)$')
    return policy or '', outcome or ''
  end

  -- The keys `dep_apply` may write for a parent of priority `priority`, for `wrong_types`.
  local function dep_checks(base, uid, priority)
    local checks = { deps_key(base, uid), 'hash', base .. 'waiting', 'zset', base .. 'dead', 'zset',
      base .. 'scheduled', 'zset' }
    return ready_checks(checks, base, { [ready_level(priority)] = true })
  end

  -- A parent's wait is over: to its level's list, or to `scheduled` if it was enqueued with a later due
  -- time.
  local function dep_release(base, uid, job, priority, due_at, now)
    redis.call('ZREM', base .. 'waiting', uid)
    redis.call('HDEL', job, 'blocked', 'finished_at', 'error')
    redis.call('PERSIST', job)
    local due = tonumber(due_at)
    if due and due > now then
      redis.call('HSET', job, 'state', 'scheduled')
      redis.call('ZADD', base .. 'scheduled', due, uid)
    else
      requeue(base, uid, job, ready_level(priority), false)
    end
    wake_one(base .. 'wake')
  end

  -- Apply the final state `outcome` of dependency `child` (a job id) to parent `uid` of this queue. The
  -- caller has checked the types of `dep_checks`. A parent not created yet keeps the outcome for its enqueue
  -- (the enqueue registers a parent on its dependencies before it creates it: see workflow_ops.py).
  local function dep_apply(base, uid, child, outcome, now, dead_ttl)
    local deps, job = deps_key(base, uid), job_key(base, uid)
    local policy, old = split_dep(redis.call('HGET', deps, child))
    if old == outcome then return end -- a replay: already applied
    local f = read_record(job, 'state', 'deps_left', 'priority', 'due_at', 'unique_key', 'watched', 'blocked',
      'parents', 'result_ttl')
    local state = f and record_state(job, f[1])
    if not state then
      if policy == '' then
        redis.call('HSET', deps, child, ':' .. outcome)
        redis.call('EXPIRE', deps, DEP_KEEP_S)
      end
      return
    end
    if policy == '' then return end -- not one of this job's dependencies
    redis.call('HSET', deps, child, policy .. ':' .. outcome)
    local was, is = dep_satisfied(policy, old), dep_satisfied(policy, outcome)
    local left = tonumber(f[2]) or 0
    if was ~= is then
      left = left + (was and 1 or 0) - (is and 1 or 0)
      redis.call('HSET', job, 'deps_left', left)
    end
    if state == 'waiting' then
      if left <= 0 or (policy == 'continue' and not is) then
        dep_release(base, uid, job, f[3], f[4], now)
      elseif policy == 'fail' and not is then
        -- Dead, and `blocked`: if the dependency later succeeds (an operator retried it), the parent goes on.
        local error_json = cjson.encode({ type = 'DependencyFailed',
          message = 'dependency ' .. child .. ' ended ' .. outcome, traceback = '' })
        redis.call('ZREM', base .. 'waiting', uid)
        redis.call('HSET', job, 'blocked', 1)
        finalize_known(base, uid, job, 'dead', now, dead_ttl, f[5], f[6], 'error', error_json, f[8], true)
        redis.call('ZADD', base .. 'dead', now, uid)
        add_to(base .. 'stats', 'dead', 1)
      end
    elseif state == 'dead' and f[7] and left <= 0 then
      redis.call('ZREM', base .. 'dead', uid)
      dep_release(base, uid, job, f[3], f[4], now)
    end
  end

  -- Register `parent` (a job id) on this queue's job `uid`: returns its final state if it has one ('' while
  -- it has not ended), or nil when there is no such job (nothing written). Already registered: unchanged.
  local function dep_link(base, uid, parent)
    local job = job_key(base, uid)
    local f = read_record(job, 'state', 'parents')
    local state = f and record_state(job, f[1])
    if not state then return nil end
    local parents = f[2] or ''
    if not string.find(' ' .. parents .. ' ', ' ' .. parent .. ' ', 1, true) then
      redis.call('HSET', job, 'parents', parents == '' and parent or parents .. ' ' .. parent)
    end
    if state == 'queued' or state == 'scheduled' or state == 'active' or state == 'waiting' then return '' end
    return state
  end

  -- A job with deps is created `waiting` (not in a ready list), with the outcomes known so far applied:
  -- those its enqueue read when it registered it on its dependencies, or that reached it before it existed.
  local function create_waiting(base, uid, job, fields, spec, now)
    local dead_ttl, rest = string.match(spec, '^(%d+) ?(.*)$')
    local deps, known, n = {}, {}, 0
    for child, policy, seen in string.gmatch(rest, '(%S+) (%a+) (%S+)') do
      deps[#deps + 1] = { child, policy, seen }
    end
    fields[#fields + 1] = 'state'
    fields[#fields + 1] = 'waiting'
    fields[#fields + 1] = 'deps_left'
    fields[#fields + 1] = #deps
    redis.call('HSET', job, unpack(fields))
    redis.call('ZADD', base .. 'waiting', now, uid)
    local deps_hash = deps_key(base, uid)
    redis.call('PERSIST', deps_hash) -- outcomes that arrived first were kept for a day: now for its life
    for _, d in ipairs(deps) do
      local _, early = split_dep(redis.call('HGET', deps_hash, d[1]))
      redis.call('HSET', deps_hash, d[1], d[2] .. ':')
      local outcome = early ~= '' and early or (d[3] ~= '-' and d[3] or '')
      if outcome ~= '' then known[#known + 1] = { d[1], outcome } end
    end
    for _, k in ipairs(known) do dep_apply(base, uid, k[1], k[2], now, tonumber(dead_ttl)) end
  end

  -- Keep-last-if-active (issue 16): while the job holding the key runs, a call makes one follow-up job that
  -- waits for it (whatever its outcome: policy `ignore`) and takes the key; while that follow-up waits, a
  -- call gives it its own payload (the newest arguments win) and returns it. A holder that has not started
  -- is returned as it is; one that ended leaves the key to this call. Returns (holder to return or false,
  -- the `deps` spec of this call's job or nil).
  local function keep_last(base, holder, uid, payload, fields)
    local job = job_key(base, holder)
    local f = read_record(job, 'state', 'pn', 'deps_left')
    local state = f and record_state(job, f[1])
    if state == 'active' then
      local queue = string.match(base, '{([^}]*)}:$')
      dep_link(base, holder, queue .. ':' .. uid)
      return false, '0 ' .. queue .. ':' .. holder .. ' ignore -'
    end
    if state == 'waiting' and f[3] then
      local names = { 'payload', 'pn' }
      if f[2] then
        for _, name in ipairs(piece_names(tonumber(f[2]) or 0)) do names[#names + 1] = name end
      end
      redis.call('HDEL', job, unpack(names))
      local replaced = {}
      add_payload(replaced, payload)
      for i = 1, #fields - 1, 2 do -- and the signature that goes with it
        if fields[i] == 'sig' then
          replaced[#replaced + 1] = 'sig'
          replaced[#replaced + 1] = fields[i + 1]
        end
      end
      redis.call('HSET', job, unpack(replaced))
      return holder, nil
    end
    if state == 'queued' or state == 'scheduled' or state == 'waiting' then return holder, nil end
    return false, nil
  end

  return { checks = dep_checks, apply = dep_apply, link = dep_link, create_waiting = create_waiting,
    keep_last = keep_last }
end
