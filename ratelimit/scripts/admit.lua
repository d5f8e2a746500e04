-- admit.lua — atomic admission of a batch of jobs. Embedded into pregon at build time.
--
-- The rules are decided in C (rl_decide) from a snapshot of each debtor's history; this script
-- makes the outcome atomic: it re-checks idempotency and suppression, and commits an ACCEPTED
-- job only if the debtor's history version is still the one the decision read (optimistic
-- concurrency). A stale version answers 'T' and the caller decides again on fresh history.
--
-- KEYS[1] audit stream, KEYS[2] deferred zset, then 4 keys per job:
--   history hash {v, c}, job hash, suppression set, ready queue (zset) of the job's channel.
-- ARGV[1] now (s), ARGV[2] idempotency TTL (s) of final states, ARGV[3] history TTL (s),
-- then 15 per job: job_id, tenant, debtor, readmit(0|1), expected_version, action, until, rule,
--   reason, new_history, payload, channel, contact, queue_score, local_time.
--   action: A accept, D defer, R reject, E expire, X reject without state (invalid input).
-- Returns one entry per job: {code, detail1, detail2}:
--   A | D until | R rule reason | E until | U first_verdict (duplicate) | T (retry) | S (stale readmit)
local NK, NA = 4, 15
local now, idem_ttl, hist_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local n = (#KEYS - 2) / NK

local function audit(a, verdict, rule, reason, untl)
  redis.call('XADD', KEYS[1], '*', 'at', now, 'job', ARGV[a], 'tenant', ARGV[a + 1],
    'debtor', ARGV[a + 2], 'channel', ARGV[a + 11], 'verdict', verdict, 'rule', rule,
    'reason', reason, 'until', untl, 'local', ARGV[a + 14])
end

for i = 0, n - 1 do
  local k, a = 3 + i * NK, 4 + i * NA
  local hk, jk, sk, qk = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local job_id, readmit, ver, action = ARGV[a], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local untl, rule, reason = ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  local channel, contact = ARGV[a + 11], ARGV[a + 12]
  local res

  if action == 'X' then
    audit(a, 'REJECTED', rule, reason, '0')
    res = {'R', rule, reason}
  else
    local state = redis.call('HGET', jk, 's')
    if readmit == '0' and state then
      local first = redis.call('HGET', jk, 'v') or 'UNKNOWN'
      audit(a, 'DUPLICATE', '', 'duplicate', '0')
      res = {'U', first}
    elseif readmit == '1' and state ~= 'deferred' then
      res = {'S', state or 'none'}
    else
      -- one call for the three suppressions (an absent set answers 0s): cease, channel, contact
      local sup = redis.call('SMISMEMBER', sk, 'all', 'ch:' .. channel, 'cp:' .. contact)
      if sup[1] == 1 then
        rule, reason, action = 'debtor.cease', 'suppressed', 'R'
      elseif sup[2] == 1 then
        rule, reason, action = 'debtor.opt-out.' .. channel, 'suppressed', 'R'
      elseif contact ~= '' and sup[3] == 1 then
        rule, reason, action = 'contact.opt-out', 'suppressed', 'R'
      end
    end
    if not res then
      local first = (readmit == '1') and redis.call('HGET', jk, 'v') or nil
      if action == 'A' then
        local cur = redis.call('HGET', hk, 'v') or '0'
        if cur ~= ver then
          res = {'T'}
        else
          redis.call('HSET', hk, 'v', tostring(tonumber(cur) + 1), 'c', ARGV[a + 9])
          redis.call('EXPIRE', hk, hist_ttl)
          redis.call('HSET', jk, 'v', first or 'ACCEPTED', 's', 'queued', 'p', ARGV[a + 10],
            'ch', channel, 'at', now)
          if readmit == '1' then redis.call('ZREM', KEYS[2], jk) end  -- leaving the deferred set
          redis.call('ZADD', qk, ARGV[a + 13], jk)
          audit(a, 'ACCEPTED', '', '', '0')
          res = {'A'}
        end
      elseif action == 'D' then
        redis.call('HSET', jk, 'v', first or 'DEFERRED', 's', 'deferred', 'p', ARGV[a + 10],
          'ch', channel, 'u', untl, 'r', rule, 'at', now)
        redis.call('ZADD', KEYS[2], untl, jk)
        audit(a, 'DEFERRED', rule, reason, untl)
        res = {'D', untl}
      else
        local verdict = (action == 'E') and 'EXPIRED' or 'REJECTED'
        redis.call('HSET', jk, 'v', first or verdict, 's', string.lower(verdict), 'r', rule,
          'at', now)
        redis.call('HDEL', jk, 'p')
        redis.call('ZREM', KEYS[2], jk)
        redis.call('EXPIRE', jk, idem_ttl)
        audit(a, verdict, rule, reason, untl)
        if action == 'E' then res = {'E', untl} else res = {'R', rule, reason} end
      end
    end
  end
  out[i + 1] = res
end
return out
