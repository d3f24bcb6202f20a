-- Extend the leases that a live worker still holds.
-- KEYS: active
-- ARGV: base, deadline_ms, then pairs of uid, lease_token
-- Returns {lost, aborted}: the uids whose lease this worker no longer holds (lapsed and recovered, or
-- settled), and those of the held ones that are marked `abort` (abort.lua publishes that too: this is the
-- backstop for a message lost while the worker's subscription reconnected).
-- A job's places under its concurrency limits (limits.lua) are renewed with its lease.
local active, base, deadline = KEYS[1], ARGV[1], tonumber(ARGV[2])
local refused = wrong_types({ active, 'zset' })
if refused then return refused end
local lost, aborted = {}, {}
for i = 3, #ARGV, 2 do
  local uid = ARGV[i]
  local f = read_record(job_key(base, uid), 'lease', 'limits', 'abort')
  if f and f[1] == ARGV[i + 1] then
    redis.call('ZADD', active, 'XX', deadline, uid)
    if f[3] then aborted[#aborted + 1] = uid end
    local list = f[2] and limits_of(f[2])
    if list then -- its places under concurrency limits last as long as its lease
      for _, lim in ipairs(list) do
        if lim.conc > 0 then redis.pcall('ZADD', limit_base(base, lim) .. ':running', 'XX', deadline, uid) end
      end
    end
  else
    lost[#lost + 1] = uid
  end
end
return { lost, aborted }
