-- Metrics per queue and per task over time (issue 17): the dashboard's charts and the admin API's
-- `_charts` routes read them (core/task_metrics.py, which holds the same layout).
--
-- A metrics record is a string of up to 38 unsigned 32-bit counters (152 bytes), written with one BITFIELD:
--   #0 attempts that succeeded, #1 attempts that failed (retried or dead), then per bucket b (0..17,
--   milliseconds, METRIC_BOUNDS) #2+2b its run times and #3+2b its queue waits. Interleaved, so that a
--   record of fast jobs stays short: a string is only as long as its highest counter written (measured:
--   ~150 B per record less than run buckets then wait buckets, benchmarks/README.md).
-- Fixed buckets make a record a fixed cost whatever the volume, and percentiles computable from sums of
-- records. Records, all in the queue's slot:
--   <base>metrics:m:<epoch minute>         the queue, kept 72 h
--   <base>metrics:h:<epoch hour>           the queue, kept 30 days
--   <base>metrics:m:<epoch minute>:<task>  one task, kept 72 h
--   <base>metrics:h:<epoch hour>:<task>    one task, kept 30 days
-- The hour records are written with the minute ones (the roll-up is incremental: nothing to compute or
-- lose later). Counters are hints, written with pcall, as `stats` is: they never fail a settlement.
local METRIC_BOUNDS = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
  1800000 }
local METRIC_RUN, METRIC_WAIT = 2, 3 -- the counters of bucket b: METRIC_RUN + 2b, METRIC_WAIT + 2b
local METRIC_MINUTE_TTL, METRIC_HOUR_TTL = 72 * 3600 + 120, 30 * 86400 + 7200

local function metric_bucket(ms)
  for i = 1, #METRIC_BOUNDS do
    if ms <= METRIC_BOUNDS[i] then return i - 1 end
  end
  return #METRIC_BOUNDS
end

-- One attempt into two tallies (counter index -> increment), its queue's and its task's: its counters are
-- found once. `run_ms`/`wait_ms` are nil when not known (a job refused before it ran has no run time).
local function metric_observe(queue_tally, task_tally, ok, run_ms, wait_ms)
  local slots = { ok and 0 or 1 }
  if run_ms then slots[#slots + 1] = METRIC_RUN + 2 * metric_bucket(run_ms) end
  if wait_ms then slots[#slots + 1] = METRIC_WAIT + 2 * metric_bucket(wait_ms) end
  for _, slot in ipairs(slots) do
    queue_tally[slot] = (queue_tally[slot] or 0) + 1
    task_tally[slot] = (task_tally[slot] or 0) + 1
  end
end

-- Add a tally to one record. Its expiry is set only when the record is new: every tally counts attempts
-- (#0 or #1), so a record whose counts come back equal to the tally's held none before (a record that
-- existed may get a redundant EXPIRE, never a missing one). OVERFLOW SAT: a counter stops at 2^32-1.
local function metric_write(key, tally, ttl)
  local slots = {}
  for slot in pairs(tally) do slots[#slots + 1] = slot end
  table.sort(slots)
  local args = { 'OVERFLOW', 'SAT' }
  for _, slot in ipairs(slots) do
    args[#args + 1] = 'INCRBY'
    args[#args + 1] = 'u32'
    args[#args + 1] = '#' .. slot
    args[#args + 1] = tally[slot]
  end
  local values = redis.pcall('BITFIELD', key, unpack(args))
  if values.err then return end
  for i, slot in ipairs(slots) do
    if slot > 1 then break end
    if values[i] ~= tally[slot] then return end
  end
  redis.pcall('EXPIRE', key, ttl)
end

-- The queue's tally and each task's (task name -> tally; '' is counted for the queue only).
local function metric_flush(base, now, queue_tally, task_tallies)
  if next(queue_tally) == nil then return end
  local minute, hour = ':' .. math.floor(now / 60000), ':' .. math.floor(now / 3600000)
  metric_write(base .. 'metrics:m' .. minute, queue_tally, METRIC_MINUTE_TTL)
  metric_write(base .. 'metrics:h' .. hour, queue_tally, METRIC_HOUR_TTL)
  for task, tally in pairs(task_tallies) do
    if task ~= '' then
      metric_write(base .. 'metrics:m' .. minute .. ':' .. task, tally, METRIC_MINUTE_TTL)
      metric_write(base .. 'metrics:h' .. hour .. ':' .. task, tally, METRIC_HOUR_TTL)
    end
  end
end

-- Failed attempts whose task and times are not at hand (a record recovered dead by the sweeper, a corrupt
-- one buried): counted for the queue.
local function metric_failed(base, now, n)
  metric_flush(base, now, { [1] = n }, {})
end

-- This minute's and the last minute's (succeeded, failed) of a queue, for its rates (stats.lua): the first
-- 8 bytes of two records, decoded here (a missing record is zeros).
local function metric_recent(base, now)
  local minute = math.floor(now / 60000)
  local out = {}
  for _, m in ipairs({ minute, minute - 1 }) do
    local raw = checked('GETRANGE', base .. 'metrics:m:' .. m, 0, 7)
    local counts = {}
    for c = 0, 1 do
      local b1, b2, b3, b4 = string.byte(raw, c * 4 + 1, c * 4 + 4)
      counts[c + 1] = (((b1 or 0) * 256 + (b2 or 0)) * 256 + (b3 or 0)) * 256 + (b4 or 0)
    end
    out[#out + 1] = counts
  end
  return out
end
