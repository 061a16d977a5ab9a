-- dead: requeue or purge dead-lettered ids.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] jobs     HASH  id -> JSON {"attempts": n, "error": "..."}
-- KEYS[4] dead     ZSET  id -> dead-lettered at (ms)
-- ARGV[1] "requeue" or "purge"
-- ARGV[2] now (ms)
-- ARGV[3..n] ids (at most 1,000: the caller sends more in several calls); none means the
--           oldest 1,000 dead ids (the caller repeats until fewer come back)
-- Returns the number of ids acted on.
local ids = {}
if #ARGV > 2 then
  for i = 3, #ARGV do
    if redis.call('ZSCORE', KEYS[4], ARGV[i]) then
      ids[#ids + 1] = ARGV[i]
    end
  end
else
  -- Bounded: Lua's unpack() below takes a few thousand values at most.
  ids = redis.call('ZRANGE', KEYS[4], 0, 999)
end
if #ids == 0 then
  return 0
end
redis.call('ZREM', KEYS[4], unpack(ids))
-- A requeued id starts again with a full set of attempts.
redis.call('HDEL', KEYS[3], unpack(ids))
if ARGV[1] == 'requeue' then
  local fresh = {}
  for _, id in ipairs(ids) do
    if redis.call('ZADD', KEYS[2], 'NX', ARGV[2], id) == 1 then
      fresh[#fresh + 1] = id
    end
  end
  if #fresh > 0 then
    redis.call('RPUSH', KEYS[1], unpack(fresh))
  end
end
return #ids
