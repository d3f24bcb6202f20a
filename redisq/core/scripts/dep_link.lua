-- Register a parent on jobs of this queue that it will depend on (workflow.lua), before the parent is
-- created: a dependency that ends from now on tells it through the outbox.
-- KEYS: levels (routes the call to the queue's slot). ARGV: base, parent job id, then the uids.
-- Returns, per uid, its final state, '' if it has not ended, or -1 if there is no such job (nothing is
-- written unless every uid is a job).
local base, parent = ARGV[1], ARGV[2]
local wf = workflow_lib()
local out = {}
for i = 3, #ARGV do
  local job = job_key(base, ARGV[i])
  local f = read_record(job, 'state')
  if not (f and record_state(job, f[1])) then return -1 end
end
for i = 3, #ARGV do out[#out + 1] = wf.link(base, ARGV[i], parent) end
return out
