-- One queue's numbers in one round trip, all O(1) or O(log n), but for the queued count: one LLEN per
-- priority level that holds jobs (a few).
-- KEYS: levels, scheduled, active, dead, stats. ARGV: base, now_ms.
-- Returns {queued, scheduled, active, dead, counters (flat HGETALL), head_enqueued_at or false,
--          this minute {succeeded, failed}, last minute {succeeded, failed}, paused (0 or 1),
--          succeeded records kept (the size of the trimmed succeeded index), jobs parked behind their
--          limits (counted over the first 100 limits that hold some), jobs waiting for their
--          dependencies (issue 16)}.
-- Reads only: a key of another type is an error reply that names it (no number here would be true).
local base, now = ARGV[1], tonumber(ARGV[2])
local recent = metric_recent(base, now) -- this minute's and the last one's (succeeded, failed)

-- Queued: the levels' lists, and the legacy `queued` of a queue that a fetch has not upgraded yet (its
-- jobs are older: its head is the line's).
local queued, head = 0, false
local levels = checked('ZRANGE', KEYS[1], 0, -1)
for i, level in ipairs(levels) do
  local key = ready_key(base, level)
  queued = queued + checked('LLEN', key)
  if i == 1 then head = redis.call('LINDEX', key, 0) end
end
local legacy = checked('ZCARD', base .. 'queued')
if legacy > 0 then
  queued = queued + legacy
  head = redis.call('ZRANGE', base .. 'queued', 0, 0)[1]
end
local head_at = false
if head then
  local f = read_record(job_key(base, head), 'enqueued_at')
  if f and tonumber(f[1]) then head_at = f[1] end
end
local parked = 0
for _, spec in ipairs(checked('ZRANGE', base .. 'limited', 0, 99)) do
  local lim = limit_parse(spec)
  if lim then parked = parked + checked('ZCARD', parked_key(base, lim)) end
end
return {
  queued, checked('ZCARD', KEYS[2]), checked('ZCARD', KEYS[3]), checked('ZCARD', KEYS[4]),
  checked('HGETALL', KEYS[5]), head_at,
  recent[1], recent[2],
  redis.call('EXISTS', base .. 'paused'),
  checked('ZCARD', base .. 'succeeded'), parked, checked('ZCARD', base .. 'waiting'),
}
