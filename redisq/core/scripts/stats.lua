-- One queue's numbers in one round trip, all O(1) or O(log n).
-- KEYS: queued, scheduled, active, dead, stats. ARGV: base, now_ms.
-- Returns {queued, scheduled, active, dead, counters (flat HGETALL), head_enqueued_at or false,
--          this minute {succeeded, failed}, last minute {succeeded, failed}, paused (0 or 1),
--          succeeded records kept (the size of the trimmed succeeded index)}.
-- A key of the wrong type is an error that names it (no number here would be true).
local base, now = ARGV[1], tonumber(ARGV[2])
local minute = math.floor(now / 60000)
local this_minute, last_minute = base .. 'minute:' .. minute, base .. 'minute:' .. (minute - 1)
local checks = queue_checks(base, 'queued', 'scheduled', 'active', 'dead', 'stats', 'succeeded')
for _, key in ipairs({ this_minute, last_minute }) do
  checks[#checks + 1] = key
  checks[#checks + 1] = 'hash'
end
local refused = wrong_types(checks)
if refused then return refused end
local head = redis.call('ZRANGE', KEYS[1], 0, 0)
local head_at = false
if head[1] then
  local f = read_record(job_key(base, head[1]), 'enqueued_at')
  if f and tonumber(f[1]) then head_at = f[1] end
end
return {
  redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('HGETALL', KEYS[5]), head_at,
  redis.call('HMGET', this_minute, 'succeeded', 'failed'),
  redis.call('HMGET', last_minute, 'succeeded', 'failed'),
  redis.call('EXISTS', base .. 'paused'),
  redis.call('ZCARD', base .. 'succeeded'),
}
