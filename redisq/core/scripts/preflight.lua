-- Which of the commands redisq needs may this Redis user not run, on redisq's keys and channels?
-- Read-only; run by a worker when it starts, so that a user without a permission fails at once with one
-- clear message, instead of scripts failing half-way later (Redis checks ACLs command by command inside
-- a script, and does not roll back what the script wrote before the refused command).
-- ARGV: groups of (n, command, n - 1 arguments). Returns the refused ones as "COMMAND argument...".
-- Before Redis 7.0 there is no redis.acl_check_cmd: nothing can be checked, nothing is reported.
if not redis.acl_check_cmd then return {} end
local refused = {}
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local call = {}
  for j = 1, n do call[j] = ARGV[i + j] end
  local ok, allowed = pcall(redis.acl_check_cmd, unpack(call))
  if not ok or not allowed then refused[#refused + 1] = table.concat(call, ' ') end
  i = i + n + 1
end
return refused
