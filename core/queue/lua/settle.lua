-- settle: finish one claim in one request: acknowledge successes, schedule retries, dead-letter,
-- and put unprocessed ids back at the front of the queue.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] claims   HASH  claim id -> JSON claim record
-- KEYS[4] jobs     HASH  id -> JSON {"attempts": n, "error": "..."}
-- KEYS[5] retry    ZSET  id -> due (ms)
-- KEYS[6] dead     ZSET  id -> dead-lettered at (ms)
-- ARGV[1] claim id
-- ARGV[2] now (ms)
-- ARGV[3] JSON {"ok": [id, ...], "retry": [[id, due_ms, error], ...],
--               "dead": [[id, error], ...], "release": [id, ...]}
-- Returns 1 when the claim was still held, 0 when it was not: its lease expired and the reaper
-- returned its ids, or this is a re-sent request (the SDK re-sends when a response is lost)
-- whose first copy already settled it. Either way only the successes are applied (idempotent,
-- and they clear a dead letter the reaper may have written); retrying, dead-lettering or
-- releasing again could put an id that another drain now holds back in the queue.
local held = redis.call('HDEL', KEYS[3], ARGV[1])
local outcome = cjson.decode(ARGV[3])
if held == 0 then
  outcome.retry, outcome.dead, outcome.release = {}, {}, {}
end

if #outcome.ok > 0 then
  redis.call('HDEL', KEYS[4], unpack(outcome.ok))
  -- A success makes any scheduled retry and any old dead letter of that id obsolete.
  redis.call('ZREM', KEYS[5], unpack(outcome.ok))
  redis.call('ZREM', KEYS[6], unpack(outcome.ok))
end

local function remember(id, error, delta)
  local raw = redis.call('HGET', KEYS[4], id)
  local record = raw and cjson.decode(raw) or {attempts = 0}
  record.attempts = math.max(0, (tonumber(record.attempts) or 0) + delta)
  if error then
    record.error = error
  end
  redis.call('HSET', KEYS[4], id, cjson.encode(record))
end

for _, item in ipairs(outcome.retry) do
  remember(item[1], item[3], 0)
  redis.call('ZADD', KEYS[5], item[2], item[1])
end
for _, item in ipairs(outcome.dead) do
  remember(item[1], item[2], 0)
  redis.call('ZREM', KEYS[5], item[1])
  redis.call('ZADD', KEYS[6], ARGV[2], item[1])
end
-- Released ids were never worked on: give the attempt back and requeue them at the front.
for i = #outcome.release, 1, -1 do
  local id = outcome.release[i]
  remember(id, nil, -1)
  if redis.call('ZADD', KEYS[2], 'NX', ARGV[2], id) == 1 then
    redis.call('LPUSH', KEYS[1], id)
  end
end
return held
