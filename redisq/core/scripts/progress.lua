-- Record a running job's progress. KEYS: the job record. ARGV: progress JSON.
-- Only an active job takes it: a late report never brings back a finished, deleted or expired record.
local f = read_record(KEYS[1], 'state')
if not f or f[1] ~= 'active' then return 0 end
unpiece_for(KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1
