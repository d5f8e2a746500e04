-- release.lua — move retries that are due back to their channel's ready queue.
-- KEYS[1] retry zset; ARGV[1] now (s), ARGV[2] at most this many, ARGV[3] queue key prefix
-- ("pg:q:"), ARGV[4] queue score (ms). Returns how many were released.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, jk in ipairs(due) do
  redis.call('ZREM', KEYS[1], jk)
  local ch = redis.call('HGET', jk, 'ch')
  if ch and redis.call('HGET', jk, 's') == 'retry' then
    redis.call('HSET', jk, 's', 'queued')
    redis.call('ZADD', ARGV[3] .. ch, ARGV[4], jk)
  end
end
return #due
