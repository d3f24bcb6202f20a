-- Carry final states from an outbox to the parents of this queue that wait for them (workflow.lua).
-- KEYS: levels (routes the call to the queue's slot). ARGV: base, now_ms, dead_ttl_s, then per entry:
-- parent uid, dependency's job id, its final state.
-- Returns the length of this queue's outbox: > 0 when a parent ended here (its own parents are told
-- through it), so the caller carries those on too.
local base, now, dead_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local wf = workflow_lib()
local checks = { base .. 'outbox', 'list' }
for i = 4, #ARGV, 3 do
  local f = read_record(job_key(base, ARGV[i]), 'priority')
  for _, v in ipairs(wf.checks(base, ARGV[i], f and f[1])) do checks[#checks + 1] = v end
end
local refused = wrong_types(checks)
if refused then return refused end
for i = 4, #ARGV, 3 do
  wf.apply(base, ARGV[i], ARGV[i + 1], ARGV[i + 2], now, dead_ttl)
end
return redis.call('LLEN', base .. 'outbox')
