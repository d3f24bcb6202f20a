-- Take carried entries out of this queue's outbox (issue 16, workflow_ops.carry_outbox), in one call
-- instead of an LREM each: one occurrence of each, from the head, where they were read.
-- KEYS: outbox. ARGV: the entries. Returns how many were found.
local n = 0
for i = 1, #ARGV do n = n + redis.call('LREM', KEYS[1], 1, ARGV[i]) end
return n
