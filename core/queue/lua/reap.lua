-- reap: return the ids of expired leases (a drain that crashed or overran) to the front of the
-- queue, dead-lettering those that used their last attempt, and promote retries that are due.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] claims   HASH  claim id -> JSON {"deadline": ms, "jobs": [[id, attempt], ...]}
-- KEYS[4] jobs     HASH  id -> JSON {"attempts": n, "error": "..."}
-- KEYS[5] retry    ZSET  id -> due (ms)
-- KEYS[6] dead     ZSET  id -> dead-lettered at (ms)
-- ARGV[1] now (ms)
-- ARGV[2] max attempts
-- ARGV[3] how many due retries to promote at most
-- Returns {reclaimed, dead, promoted, nothing}: nothing is 1 when the queue holds no pending id,
-- no claim and no retry, so the caller need not claim (the idle cron tick: one read, no more).
if redis.call('EXISTS', KEYS[1], KEYS[3], KEYS[5]) == 0 then
  return {0, 0, 0, 1}
end
local now = tonumber(ARGV[1])
local max_attempts = tonumber(ARGV[2])
local reclaimed, dead, promoted = 0, 0, 0

-- Claims are few (one per batch in flight), so scanning them all is cheap.
local claims = redis.call('HGETALL', KEYS[3])
local live, expired = {}, {}
for i = 1, #claims, 2 do
  local claim = cjson.decode(claims[i + 1])
  if tonumber(claim.deadline) <= now then
    expired[#expired + 1] = {claims[i], claim}
  else
    for _, job in ipairs(claim.jobs) do
      live[tostring(job[1])] = true
    end
  end
end
for _, item in ipairs(expired) do
  redis.call('HDEL', KEYS[3], item[1])
  for _, job in ipairs(item[2].jobs) do
    local id, attempt = tostring(job[1]), tonumber(job[2])
    if live[id] then
      -- Changed while the dead claim held it, the id was queued and claimed again: that live
      -- claim does the work. Requeueing it here would hand it to a second drain at once.
    elseif attempt >= max_attempts then
      local raw = redis.call('HGET', KEYS[4], id)
      local record = raw and cjson.decode(raw) or {attempts = attempt}
      record.error = 'lease expired on attempt ' .. attempt .. ' (the drain stopped or overran)'
      redis.call('HSET', KEYS[4], id, cjson.encode(record))
      redis.call('ZADD', KEYS[6], now, id)
      dead = dead + 1
    else
      if redis.call('ZADD', KEYS[2], 'NX', now, id) == 1 then
        redis.call('LPUSH', KEYS[1], id)
      end
      reclaimed = reclaimed + 1
    end
  end
end

local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
if #due > 0 then
  redis.call('ZREM', KEYS[5], unpack(due))
  local fresh = {}
  for _, id in ipairs(due) do
    -- A held id's retry is that holder's run (claims clear it; this covers older records).
    if not live[id] and redis.call('ZADD', KEYS[2], 'NX', now, id) == 1 then
      fresh[#fresh + 1] = id
    end
  end
  if #fresh > 0 then
    redis.call('RPUSH', KEYS[1], unpack(fresh))
  end
  promoted = #due
end
return {reclaimed, dead, promoted, 0}
