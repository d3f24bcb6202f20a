-- Settle a batch of deliveries: success, retry later, dead, released unrun (graceful shutdown: back to
-- the front of the queue without spending the attempt), deferred (the task raised RateLimited: due
-- again at retry_at without spending the attempt, and its limits, else its queue's, start nothing before),
-- or aborted (abort.lua marked it).
-- KEYS: active, scheduled, succeeded, dead, stats, wake, levels
-- ARGV: base, now_ms, dead_ttl_s, count, the queue's own limit (interval_ms, tolerance_ms, max_running;
--       zeros: none), then per delivery 7 values:
--       uid, lease_token, outcome ('ok' | 'retry' | 'dead' | 'release' | 'defer' |
--       'abort'), data (result or error
--       JSON), retry_at_ms, task (its name, for the counters per task; '' when the worker could not tell),
--       run_ms (the attempt's run time as the worker measured it; negative: it did not run)
-- Every settled job frees its place under its limits (limits.lua).
-- A delivery whose lease is no longer held (it lapsed and the job was recovered, or the record is not a
-- hash any more) changes nothing: the sweeper deals with what is left in `active`.
-- Returns {the uids of those stale deliveries, 1 if outcomes were added to the `outbox` for the jobs that
-- wait for these (issue 16: the worker carries them on at once) else 0}.
local active, scheduled, succeeded, dead, stats, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local base, now, dead_ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local q_interval, q_tolerance, q_conc = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

-- Every record is read and every outcome decided before anything is written.
local done_fields = {}
local histories = {} -- uid -> the history of a job whose attempt is retried, this attempt added
local stale, settled, by_outcome = {}, {}, { ok = {}, retry = {}, dead = {}, release = {}, defer = {},
  abort = {} }
for i = 0, n - 1 do
  local b = 8 + i * 7
  local uid, token, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local job = job_key(base, uid)
  local f = read_record(job, 'lease', 'attempts', 'max_attempts', 'result_ttl', 'unique_key', 'watched',
    'limits', 'abort', 'priority', 'parents', 'deps_left', 'started_at', 'enqueued_at', 'due_at')
  if not f or f[1] ~= token then
    stale[#stale + 1] = uid
  else
    local attempts, max_attempts = tonumber(f[2]), tonumber(f[3] or MAX_ATTEMPTS)
    -- Counts that are not numbers (a damaged record) allow no retry: the job ends dead with its error.
    if outcome == 'retry' and not (attempts and max_attempts and attempts < max_attempts) then
      outcome = 'dead'
    end
    -- Marked for abort after its worker decided: it must not run again (a retry, a release) nor wait
    -- in the dead letters to be requeued. A success stays one: the job did finish.
    if f[8] and outcome ~= 'ok' then outcome = 'abort' end
    if outcome == 'retry' then -- the failed attempt joins the job's history (attempts.lua)
      local last = redis.call('HMGET', job, 'worker', 'started_at', 'history')
      local entry = attempt_entry(attempts, last[1], last[2], now, 'failed', ARGV[b + 3])
      histories[uid] = add_attempt(last[3], entry)
    end
    settled[#settled + 1] = uid
    done_fields[uid] = f
    local group = by_outcome[outcome]
    -- [7] is a released job's level, set below; [8] the run time
    group[#group + 1] = { uid, job, f, ARGV[b + 3], tonumber(ARGV[b + 4]), ARGV[b + 5], false,
      tonumber(ARGV[b + 6]) }
  end
end
if #settled == 0 then return { stale, 0 } end

-- The keys this batch's outcomes write, beyond `active`: its ZREM, the first write, checks it.
local checks = {}
for outcome, key in pairs({ ok = succeeded, retry = scheduled, dead = dead, defer = scheduled }) do
  if #by_outcome[outcome] > 0 then
    checks[#checks + 1] = key
    checks[#checks + 1] = 'zset'
  end
end
local told = 0 -- parents told of a final state through the outbox
for _, outcome in ipairs({ 'ok', 'dead', 'abort' }) do
  for _, d in ipairs(by_outcome[outcome]) do
    if d[3][10] then told = 1 end
  end
end
if told == 1 then
  checks[#checks + 1] = base .. 'outbox'
  checks[#checks + 1] = 'list'
end
if #by_outcome.release > 0 then -- released jobs go back to the front of their levels
  local levels = {}
  for _, d in ipairs(by_outcome.release) do
    d[7] = ready_level(d[3][9])
    levels[d[7]] = true
  end
  ready_checks(checks, base, levels)
end
local refused = wrong_types(checks)
if refused then return refused end

call_with('ZREM', active, settled)
local done = {}
for _, d in ipairs(by_outcome.ok) do
  local uid, job, f = d[1], d[2], d[3]
  finalize_known(base, uid, job, 'succeeded', now, tonumber(f[4]) or RESULT_TTL, f[5], f[6], 'result', d[4],
    f[10], f[11])
  done[#done + 1] = now
  done[#done + 1] = uid
end
if #done > 0 then call_with('ZADD', succeeded, done) end
for _, d in ipairs(by_outcome.retry) do
  local uid, job, history = d[1], d[2], histories[d[1]]
  unpiece_for(job, #d[4] > #history and d[4] or history) -- the longer of the two decides
  redis.call('HSET', job, 'error', d[4], 'state', 'scheduled', 'due_at', d[5], 'history', history)
  redis.call('HDEL', job, 'lease')
  redis.call('ZADD', scheduled, d[5], uid)
end
for _, d in ipairs(by_outcome.dead) do
  local uid, job, f = d[1], d[2], d[3]
  finalize_known(base, uid, job, 'dead', now, dead_ttl, f[5], f[6], 'error', d[4], f[10], f[11])
  redis.call('ZADD', dead, now, uid)
end
for _, d in ipairs(by_outcome.abort) do
  local uid, job, f = d[1], d[2], d[3]
  finalize_known(base, uid, job, 'aborted', now, tonumber(f[4]) or RESULT_TTL, f[5], f[6], 'error', d[4],
    f[10], f[11])
end
for i = #by_outcome.release, 1, -1 do -- last first: at the front of their levels, in the batch's order
  local d = by_outcome.release[i]
  redis.call('HSET', d[2], 'attempts', math.max((tonumber(d[3][2]) or 1) - 1, 0))
  requeue(base, d[1], d[2], d[7], true)
end
for _, d in ipairs(by_outcome.defer) do
  local uid, job, f, until_ms = d[1], d[2], d[3], d[5]
  redis.call('HSET', job, 'attempts', math.max((tonumber(f[2]) or 1) - 1, 0), 'state', 'scheduled',
    'due_at', until_ms)
  redis.call('HDEL', job, 'lease')
  redis.call('ZADD', scheduled, until_ms, uid)
  local list = f[7] and limits_of(f[7])
  if list and #list > 0 then
    for _, lim in ipairs(list) do pause_limit(limit_base(base, lim), lim.tolerance, until_ms, now) end
  elseif q_interval > 0 or q_conc > 0 then
    pause_limit(base .. 'qlimit', q_tolerance, until_ms, now)
  end
end

-- Places under limits are free again; jobs parked behind them are looked at by the next fetch.
local freed = false
for _, uid in ipairs(settled) do
  local f = done_fields[uid]
  local list = f[7] and limits_of(f[7])
  if list and release(base, uid, list, now) then freed = true end
end

local n_ok, n_retried, n_dead = #by_outcome.ok, #by_outcome.retry, #by_outcome.dead
if n_ok > 0 then add_to(stats, 'succeeded', n_ok) end
if n_retried + n_dead > 0 then add_to(stats, 'failed', n_retried + n_dead) end
-- Over time (metrics.lua): each attempt that ended, its run time and the queue wait before it, which
-- starts at its due time (a delayed or retried job) or else at its enqueue.
if n_ok + n_retried + n_dead > 0 then
  local queue_tally, task_tallies = {}, {}
  for _, outcome in ipairs({ 'ok', 'retry', 'dead' }) do
    for _, d in ipairs(by_outcome[outcome]) do
      local f, run_ms = d[3], d[8]
      if not run_ms or run_ms < 0 then run_ms = nil end
      local started, ready = tonumber(f[12]), tonumber(f[14]) or tonumber(f[13])
      local wait_ms = started and ready and math.max(started - ready, 0) or nil
      local tally = task_tallies[d[6]]
      if not tally then
        tally = {}
        task_tallies[d[6]] = tally
      end
      metric_observe(queue_tally, tally, outcome == 'ok', run_ms, wait_ms)
    end
  end
  metric_flush(base, now, queue_tally, task_tallies)
end
if n_retried > 0 then add_to(stats, 'retried', n_retried) end
if n_dead > 0 then add_to(stats, 'dead', n_dead) end
-- The same per task (a batch holds few tasks: one HINCRBY per task and counter).
local function per_task(group)
  local counts = {}
  for _, d in ipairs(group) do counts[d[6]] = (counts[d[6]] or 0) + 1 end
  return counts
end
if n_ok > 0 then count_tasks(base, 'succeeded', per_task(by_outcome.ok)) end
if n_retried > 0 then
  local counts = per_task(by_outcome.retry)
  count_tasks(base, 'failed', counts)
  count_tasks(base, 'retried', counts)
end
if n_dead > 0 then
  local counts = per_task(by_outcome.dead)
  count_tasks(base, 'failed', counts)
  count_tasks(base, 'dead', counts)
end
if #by_outcome.abort > 0 then add_to(stats, 'aborted', #by_outcome.abort) end
if n_retried > 0 or #by_outcome.release > 0 or #by_outcome.defer > 0 or freed or q_conc > 0 then
  -- An idle worker takes released jobs, re-reads the next due time, or takes the place a job freed.
  wake_one(wake)
end
if #by_outcome.defer > 0 then add_to(stats, 'deferred', #by_outcome.defer) end
return { stale, told }
