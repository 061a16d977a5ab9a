-- enqueue: queue ids unless already pending, so a user is pending at most once (coalescing).
-- KEYS[1] pending  LIST  ids waiting, oldest first
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms); membership means "in pending"
-- KEYS[3] retry    ZSET  id -> due (ms)             (read only when ARGV[2] is "1")
-- KEYS[4] dead     ZSET  id -> dead-lettered at (ms) (read only when ARGV[2] is "1")
-- KEYS[5] claims   HASH  claim id -> JSON {"deadline": ms, "jobs": [[id, attempt], ...]}
--                        (read only when ARGV[2] is "1")
-- ARGV[1] now (ms)
-- ARGV[2] "1" to skip ids waiting for a retry, dead-lettered or held by a claim (the reconcile
--         sweep must not undo backoff, revive a poison job, or hand a second drain an id that
--         one is working on: a lease that expires is the reaper's to return), "0" otherwise
--         (a user's own change always queues)
-- ARGV[3..n] ids
-- Returns the number of ids newly queued.
local added = {}
local sweep = ARGV[2] == '1'
local leased = {}
if sweep then
  -- Claims are few (one per batch in flight), so reading them all is cheap.
  for _, raw in ipairs(redis.call('HVALS', KEYS[5])) do
    for _, job in ipairs(cjson.decode(raw).jobs) do
      leased[tostring(job[1])] = true
    end
  end
end
for i = 3, #ARGV do
  local id = ARGV[i]
  local skip = sweep and (leased[id] or redis.call('ZSCORE', KEYS[3], id)
    or redis.call('ZSCORE', KEYS[4], id))
  -- ZADD NX is the dedup test and the timestamp in one command.
  if not skip and redis.call('ZADD', KEYS[2], 'NX', ARGV[1], id) == 1 then
    added[#added + 1] = id
  end
end
if #added > 0 then
  redis.call('RPUSH', KEYS[1], unpack(added))
end
return #added
