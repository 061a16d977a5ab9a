-- claim: pop up to N pending ids, lease them to one claim and count the attempt.
-- The SDK re-sends a request whose response was lost, so the claim id is remembered: a second
-- call with the same claim id returns the same batch instead of popping another one.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] claims   HASH  claim id -> JSON {"claimed": ms, "deadline": ms,
--                        "jobs": [[id, attempt], ...]}
-- KEYS[4] jobs     HASH  id -> JSON {"attempts": n, "error": "..."} while the id has history
-- KEYS[5] dead     ZSET  id -> dead-lettered at (ms)
-- KEYS[6] retry    ZSET  id -> due (ms)
-- ARGV[1] claim id
-- ARGV[2] how many ids at most
-- ARGV[3] now (ms)
-- ARGV[4] lease (ms)
-- Returns the claim's JSON record, or "" when nothing was pending.
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then
  return existing
end
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[2]))
if not ids then
  return ''
end
-- Dropping ids from the dedup set now means an enqueue during processing queues them again.
redis.call('ZREM', KEYS[2], unpack(ids))
-- This claim is the attempt a scheduled retry was waiting for: left in place, the retry would
-- fall due while the id is held and hand it to a second drain at once.
redis.call('ZREM', KEYS[6], unpack(ids))
local records = redis.call('HMGET', KEYS[4], unpack(ids))
-- A dead-lettered id is only queued again by its user's own change (the sweep skips it): that
-- new data deserves a fresh set of attempts, and the dead letter no longer applies.
local dead_scores = redis.call('ZMSCORE', KEYS[5], unpack(ids))
local revived = {}
local jobs, flat = {}, {}
for i, id in ipairs(ids) do
  local record = records[i] and cjson.decode(records[i]) or {attempts = 0}
  if dead_scores[i] then
    record = {attempts = 0}
    revived[#revived + 1] = id
  end
  record.attempts = (tonumber(record.attempts) or 0) + 1
  jobs[i] = {id, record.attempts}
  flat[#flat + 1] = id
  flat[#flat + 1] = cjson.encode(record)
end
redis.call('HSET', KEYS[4], unpack(flat))
if #revived > 0 then
  redis.call('ZREM', KEYS[5], unpack(revived))
end
local claim = cjson.encode({claimed = tonumber(ARGV[3]),
  deadline = tonumber(ARGV[3]) + tonumber(ARGV[4]), jobs = jobs})
redis.call('HSET', KEYS[3], ARGV[1], claim)
return claim
