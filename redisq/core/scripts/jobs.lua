-- Follows common.lua in the scripts that call `enqueue_jobs` (scripts.py looks for the name): enqueue.lua,
-- and schedule_claim.lua, whose ticks write exactly the records an enqueue writes (issue 12).
--
-- Enqueue one or many jobs of one queue, atomically; `levels` and `argv` are enqueue.lua's KEYS[1] and ARGV.
-- KEYS: levels (its name is <base>levels; the queue's other keys are derived from <base>: same slot. A
--       caller from before issue 15 names <base>queued, of the same length: the same base)
-- ARGV: now_ms, count, default_result_ttl_s, then per job:
--       uid, payload, priority, max_attempts, task, n_extra, then n_extra field/value pairs among
--       due_at, expires_at, result_ttl, dedupe, unique_key, sig, limits, parents, deps (rare options cost
--       nothing when absent; dedupe, `throttle:<ms>` or `debounce:<ms>`, comes before the unique_key it
--       applies to; deps, of a job that waits for others (workflow.lua's create_waiting):
--       `<dead_ttl_s>` then, per dependency, `<job id> <policy> <its final state, or - >`)
--       (task: the task's name, only counted per task in `tasks` (issue 14); the payload names it too)
-- Returns {created, then (position, holder uid) for each job whose unique key an existing job holds}.
-- Debounce (issue 16): a later call replaces the job holding the key if that job has not started (it is
-- scheduled, its window not yet over, and has never run): it ends cancelled, as `cancel` ends a job.
local function replace_waiting(base, uid, now)
  local job = job_key(base, uid)
  local f = read_record(job, 'state', 'attempts', 'result_ttl')
  if not f or f[1] ~= 'scheduled' or (tonumber(f[2]) or 0) > 0 then return end
  redis.call('ZREM', base .. 'scheduled', uid)
  finalize(base, uid, job, 'cancelled', now, tonumber(f[3]) or RESULT_TTL)
  add_to(base .. 'stats', 'cancelled', 1)
end

local function enqueue_jobs(levels_key, argv)
  local base = string.sub(levels_key, 1, -7)
  local now, count, default_ttl = tonumber(argv[1]), tonumber(argv[2]), tonumber(argv[3])
  local scheduled = base .. 'scheduled'

  -- Nothing may be written unless every write can succeed (Redis never rolls a script back). Reads the
  -- script needs anyway check most types for free: ZCARD of `levels` (was the queue empty? then wake a
  -- worker) and LLEN of each level's list (was it empty? then its level joins `levels`) fail on a key of
  -- another type before any write. Keys that only some options touch (a delay: `scheduled`; unique keys)
  -- are checked here when a job names them. The counter and the wake token are hints, written with pcall
  -- (common.lua).
  local was_empty = checked('ZCARD', levels_key) == 0
  local checks, fresh, levels = {}, {}, {}
  local wf = nil -- workflow.lua's functions, built only for a call that needs them
  local b = 4
  for position = 1, count do
    local level = ready_level(argv[b + 2])
    levels[position] = level
    if fresh[level] == nil then fresh[level] = checked('LLEN', ready_key(base, level)) == 0 end
    local n_extra = tonumber(argv[b + 5])
    for i = b + 6, b + 5 + 2 * n_extra, 2 do
      if argv[i] == 'unique_key' then
        checks[#checks + 1] = base .. 'unique:' .. argv[i + 1]
        checks[#checks + 1] = 'string'
      elseif argv[i] == 'dedupe' and string.find(argv[i + 1], 'keep_last', 1, true) == 1 then
        wf = wf or workflow_lib()
        for _, v in ipairs(wf.checks(base, argv[b], argv[b + 2])) do checks[#checks + 1] = v end
      elseif (argv[i] == 'due_at' and tonumber(argv[i + 1]) > now) or argv[i] == 'dedupe' then
        checks[#checks + 1] = scheduled
        checks[#checks + 1] = 'zset'
      elseif argv[i] == 'deps' then
        wf = wf or workflow_lib()
        for _, v in ipairs(wf.checks(base, argv[b], argv[b + 2])) do checks[#checks + 1] = v end
      end
    end
    b = b + 6 + 2 * n_extra
  end
  if #checks > 0 then
    local refused = wrong_types(checks)
    if refused then return refused end
  end

  local out, created, n_queued, n_scheduled = { 0 }, 0, 0, 0
  local ready = {} -- per level, its new uids in order: one RPUSH per level (in chunks) instead of one per job
  local by_task = {}
  b = 4
  for position = 1, count do
    local uid, payload, priority, max_attempts = argv[b], argv[b + 1], tonumber(argv[b + 2]), argv[b + 3]
    local task, n_extra = argv[b + 4], tonumber(argv[b + 5])
    local job = job_key(base, uid)
    local due, holder, waits = 0, false, nil
    local full = not compact(payload) -- a version-1 envelope: the record the previous version reads
    local fields = { 'enqueued_at', now }
    if full or tonumber(max_attempts) ~= MAX_ATTEMPTS then
      fields[#fields + 1] = 'max_attempts'
      fields[#fields + 1] = max_attempts
    end
    if priority ~= 0 then
      fields[#fields + 1] = 'priority'
      fields[#fields + 1] = priority
    end
    if default_ttl ~= RESULT_TTL then
      fields[#fields + 1] = 'result_ttl'
      fields[#fields + 1] = default_ttl
    end
    add_payload(fields, payload)
    if n_extra == 0 then
      if full then
        fields[#fields + 1] = 'state'
        fields[#fields + 1] = 'queued'
      end
      redis.call('HSET', job, unpack(fields))
    else
      local unique_key, mode, window, due_slot = nil, nil, nil, nil
      for i = b + 6, b + 5 + 2 * n_extra, 2 do
        local name, value = argv[i], argv[i + 1]
        if name == 'due_at' then due = tonumber(value) end
        if name == 'dedupe' then
          mode, window = string.match(value, '^([%a_]+):(%d+)$')
          window = tonumber(window)
        elseif name == 'unique_key' and mode == 'throttle' then
          unique_key = value -- not in the record: the key lives for its window, not with the job
        elseif name == 'deps' then
          waits = value
        else
          if name == 'unique_key' then unique_key = value end
          if name ~= 'due_at' or due > now then -- a due time already past: not a scheduled job
            fields[#fields + 1] = name
            fields[#fields + 1] = value
            if name == 'due_at' then due_slot = #fields end
          end
        end
      end
      if mode == 'debounce' and due < now + window then
        -- The window counts from the call's arrival here: a call that reached Redis late (Python set
        -- its due time from the client's clock) must still be replaceable for the whole window.
        due = now + window
        if due_slot then
          fields[due_slot] = due
        else
          fields[#fields + 1] = 'due_at'
          fields[#fields + 1] = due
        end
      end
      if unique_key then
        local unique = base .. 'unique:' .. unique_key
        if mode == 'throttle' then -- the first call of the window takes the key; the others get its job
          if not redis.call('SET', unique, uid, 'NX', 'PX', window) then holder = redis.call('GET', unique) end
        else
          holder = redis.call('GET', unique)
          if holder and mode == 'debounce' then
            replace_waiting(base, holder, now)
            holder = false -- replaced, or already started: this call's job runs after its own window
          elseif holder and mode == 'keep_last' then
            holder, waits = wf.keep_last(base, holder, uid, payload, fields)
          elseif holder and redis.call('EXISTS', job_key(base, holder)) == 0 then
            holder = false
          end
          if not holder then redis.call('SET', unique, uid) end
        end
      end
      if holder then
        out[#out + 1] = position
        out[#out + 1] = holder
      elseif waits then
        wf.create_waiting(base, uid, job, fields, waits, now)
      else
        if full or due > now then
          fields[#fields + 1] = 'state'
          fields[#fields + 1] = (due > now) and 'scheduled' or 'queued'
        end
        redis.call('HSET', job, unpack(fields))
      end
    end
    b = b + 6 + 2 * n_extra

    if not holder then
      created = created + 1
      by_task[task] = (by_task[task] or 0) + 1
      if waits then
        -- in `waiting`: its dependencies' outcomes release it (workflow.lua)
      elseif due > now then
        redis.call('ZADD', scheduled, due, uid)
        n_scheduled = n_scheduled + 1
      else
        local level = levels[position]
        local uids = ready[level]
        if not uids then
          uids = {}
          ready[level] = uids
        end
        uids[#uids + 1] = uid
        n_queued = n_queued + 1
      end
    end
  end
  for level, uids in pairs(ready) do
    -- A level is in `levels` exactly while its list holds jobs: only a list that was empty adds it.
    if fresh[level] then
      ready_push(base, level, 'RPUSH', uids)
    else
      call_with('RPUSH', ready_key(base, level), uids)
    end
  end
  out[1] = created
  if created > 0 then
    add_to(base .. 'stats', 'enqueued', created)
    count_tasks(base, 'enqueued', by_task)
    -- Idle workers only block when they found the queue empty: wake one when it stops being empty (the
    -- woken worker passes the wake on while work remains, see fetch.lua). A new scheduled job may be due
    -- before an idle worker's wait ends: wake one to shorten it.
    if n_scheduled > 0 or (n_queued > 0 and was_empty) then
      wake_one(base .. 'wake')
    end
  end
  return out
end
