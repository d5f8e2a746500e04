-- report.lua — apply a batch of worker reports (or lease expiries) to dispatched jobs. Each
-- report is applied atomically, and so is the batch: one call instead of one per report keeps
-- Redis's per-call cost (argument tables, script lookup) off the per-message path.
-- KEYS[1] leases, KEYS[2] retry zset, KEYS[3] audit stream, KEYS[4] deferred zset,
--   then 3 per report: job hash, debtor history hash, the channel's ready queue
-- ARGV[1] now (s), ARGV[2] TTL (s) of finished jobs, ARGV[3] max attempts,
--   then 12 per report: outcome (SENT DELIVERED FAILED RETRY UNKNOWN CONFIG_ERROR SKIPPED
--   HANDBACK), attempt the report is about, provider id, provider code, detail, retry at (s),
--   history ref of the job (hex), resend unknown (0|1), job id, tenant, debtor, channel
-- Returns one state per report: the state the job is left in, 'stale' for a report about
-- another attempt, or 'error: ...' for an outcome this script does not know.
local NK, NA = 3, 12
local leases, retries, audit_key, deferred = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, ttl, max_attempts = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}

-- the report being applied: set by apply(), read by the helpers below
local jk, hk, qk, a, att

-- rewrite the job's own record in the debtor's history; bump the version so deciders re-read
local function edit_history(fn)
  local c = redis.call('HGET', hk, 'c')
  if not c then return end
  local ref, changed = ARGV[a + 6], false
  c = string.gsub(c, '(%d+),(%d+),(%d+),(%x+),(%x+);', function(at, ch, fl, debt, r)
    if r == ref then
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
  redis.call('XADD', audit_key, '*', 'at', now, 'job', ARGV[a + 8], 'tenant', ARGV[a + 9],
    'debtor', ARGV[a + 10], 'channel', ARGV[a + 11], 'state', state, 'attempt', ARGV[a + 1],
    'provider_id', ARGV[a + 2], 'provider_code', ARGV[a + 3], 'detail', ARGV[a + 4],
    'reason', reason)
end
local function finish(state, reason)
  redis.call('HSET', jk, 's', state, 'pid', ARGV[a + 2], 'pcode', ARGV[a + 3], 'fin', now)
  redis.call('HDEL', jk, 'p')
  redis.call('ZREM', leases, jk)
  redis.call('EXPIRE', jk, ttl)
  audit(state, reason)
  return state
end
local function retry(reason)
  if tonumber(att) >= max_attempts then
    set_flag(1)
    return finish('failed', 'max-attempts')
  end
  redis.call('HSET', jk, 's', 'retry', 'pcode', ARGV[a + 3])
  redis.call('ZREM', leases, jk)
  redis.call('ZADD', retries, ARGV[a + 5], jk)
  audit('retry', reason)
  return 'retry'
end

local function apply()
  local outcome, detail = ARGV[a], ARGV[a + 4]
  local cur = redis.call('HMGET', jk, 's', 'att')
  local st
  st, att = cur[1], cur[2]
  if outcome == 'DELIVERED' then
    if st ~= 'sent' and st ~= 'dispatched' then return 'stale' end
  elseif st ~= 'dispatched' or att ~= ARGV[a + 1] then
    return 'stale'
  end

  if outcome == 'SENT' then
    redis.call('HSET', jk, 's', 'sent', 'pid', ARGV[a + 2], 'sat', now)
    redis.call('HDEL', jk, 'p')
    redis.call('ZREM', leases, jk)
    redis.call('EXPIRE', jk, ttl)
    audit('sent', '')
    return 'sent'
  elseif outcome == 'DELIVERED' then
    set_flag(2)
    redis.call('HSET', jk, 's', 'delivered')
    redis.call('ZREM', leases, jk)
    audit('delivered', '')
    return 'delivered'
  elseif outcome == 'FAILED' then
    set_flag(1)
    return finish('failed', detail)
  elseif outcome == 'RETRY' then
    return retry(detail)
  elseif outcome == 'UNKNOWN' then
    if ARGV[a + 7] == '1' then return retry('unknown-outcome') end
    return finish('unknown', detail)  -- never resent: the attempt keeps counting (strict)
  elseif outcome == 'HANDBACK' then
    -- the worker gave it back untried (stopping, halted, sender queue full): not an attempt
    redis.call('HINCRBY', jk, 'att', -1)
    redis.call('HSET', jk, 's', 'retry')
    redis.call('ZREM', leases, jk)
    redis.call('ZADD', retries, ARGV[a + 5], jk)
    audit('handed-back', detail)
    return 'retry'
  elseif outcome == 'CONFIG_ERROR' then
    redis.call('HINCRBY', jk, 'att', -1)
    redis.call('HSET', jk, 's', 'queued')
    redis.call('ZREM', leases, jk)
    redis.call('ZADD', qk, 0, jk)  -- back to the front: it was never attempted
    audit('requeued', 'channel-halted: ' .. detail)
    return 'queued'
  elseif outcome == 'SKIPPED' then
    -- the worker's last check refused it: no contact happened; decide it again from scratch
    edit_history(function() return '' end)
    redis.call('HINCRBY', jk, 'att', -1)
    redis.call('HSET', jk, 's', 'deferred')
    redis.call('ZREM', leases, jk)
    redis.call('ZADD', deferred, now, jk)
    audit('skipped', detail)
    return 'deferred'
  end
  return 'error: unknown outcome ' .. tostring(outcome)
end

for i = 0, (#KEYS - 4) / NK - 1 do
  local k = 5 + i * NK
  jk, hk, qk = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  a = 4 + i * NA
  out[#out + 1] = apply()
end
return out
