-- report.lua — apply one worker report (or a lease expiry) to a dispatched job, atomically.
-- KEYS[1] job hash, KEYS[2] debtor history hash, KEYS[3] leases, KEYS[4] retry zset,
-- KEYS[5] audit stream, KEYS[6] the channel's ready queue, KEYS[7] deferred zset
-- ARGV[1] outcome: SENT DELIVERED FAILED RETRY UNKNOWN CONFIG_ERROR SKIPPED HANDBACK
-- ARGV[2] attempt the report is about, ARGV[3] now (s), ARGV[4] provider id, ARGV[5] provider
-- code, ARGV[6] detail, ARGV[7] retry at (s), ARGV[8] history ref of the job (hex),
-- ARGV[9] TTL (s) of finished jobs, ARGV[10] max attempts, ARGV[11] resend unknown (0|1),
-- ARGV[12] job id, ARGV[13] tenant, ARGV[14] debtor, ARGV[15] channel
-- Returns the state the job is left in, or 'stale' for a report about another attempt.
local jk, hk = KEYS[1], KEYS[2]
local outcome, now = ARGV[1], ARGV[3]
local st = redis.call('HGET', jk, 's')
local att = redis.call('HGET', jk, 'att')
if outcome == 'DELIVERED' then
  if st ~= 'sent' and st ~= 'dispatched' then return 'stale' end
elseif st ~= 'dispatched' or att ~= ARGV[2] then
  return 'stale'
end

-- rewrite the job's own record in the debtor's history; bump the version so deciders re-read
local function edit_history(fn)
  local c = redis.call('HGET', hk, 'c')
  if not c then return end
  local changed = false
  c = string.gsub(c, '(%d+),(%d+),(%d+),(%x+),(%x+);', function(at, ch, fl, debt, r)
    if r == ARGV[8] then
      changed = true
      return fn(at, ch, tonumber(fl), debt, r)
    end
  end)
  if changed then
    redis.call('HSET', hk, 'c', c)
    redis.call('HINCRBY', hk, 'v', 1)
  end
end
local function set_flag(bit_value)
  edit_history(function(at, ch, fl, debt, r)
    return at .. ',' .. ch .. ',' .. bit.bor(fl, bit_value) .. ',' .. debt .. ',' .. r .. ';'
  end)
end
local function audit(state, reason)
  redis.call('XADD', KEYS[5], '*', 'at', now, 'job', ARGV[12], 'tenant', ARGV[13],
    'debtor', ARGV[14], 'channel', ARGV[15], 'state', state, 'attempt', ARGV[2],
    'provider_id', ARGV[4], 'provider_code', ARGV[5], 'detail', ARGV[6], 'reason', reason)
end
local function finish(state, reason)
  redis.call('HSET', jk, 's', state, 'pid', ARGV[4], 'pcode', ARGV[5], 'fin', now)
  redis.call('HDEL', jk, 'p')
  redis.call('ZREM', KEYS[3], jk)
  redis.call('EXPIRE', jk, ARGV[9])
  audit(state, reason)
  return state
end
local function retry(reason)
  if tonumber(att) >= tonumber(ARGV[10]) then
    set_flag(1)
    return finish('failed', 'max-attempts')
  end
  redis.call('HSET', jk, 's', 'retry', 'pcode', ARGV[5])
  redis.call('ZREM', KEYS[3], jk)
  redis.call('ZADD', KEYS[4], ARGV[7], jk)
  audit('retry', reason)
  return 'retry'
end

if outcome == 'SENT' then
  redis.call('HSET', jk, 's', 'sent', 'pid', ARGV[4], 'sat', now)
  redis.call('HDEL', jk, 'p')
  redis.call('ZREM', KEYS[3], jk)
  redis.call('EXPIRE', jk, ARGV[9])
  audit('sent', '')
  return 'sent'
elseif outcome == 'DELIVERED' then
  set_flag(2)
  redis.call('HSET', jk, 's', 'delivered')
  redis.call('ZREM', KEYS[3], jk)
  audit('delivered', '')
  return 'delivered'
elseif outcome == 'FAILED' then
  set_flag(1)
  return finish('failed', ARGV[6])
elseif outcome == 'RETRY' then
  return retry(ARGV[6])
elseif outcome == 'UNKNOWN' then
  if ARGV[11] == '1' then return retry('unknown-outcome') end
  return finish('unknown', ARGV[6])  -- never resent: the attempt keeps counting (strict)
elseif outcome == 'HANDBACK' then
  -- the worker gave it back untried (stopping, halted, sender queue full): not an attempt
  redis.call('HINCRBY', jk, 'att', -1)
  redis.call('HSET', jk, 's', 'retry')
  redis.call('ZREM', KEYS[3], jk)
  redis.call('ZADD', KEYS[4], ARGV[7], jk)
  audit('handed-back', ARGV[6])
  return 'retry'
elseif outcome == 'CONFIG_ERROR' then
  redis.call('HINCRBY', jk, 'att', -1)
  redis.call('HSET', jk, 's', 'queued')
  redis.call('ZREM', KEYS[3], jk)
  redis.call('ZADD', KEYS[6], 0, jk)  -- back to the front: it was never attempted
  audit('requeued', 'channel-halted: ' .. ARGV[6])
  return 'queued'
elseif outcome == 'SKIPPED' then
  -- the worker's last check refused it: no contact happened; decide it again from scratch
  edit_history(function() return '' end)
  redis.call('HINCRBY', jk, 'att', -1)
  redis.call('HSET', jk, 's', 'deferred')
  redis.call('ZREM', KEYS[3], jk)
  redis.call('ZADD', KEYS[7], now, jk)
  audit('skipped', ARGV[6])
  return 'deferred'
end
return redis.error_reply('unknown outcome ' .. tostring(outcome))
