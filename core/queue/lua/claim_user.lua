-- claim_user: claim ONE named id if it is pending (the after-response kick), in one request.
-- Like claim, it removes the id from the list and the dedup set, leases it and counts the
-- attempt. It is a no-op when the id is not pending, or when a claim already holds it (another
-- drain or kick is computing it; the write that queued it again is that holder's next run).
-- The claim id is remembered, so a re-sent request returns the same claim.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] claims   HASH  claim id -> JSON {"claimed": ms, "deadline": ms,
--                        "jobs": [[id, attempt], ...]}
-- KEYS[4] jobs     HASH  id -> JSON {"attempts": n, "error": "..."} while the id has history
-- KEYS[5] dead     ZSET  id -> dead-lettered at (ms)
-- KEYS[6] retry    ZSET  id -> due (ms)
-- ARGV[1] claim id
-- ARGV[2] the id
-- ARGV[3] now (ms)
-- ARGV[4] lease (ms)
-- Returns the claim's JSON record, or "" when the id was not claimed.
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then
  return existing
end
local id = ARGV[2]
if not redis.call('ZSCORE', KEYS[2], id) then
  return ''
end
-- Claims are few (one per batch in flight), so reading them all is cheap.
for _, raw in ipairs(redis.call('HVALS', KEYS[3])) do
  for _, job in ipairs(cjson.decode(raw).jobs) do
    if tostring(job[1]) == id then
      return ''
    end
  end
end
-- The id is in the list exactly once (the dedup set says it is pending). A negative count walks
-- the list from the back, where the write that triggered the kick has just pushed it: the walk
-- is short unless other ids were queued since (at worst one pass over the list, in Redis).
redis.call('LREM', KEYS[1], -1, id)
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[6], id)  -- this claim is the retry's attempt (see claim.lua)
local raw = redis.call('HGET', KEYS[4], id)
local record = raw and cjson.decode(raw) or {attempts = 0}
-- A dead-lettered id is queued again only by its user's own change: fresh attempts.
if redis.call('ZSCORE', KEYS[5], id) then
  record = {attempts = 0}
  redis.call('ZREM', KEYS[5], id)
end
record.attempts = (tonumber(record.attempts) or 0) + 1
redis.call('HSET', KEYS[4], id, cjson.encode(record))
local claim = cjson.encode({claimed = tonumber(ARGV[3]),
  deadline = tonumber(ARGV[3]) + tonumber(ARGV[4]),
  jobs = {{id, record.attempts}}})
redis.call('HSET', KEYS[3], ARGV[1], claim)
return claim
