-- Extend the leases that a live worker still holds.
-- KEYS: active
-- ARGV: base, deadline_ms, then pairs of uid, lease_token
-- Returns the uids whose lease this worker no longer holds (lapsed and recovered, or settled).
-- A job's places under its concurrency limits (limits.lua) are renewed with its lease.
local active, base, deadline = KEYS[1], ARGV[1], tonumber(ARGV[2])
local refused = wrong_types({ active, 'zset' })
if refused then return refused end
local lost = {}
for i = 3, #ARGV, 2 do
  local uid = ARGV[i]
  local f = read_record(job_key(base, uid), 'lease', 'limits')
  if f and f[1] == ARGV[i + 1] then
    redis.call('ZADD', active, 'XX', deadline, uid)
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
return lost
