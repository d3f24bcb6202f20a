-- Extend the leases that a live worker still holds.
-- KEYS: active
-- ARGV: base, deadline_ms, then pairs of uid, lease_token
-- Returns the uids whose lease this worker no longer holds (lapsed and recovered, or settled).
local active, base, deadline = KEYS[1], ARGV[1], tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV, 2 do
  local uid = ARGV[i]
  if redis.call('HGET', job_key(base, uid), 'lease') == ARGV[i + 1] then
    redis.call('ZADD', active, 'XX', deadline, uid)
  else
    lost[#lost + 1] = uid
  end
end
return lost
