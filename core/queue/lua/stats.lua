-- stats: queue figures for operators, read-only.
-- KEYS[1] pending  LIST  ids waiting
-- KEYS[2] queued   ZSET  id -> enqueued-at (ms)
-- KEYS[3] claims   HASH  claim id -> JSON {"deadline": ms, "jobs": [[id, attempt], ...]}
-- KEYS[4] retry    ZSET  id -> due (ms)
-- KEYS[5] dead     ZSET  id -> dead-lettered at (ms)
-- ARGV: none
-- Returns JSON {"pending": n, "oldest_enqueued_ms": ms|null, "leased": n, "claims": n,
--               "oldest_lease_deadline_ms": ms|null, "retrying": n, "next_retry_ms": ms|null,
--               "dead": n}
local function first_score(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first == 0 then
    return nil
  end
  return tonumber(first[2])
end
local leased, claims, oldest_deadline = 0, 0, nil
local raw = redis.call('HVALS', KEYS[3])
for _, value in ipairs(raw) do
  local claim = cjson.decode(value)
  claims = claims + 1
  leased = leased + #claim.jobs
  local deadline = tonumber(claim.deadline)
  if oldest_deadline == nil or deadline < oldest_deadline then
    oldest_deadline = deadline
  end
end
return cjson.encode({
  pending = redis.call('LLEN', KEYS[1]),
  oldest_enqueued_ms = first_score(KEYS[2]) or cjson.null,
  leased = leased,
  claims = claims,
  oldest_lease_deadline_ms = oldest_deadline or cjson.null,
  retrying = redis.call('ZCARD', KEYS[4]),
  next_retry_ms = first_score(KEYS[4]) or cjson.null,
  dead = redis.call('ZCARD', KEYS[5]),
})
