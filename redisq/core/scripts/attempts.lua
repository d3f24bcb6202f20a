-- A job's earlier attempts (issue 17), and a dead job given a fresh set of attempts.
--
-- The history is the record's `history` field, so it expires and is deleted with the record, and a job
-- that never failed an attempt pays nothing. One line per attempt, oldest first, each a JSON array:
--   [attempt, worker, started_at ms, ended_at ms, outcome, error type, first line of the error message]
-- outcome: `failed` (it raised and the job was retried: finish.lua), `lost` (its worker stopped renewing
-- the lease and the sweeper took the job back: sweep.lua), `dead` (it ended the job dead, and the job was
-- put back by hand since: requeue_dead.lua, retry_edited.lua). The latest attempt is not in it: its
-- fields (started_at, worker, finished_at, error) stay where they always were until an attempt moves it
-- here. Lines rather than one JSON array: appending and trimming are string operations, nothing is
-- decoded, and a damaged value cannot fail the script half-way (a script is not rolled back).
local HISTORY_MAX = 25 -- attempts kept: past it the oldest go first
local HISTORY_MESSAGE_MAX = 200 -- bytes of an error message's first line

-- The type and the first line of the message of an error JSON as the worker writes it ('' and '' for a
-- value that is not one).
local function error_summary(error_json)
  if type(error_json) ~= 'string' then return '', '' end
  local ok, data = pcall(cjson.decode, error_json)
  if not ok or type(data) ~= 'table' then return '', '' end
  local kind = type(data.type) == 'string' and data.type or ''
  local message = type(data.message) == 'string' and string.match(data.message, '^[^\r\n]*') or ''
  if #message > HISTORY_MESSAGE_MAX then
    local cut = HISTORY_MESSAGE_MAX
    -- Not inside a UTF-8 character: back off while the first byte left out continues one (10xxxxxx).
    while cut > 0 and string.byte(message, cut + 1) >= 128 and string.byte(message, cut + 1) < 192 do
      cut = cut - 1
    end
    message = string.sub(message, 1, cut) .. '…'
  end
  return kind, message
end

-- One attempt's line; `worker`, `started` and `ended` as a record holds them (false when absent).
local function attempt_entry(attempt, worker, started, ended, outcome, error_json)
  local kind, message = error_summary(error_json)
  return cjson.encode({ tonumber(attempt) or 0, worker or '', tonumber(started) or cjson.null,
    tonumber(ended) or cjson.null, outcome, kind, message })
end

-- `history` (the record's field as read; false when absent) with `entry` last, cut to HISTORY_MAX lines.
local function add_attempt(history, entry)
  local lines = {}
  if type(history) == 'string' then
    for line in string.gmatch(history, '[^\n]+') do lines[#lines + 1] = line end
  end
  lines[#lines + 1] = entry
  return table.concat(lines, '\n', math.max(1, #lines - HISTORY_MAX + 1), #lines)
end

-- The history of a dead job about to be put back, its last attempt added as `dead`; nil when that
-- attempt never started (a job ended by a dependency's failure): nothing to keep.
local function with_dead_attempt(attempts, worker, started, finished, error_json, history)
  if not tonumber(started) then return nil end
  return add_attempt(history, attempt_entry(attempts, worker, started, finished, 'dead', error_json))
end

-- A dead job (out of `dead` already) back at the back of its level with a fresh set of attempts, its
-- record and its unique key persistent again; `history`: its new history (nil: unchanged). An abort
-- asked of an earlier run is not this one's; nor does a job put back by hand wait any more for a
-- dependency that failed it (`blocked`, workflow.lua). The caller has checked the level's keys.
local function revive_dead(base, uid, job, unique_key, level, history)
  redis.call('PERSIST', job)
  if unique_key then redis.pcall('PERSIST', base .. 'unique:' .. unique_key) end -- moved by a resharding
  if history then
    unpiece_for(job, history)
    redis.call('HSET', job, 'attempts', 0, 'history', history)
  else
    redis.call('HSET', job, 'attempts', 0)
  end
  redis.call('HDEL', job, 'finished_at', 'abort', 'blocked')
  requeue(base, uid, job, level, false)
end
