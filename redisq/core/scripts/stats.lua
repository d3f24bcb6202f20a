-- One queue's numbers in one round trip, all O(1) or O(log n).
-- KEYS: queued, scheduled, active, dead, stats. ARGV: base, now_ms.
-- Returns {queued, scheduled, active, dead, counters (flat HGETALL), head_enqueued_at or false,
--          this minute {succeeded, failed}, last minute {succeeded, failed}, paused (0 or 1),
--          succeeded records kept (the size of the trimmed succeeded index)}.
local base, now = ARGV[1], tonumber(ARGV[2])
local head = redis.call('ZRANGE', KEYS[1], 0, 0)
local head_at = false
if head[1] then head_at = redis.call('HGET', job_key(base, head[1]), 'enqueued_at') end
local minute = math.floor(now / 60000)
return {
  redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('HGETALL', KEYS[5]), head_at,
  redis.call('HMGET', base .. 'minute:' .. minute, 'succeeded', 'failed'),
  redis.call('HMGET', base .. 'minute:' .. (minute - 1), 'succeeded', 'failed'),
  redis.call('EXISTS', base .. 'paused'),
  redis.call('ZCARD', base .. 'succeeded'),
}
