-- dispatch.lua — lease up to N ready jobs of one channel to a worker, atomically.
-- KEYS[1] ready queue (zset of job keys), KEYS[2] leases (zset: job key by lease expiry, ms),
-- KEYS[3] audit stream
-- ARGV[1] how many, ARGV[2] lease expiry (ms), ARGV[3] now (s)
-- Returns a flat array: job key, payload, attempt, job key, payload, attempt, ...
-- A queue entry whose job hash is gone (expired, deleted by an operator) is dropped.
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
local out = {}
for i = 1, #popped, 2 do
  local jk = popped[i]
  local cur = redis.call('HMGET', jk, 'p', 'att')
  local p = cur[1]
  if p then
    local att = (tonumber(cur[2]) or 0) + 1
    redis.call('HSET', jk, 'att', att, 's', 'dispatched', 'dat', ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[2], jk)
    redis.call('XADD', KEYS[3], '*', 'at', ARGV[3], 'key', jk, 'state', 'dispatched',
      'attempt', tostring(att))
    out[#out + 1] = jk
    out[#out + 1] = p
    out[#out + 1] = tostring(att)
  end
end
return out
