-- A schedule's tick, or a run now, atomically (issue 12): a compare-and-set of the schedule's next run,
-- and its job written by the very code of an enqueue (jobs.lua), in one script on the queue's slot. A
-- worker that dies before or after it neither loses nor duplicates the tick; several workers that race
-- for one tick all send the same expected next run, and only the first matches.
-- KEYS: schedules (its name is <base>schedules; the schedule's hash and the queue's keys derive from it)
-- ARGV: now_ms, default_result_ttl_s, id, mode ('tick' or 'now'), uid for the job,
--       and for 'tick': expected next (as stored), expected version, tick to run (0: none), new next
--       ('': the schedule has ended)
-- The job carries the unique key schedule:<id>:<tick> (schedule:<id>:now:<ms> for a run now): a second
-- job for one tick can never be written, whatever happens to the schedule meanwhile.
-- Returns -1: no such schedule; 0: the tick is not ours (claimed, redefined or paused meanwhile);
--         {1, created (0: this tick's job already existed), the job's uid (0 when nothing ran)}
local schedules = KEYS[1]
local base = string.sub(schedules, 1, -10)
local now, default_ttl, id, mode, uid = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = base .. 'schedule:' .. id

local f, kind = read_record(key, 'version', 'next', 'paused', 'payload', 'priority', 'max_attempts',
  'result_ttl', 'ttl_ms', 'sig', 'limits', 'task')
if not f then
  return redis.error_reply('REDISQ_CORRUPT key ' .. key .. ' is a ' .. kind .. ', not a hash: redisq '
    .. 'cannot use this schedule until it is deleted')
end
if not f[1] then return -1 end
local tick, unique = now, 'schedule:' .. id .. ':now:' .. now
if mode == 'tick' then
  if f[3] or (f[2] or '') ~= ARGV[6] or f[1] ~= ARGV[7] then return 0 end
  tick = tonumber(ARGV[8])
  unique = 'schedule:' .. id .. ':' .. tick
end
if tick > 0 and (not f[4] or not tonumber(f[5]) or not tonumber(f[6])) then
  return redis.error_reply('REDISQ_CORRUPT key ' .. key .. ' has no usable job (payload, priority, '
    .. 'max_attempts): redisq cannot use this schedule until it is written again')
end
local refused = wrong_types({ schedules, 'zset' })
if refused then return refused end

local created, job_uid = 0, '0'
if tick > 0 then
  local argv = { now, 1, default_ttl, uid, f[4], f[5], f[6], f[11] or '', 0, 'unique_key', unique }
  if f[7] then argv[#argv + 1] = 'result_ttl'; argv[#argv + 1] = f[7] end
  if tonumber(f[8]) then argv[#argv + 1] = 'expires_at'; argv[#argv + 1] = now + tonumber(f[8]) end
  if f[9] then argv[#argv + 1] = 'sig'; argv[#argv + 1] = f[9] end
  if f[10] then argv[#argv + 1] = 'limits'; argv[#argv + 1] = f[10] end -- the task's rate/concurrency limits
  argv[9] = (#argv - 9) / 2
  local out = enqueue_jobs(base .. 'levels', argv) -- checks its keys before its first write
  if out.err then return out end
  created, job_uid = out[1], uid
  if created == 0 then job_uid = out[3] end
  redis.call('HSET', key, 'last_tick', tick, 'last_job', job_uid, 'last_at', now)
end
if mode == 'tick' then
  if ARGV[9] == '' then
    redis.call('HDEL', key, 'next')
    redis.call('ZADD', schedules, '+inf', id)
  else
    redis.call('HSET', key, 'next', ARGV[9])
    redis.call('ZADD', schedules, ARGV[9], id)
  end
end
return { 1, created, job_uid }
