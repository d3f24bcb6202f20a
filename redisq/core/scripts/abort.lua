-- Abort a job: one that has not started is cancelled (as `cancel` does); a running one is marked
-- `abort` and its worker is told on its abort channel. The worker cancels an `async def` job, signals a
-- `def` job, and settles it `aborted` (finish.lua); its lease renewal reports the mark too, in case the
-- message is lost (a reconnect), so no per-job polling is needed.
-- KEYS: levels, scheduled, stats. ARGV: base, uid, now_ms. The worker's channel is a shard channel of the
-- queue's slot; a server without shard channels (before Redis 7) only misses the message (pcall), and the
-- renewal reports the mark.
-- Returns 1 cancelled, 2 abort requested (or already requested), 0 final state, -1 no such job (or a
-- record that is not a job's).
local base, uid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local job = job_key(base, uid)
local f = read_record(job, 'state', 'result_ttl', 'worker', 'priority')
if f then f[1] = record_state(job, f[1]) end
if not f or not f[1] then return -1 end
if f[1] == 'active' then
  redis.call('HSET', job, 'abort', now)
  if f[3] then redis.pcall('SPUBLISH', base .. 'abort:' .. f[3], uid) end
  return 2
end
if f[1] ~= 'queued' and f[1] ~= 'scheduled' and f[1] ~= 'waiting' then return 0 end
local level = f[1] == 'queued' and ready_level(f[4]) or nil -- a queued job is in its level's list
return cancel_waiting(base, uid, job, tonumber(f[2]) or RESULT_TTL, now, level)
