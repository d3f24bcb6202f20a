-- Follows common.lua (and checks.lua) in the scripts that use these: rate and concurrency limits (issue 12).
--
-- A job under limits carries them in its `limits` field: one spec per limit, joined by \30; a spec is
-- scope ('q': counted per queue, its keys under the queue's hash tag; 'g': shared by every queue that
-- names it), name, count, per_ms, burst, max_running, joined by \31 (limits.py writes them).
-- A limit's state: `<lbase>` a string, the rate's theoretical arrival time in ms (the generic cell rate
-- algorithm: one timestamp whatever the rate) or, for a limit without a rate, the time before which it
-- starts nothing (a pause asked for by a task that raised RateLimited); `<lbase>:running`, the uids
-- running under it by lease deadline (renew moves the deadline; finish and sweep remove the uid).
-- A job that its limit refuses is parked: out of its level's list into `parked:<scope>:<name>`, scored
-- -priority·2^40 + its order among those parked from its level (fetch.lua), and the limit's spec goes into
-- `limited` scored by when to look again, so jobs behind it (other tasks, other keys) are fetched
-- meanwhile, and nobody polls. Put back, they go to the front of their level, in their order.
-- A full concurrency limit frees when a job ends: finish moves its `limited` entry to now and wakes a
-- worker. That reaches the jobs parked in the finished job's queue only: the other queues of a shared
-- limit look again after RECHECK_SHARED_MS (and RECHECK_MS is a backstop).
local RECHECK_MS, RECHECK_SHARED_MS = 5000, 200

local function limit_parse(spec)
  local p = {}
  for part in string.gmatch(spec, '[^\31]+') do p[#p + 1] = part end
  local lim = { spec = spec, scope = p[1], name = p[2], count = tonumber(p[3]), per = tonumber(p[4]),
    burst = tonumber(p[5]), conc = tonumber(p[6]) }
  if #p ~= 6 or (lim.scope ~= 'q' and lim.scope ~= 'g') or not (lim.count and lim.per and lim.burst
      and lim.conc) then
    return nil
  end
  lim.interval = (lim.count > 0) and (lim.per / lim.count) or 0
  lim.tolerance = (lim.burst - 1) * lim.interval
  return lim
end

-- Every limit of a `limits` field, or nil and the reason when the field is damaged.
local function limits_of(field)
  local list = {}
  for spec in string.gmatch(field, '[^\30]+') do
    local lim = limit_parse(spec)
    if not lim then return nil, 'its limits field is unreadable' end
    list[#list + 1] = lim
  end
  return list, nil
end

local function limit_base(base, lim)
  if lim.scope == 'g' then
    return string.match(base, '^(.*):{') .. ':{limit:' .. lim.name .. '}'
  end
  return base .. 'limit:' .. lim.name
end

local function parked_key(base, lim)
  return base .. 'parked:' .. lim.scope .. ':' .. lim.name
end

-- A limit's state, read once per script call (`cache`) and updated there as jobs are taken. Reads are
-- `checked`: a state key of another type fails the script before its first write.
local function limit_state(cache, key, conc, now)
  local st = cache[key]
  if not st then
    st = { key = key, tat = tonumber(checked('GET', key)) or 0, running = 0, holders = {} }
    cache[key] = st
  end
  if conc > 0 and not st.counted then -- jobs whose leases lapsed count no more: the sweeper has them
    st.running = st.running + checked('ZCOUNT', key .. ':running', now, '+inf')
    st.counted = true
  end
  return st
end

-- How many more may start now under a rate (interval, tolerance) and a cap on running (0: none), and,
-- when none may, the time to look again.
local function room(st, interval, tolerance, conc, now, want, shared)
  local n = want
  local tat = math.max(st.tat, now)
  if tat - now > tolerance then return 0, tat - tolerance end
  if interval > 0 then n = math.min(n, math.floor((tolerance - (tat - now)) / interval) + 1) end
  if conc > 0 then
    n = math.min(n, conc - st.running)
    if n <= 0 then return 0, now + (shared and RECHECK_SHARED_MS or RECHECK_MS) end
  end
  return n, nil
end

-- The rate's state after `n` more starts. A fetch comes a little after the time it was told (a sleep, a
-- round trip, a busy machine): counting from `now` would lose that much of every interval (48/s for a
-- 50/s limit; 47/s on a loaded machine with a quarter of an interval forgiven). Up to one interval (50 ms
-- at most) is forgiven, so the rate holds; the price is that one start more than `count` may fall
-- within one period (count + 1 in any window of `per`, proved in docs/architecture.md).
local function after_starts(tat, interval, n, now)
  return math.max(tat, now - math.min(interval, 50)) + n * interval
end

local function take(st, interval, conc, now, uid, deadline)
  st.tat = after_starts(st.tat, interval, 1, now)
  st.running = st.running + 1
  st.dirty = true
  if conc > 0 then
    st.holders[#st.holders + 1] = deadline
    st.holders[#st.holders + 1] = uid
  end
end

-- Write what `take` decided; after every check of the script.
local function limit_write(st, now)
  if not st.dirty then return end
  -- Kept a little past its time: a fetch that comes late is forgiven up to 50 ms on this value, and one
  -- that found it gone would start from nothing (a burst).
  redis.call('SET', st.key, tostring(st.tat), 'PX', math.max(math.ceil(st.tat - now), 0) + 1000)
  if #st.holders > 0 then
    local running = st.key .. ':running'
    redis.call('ZADD', running, unpack(st.holders))
    -- Entries that lost their job without a settlement (a record destroyed by hand) stop counting at
    -- their lease deadline; drop them for good an hour later.
    redis.call('ZREMRANGEBYSCORE', running, '-inf', now - 3600000)
  end
end

-- A job that held these limits stopped running (settled, recovered or given back): it frees its place,
-- and the jobs parked behind a limit are looked at again. Hints written with pcall: a damaged key was
-- reported by fetch, and must not stop a settlement. Returns true if jobs wait on one of the limits.
local function release(base, uid, list, now)
  local waiting = false
  for _, lim in ipairs(list) do
    if lim.conc > 0 then
      redis.pcall('ZREM', limit_base(base, lim) .. ':running', uid)
      if type(redis.pcall('ZSCORE', base .. 'limited', lim.spec)) == 'string' then
        redis.pcall('ZADD', base .. 'limited', 'XX', now, lim.spec)
        waiting = true
      end
    end
  end
  return waiting
end

-- Nothing under these limits starts before `until_ms` (a task raised RateLimited).
local function pause_limit(key, tolerance, until_ms, now)
  local tat = tonumber(redis.pcall('GET', key)) or 0
  local target = until_ms + tolerance
  if target > tat and target > now then
    redis.pcall('SET', key, tostring(target), 'PX', math.ceil(target - now) + 1000)
  end
end
