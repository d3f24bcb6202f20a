-- Read-only: what a job that waited for others (issue 16) learns before it runs, in one call per queue
-- instead of a command each (a command cost ~20 us of the worker's CPU).
-- KEYS: levels (routes the call to the queue's slot).
-- ARGV: base, 'of', uid: its `deps:<uid>` entries (job id, `<policy>:<state>`) with, for those of this
--       queue that succeeded, their results: a flat list of triples (the result false when there is none
--       here; a `deps` that is not a hash reads as none).
-- ARGV: base, 'results', uids...: the `result` of each (false when it has none, or no record).
local base = ARGV[1]
local function result_of(uid)
  local f = read_record(job_key(base, uid), 'result')
  return f and f[1] or false
end
local out = {}
if ARGV[2] == 'of' then
  local flat = redis.pcall('HGETALL', base .. 'deps:' .. ARGV[3])
  if flat.err then return out end
  local queue = string.match(base, '{([^}]*)}:$')
  for i = 1, #flat, 2 do
    local child, value = flat[i], flat[i + 1]
    local q, uid = string.match(child, '^(.*):([^:]+)$')
    local result = false
    if q == queue and string.sub(value, -10) == ':succeeded' then result = result_of(uid) end
    out[#out + 1] = child
    out[#out + 1] = value
    out[#out + 1] = result
  end
  return out
end
for i = 3, #ARGV do out[#out + 1] = result_of(ARGV[i]) end
return out
