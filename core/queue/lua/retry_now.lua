-- retry_now: make waiting retries due at once, at the front of the queue (an operator's
-- "retry now"); the attempt count and last error stay, so the backoff history is kept.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] retry    ZSET  id -> due (ms)
-- ARGV[1] now (ms)
-- ARGV[2..n] ids (at most 1,000: the caller sends more in several calls)
-- Returns the number of ids moved (ids not waiting for a retry are left alone).
local moved = {}
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[3], ARGV[i]) == 1 then
    moved[#moved + 1] = ARGV[i]
  end
end
-- Pushed one by one from the last, so the ids keep the order they were named in.
for i = #moved, 1, -1 do
  if redis.call('ZADD', KEYS[2], 'NX', ARGV[1], moved[i]) == 1 then
    redis.call('LPUSH', KEYS[1], moved[i])
  end
end
return #moved
