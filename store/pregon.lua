#!lua name=pregon
-- pregon.lua — the job's state machine: every transition of a job, as one Redis Function library.
--
-- Nothing else writes a job's state. Each function checks every transition against the table T
-- below, refuses any other (the job is left as it was and the answer says why), and writes
-- exactly one audit record per transition, in one versioned schema, in the same atomic step.
-- Every function touches the keys of one shard only (store/st_keys.h): declared, or job keys a
-- declared queue names and keys derived from them (pg_lease: the job's tenant's suppression hash
-- and its debtor's history, all with the same hash tag), so the library runs unchanged on one
-- Redis or a Redis Cluster. The C side mirrors the table in
-- store/st_state.h; tests compare the two through pg_table. Embedded into pregon at build time
-- and loaded with FUNCTION LOAD; `%VERSION%` is replaced by a hash of this text when loading.
-- Past 800 lines on purpose: a library is one text (a function cannot call another library's),
-- and every transition shares the table, the audit writers and the suppression and window checks.
--
-- Job hash (P:{sN}:j:T:D:J) fields:
--   s state, v first verdict, p payload (serialized SendRequest, while the job may still be sent;
--   kept after that when fb is 1: a job with fallback channels), w its service window's key,
--   id tn db ch: job, tenant, debtor, channel; x the rest of the audit context, packed as
--   debt NUL campaign NUL contact NUL zone NUL utc_offset (s, at admission) [NUL template NUL
--   jurisdiction: jobs admitted since audit schema v2] (few fields keep a
--   hash cheap: every field is an allocation); qs queue score, att attempts made, u until
--   (deferred), r rule, at admitted at (ms), l the lease: "worker NUL broker NUL nonce" (worker
--   "key/name#incarnation": the worker's authenticated key and worker id, escaped, then its
--   process incarnation; broker "instance#incarnation"; nonce the lease id's random part,
--   ST_NONCE_HEX hex digits, store/st_keys.h), pid pcode the provider's id and code.
-- Audit record (XADD P:{sN}:audit), schema v2; every record starts v at job tenant debtor
--   channel from to attempt, in this order, then by kind:
--   decisions (admission: ACCEPTED DEFERRED REJECTED EXPIRED, and DUPLICATE answers):
--     debt campaign contact rule reason until pid pcode local zone counters detail template
--     jurisdiction;
--   the contact attempt (DISPATCHED): debt campaign contact local zone template jurisdiction;
--   outcomes (SENT DELIVERED FAILED RETRY HANDED_BACK SKIPPED UNKNOWN QUEUED CANCELLED):
--     reason until pid pcode detail, then the job's context: debt campaign contact local zone
--     template jurisdiction (v2: every record of a job names its contact point and campaign);
--   inbound events (REPLY CONVERSATION OPT_OUT OPT_IN DIGITS PAYMENT_CLAIMED WRONG_NUMBER, from
--     "inbound"): contact pid (the provider's event id) provider detail (what the debtor wrote
--     or pressed);
--   a fallback link (FALLBACK, on the original job, from its state; written by the pg_admit call
--     that decides the fallback job, in the same shard: same tenant and debtor): reason
--     (fallback-eligible, wrong-number) until pid pcode ("") detail "NEWJOB on CHANNEL: VERDICT";
--     the fallback job's own decision record has detail "fallback-of:ORIGINAL";
--   suppression changes (SUPPRESSED UNSUPPRESSED; job and attempt "", debtor the value of a
--     debtor suppression, channel the suppression's channel or "*", from "none" or
--     "suppressed"): scope value rule who why detail. Written once per change, in the audit
--     stream of the suppression's home shard (CRC16(tenant:value) mod S; st_suppress.h).
--   A queued job found suppressed by pg_lease is a decision (REJECTED, from queued, reason
--   "suppressed", detail "dispatch re-check").
--   "" where a field does not apply.
--   at: ms; from: the state left ("new" for a job not stored yet); to: the transition (T's key);
--   local: the debtor's local time (for outcomes: with the zone's offset at admission);
--   counters: what decided it (e.g. "3 of 7 in 7d"). v1 records (before the context grew) lack
--   template and jurisdiction, and outcomes the job's context. pregond adds CONTENT records
--   (broker/brk_workers.c: what a DISPATCHED attempt carried, by hash), not a transition.
-- Suppression hash (P:{sN}:sp:T, one per tenant and shard): field KIND|VALUE|CHANNEL (KIND c
--   contact, d debtor, b debt; CHANNEL a channel or *), value RULE NUL AT NUL WHO NUL WHY.
--   A suppressed job's verdict rule is "suppressed.SCOPE:RULE" (SCOPE contact, debtor, debt).
-- Pauses (P:{sN}:pause, a hash in every shard, each holding every pause): field TENANT NUL
--   CAMPAIGN NUL CHANNEL ("" campaign or channel: all of them), value WHO NUL WHY NUL AT (ms).
--   A queued job pg_lease finds paused is parked (transition PAUSED: queued -> deferred, no
--   instant, its reservation given back when it was never attempted) in P:{sN}:paused (zset,
--   score the queue score it had); pg_unpark moves the parked jobs whose pause is gone to the
--   deferred set, due at once, so they go through admission again (today's caps decide).
--   pg_pause writes the change; its audit record (PAUSE or RESUME, job and attempt "", scope,
--   who, why) goes to one shard's stream, the tenant's home shard (CRC16(tenant) mod S).
-- The sunrise wave (P:{sN}:due, a hash beside the deferred set): field CHANNEL|HOUR (HOUR the
--   due instant's hour since the epoch, UTC), value how many of the shard's deferred jobs of that
--   channel come due in it; kept by due_move, the one place that puts a job into the deferred
--   set, moves it or takes it out, so pregond's metrics read the wave per channel with one
--   HGETALL instead of scanning the set.
-- History (P:{sN}:h:T:D, field c): records "AT,CH,FLAGS,DEBT,JOB;" as ratelimit/rl_history.h
-- documents; this file reads and writes them only through hist_edit below.

local LIB_VERSION = '%VERSION%'
local AUDIT_SCHEMA = '2'

-- The allowed transitions: label = {from = set of states, to = the state entered}.
-- 'new' is a job not stored yet. DUPLICATE is an answer, not a transition.
local T = {
  ACCEPTED    = {from = {new = 1, deferred = 1}, to = 'queued'},
  DEFERRED    = {from = {new = 1, deferred = 1}, to = 'deferred'},
  REJECTED    = {from = {new = 1, deferred = 1, queued = 1}, to = 'rejected'},
  EXPIRED     = {from = {new = 1, deferred = 1}, to = 'expired'},
  DISPATCHED  = {from = {queued = 1}, to = 'dispatched'},
  SENT        = {from = {dispatched = 1}, to = 'sent'},
  DELIVERED   = {from = {dispatched = 1, sent = 1}, to = 'delivered'},
  FAILED      = {from = {dispatched = 1, sent = 1}, to = 'failed'},
  RETRY       = {from = {dispatched = 1}, to = 'retry'},
  HANDED_BACK = {from = {dispatched = 1}, to = 'retry'},
  SKIPPED     = {from = {dispatched = 1}, to = 'deferred'},
  UNKNOWN     = {from = {dispatched = 1}, to = 'unknown'},
  QUEUED      = {from = {retry = 1}, to = 'queued'},
  CANCELLED   = {from = {queued = 1, deferred = 1, retry = 1}, to = 'cancelled'},
  PAUSED      = {from = {queued = 1}, to = 'deferred'},
}

local function allowed(label, from)
  local t = T[label]
  return t ~= nil and t.from[from] == 1
end

-- The debtor's local time "YYYY-MM-DDTHH:MM:SS+HH:MM" at now_ms, with the zone's offset `off`
-- (seconds east of UTC, as it was at admission); "" when the job has no zone. Every job of one
-- call shares `now`, and most share a zone: the text is made once per offset and call.
local function floor(x) return math.floor(x) end  -- globals are not reachable at load time
local local_cache, local_cache_now = {}, nil
local function local_time(now_ms, off)
  if not off or off == '' then return '' end
  if local_cache_now ~= now_ms then local_cache, local_cache_now = {}, now_ms end
  local hit = local_cache[off]
  if hit then return hit end
  local o = tonumber(off)
  if not o then return '' end
  local t = floor(tonumber(now_ms) / 1000) + o
  local days = floor(t / 86400)
  local sod = t - days * 86400
  local z = days + 719468                       -- civil_from_days (H. Hinnant)
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  local sign, a = '+', o
  if o < 0 then sign, a = '-', -o end
  hit = string.format('%04d-%02d-%02dT%02d:%02d:%02d%s%02d:%02d', y, m, d, floor(sod / 3600),
    floor(sod / 60) % 60, sod % 60, sign, floor(a / 3600), floor(a / 60) % 60)
  local_cache[off] = hit
  return hit
end

-- The job context the audit record carries, as HMGET of CTX returns it.
-- The parts of the x field: debt campaign contact zone offset template jurisdiction (7 parts
-- since schema v2, 5 before: no template and jurisdiction), nothing for none. Values, not a
-- table: the per-message paths (pg_lease, pg_report) build none or size theirs once.
local function ctx_parts(x)
  if not x then return end
  local dt, cm, cp, tz, off, tp, ju = string.match(x,
    '^([^%z]*)%z([^%z]*)%z([^%z]*)%z([^%z]*)%z([^%z]*)%z([^%z]*)%z(.*)$')
  if dt then return dt, cm, cp, tz, off, tp, ju end
  return string.match(x, '^([^%z]*)%z([^%z]*)%z([^%z]*)%z([^%z]*)%z(.*)$')
end
-- Unpacks the x field into j.
local function unpack_ctx(j, x)
  if not x then return j end
  j.dt, j.cm, j.cp, j.tz, j.off, j.tp, j.ju = ctx_parts(x)
  return j
end

-- The audit record writers: one XADD each, with literal arguments (no table is built: tables
-- cost an allocation and garbage per record, on the per-message path).
-- A decision (admission): every field of the schema. (The DISPATCHED record is written where
-- the lease is taken, pg_lease, with the contact's fields.)
local function audit(ak, now_ms, j, from, to, e)
  redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now_ms, 'job', j.id or '',
    'tenant', j.tn or '', 'debtor', j.db or '', 'channel', j.ch or '', 'from', from, 'to', to,
    'attempt', e.attempt or j.att or '0', 'debt', j.dt or '', 'campaign', j.cm or '',
    'contact', j.cp or '', 'rule', e.rule or '', 'reason', e.reason or '',
    'until', e['until'] or '', 'pid', '', 'pcode', '', 'local', local_time(now_ms, j.off),
    'zone', j.tz or '', 'counters', e.counters or '', 'detail', e.detail or '',
    'template', j.tp or '', 'jurisdiction', j.ju or '')
end
-- What became of an attempt or a queued job (reports, retries released, cancels): the job,
-- what happened, and the job's context x (the job hash's field, as HMGET returns it).
local function audit_outcome(ak, now_ms, id, tn, db, ch, from, to, attempt, reason, untl, pid,
                             pcode, detail, x)
  local dt, cm, cp, tz, off, tp, ju = ctx_parts(x)
  redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now_ms, 'job', id or '', 'tenant', tn or '',
    'debtor', db or '', 'channel', ch or '', 'from', from, 'to', to, 'attempt', attempt or '0',
    'reason', reason or '', 'until', untl or '', 'pid', pid or '', 'pcode', pcode or '',
    'detail', detail or '', 'debt', dt or '', 'campaign', cm or '', 'contact', cp or '',
    'local', local_time(now_ms, off), 'zone', tz or '', 'template', tp or '',
    'jurisdiction', ju or '')
end

-- History: edits the record of job `ref` (hex) in hash hk. fn(at, ch, flags, debt) returns the
-- new record text ("" drops it). Bumps the version so deciders read the history again.
local function hist_edit(hk, ref, fn)
  local c = redis.call('HGET', hk, 'c')
  if not c then return end
  local needle = ',' .. ref .. ';'
  local e = string.find(c, needle, 1, true)
  if not e then return end
  local stop = e + #needle - 1
  local start = e
  while start > 1 and string.sub(c, start - 1, start - 1) ~= ';' do start = start - 1 end
  local at, ch, fl, debt = string.match(string.sub(c, start, e - 1), '^(%d+),(%d+),(%d+),(%x+)$')
  if not at then return end
  local rec = fn(at, ch, tonumber(fl), debt)
  redis.call('HSET', hk, 'c', string.sub(c, 1, start - 1) .. rec .. string.sub(c, stop + 1))
  redis.call('HINCRBY', hk, 'v', 1)
end
local function hist_flag(hk, ref, bit_value)
  hist_edit(hk, ref, function(at, ch, fl, debt)
    return at .. ',' .. ch .. ',' .. bit.bor(fl, bit_value) .. ',' .. debt .. ',' .. ref .. ';'
  end)
end
local HIST_FAILED, HIST_DELIVERED, HIST_CONVERSATION = 1, 2, 4
-- A job's history ref, as ratelimit/rl_history.c's rl_job_ref computes it (FNV-1a 32 of the
-- tenant, then of 0x1f and the job id; never 0), in hex as records hold it.
local TWO32 = 4294967296
local function fnv32(h, s)
  for i = 1, #s do
    h = bit.bxor(h, string.byte(s, i)) % TWO32
    h = ((bit.lshift(h, 24) % TWO32) + h * 403) % TWO32  -- h * 16777619 mod 2^32, exactly
  end
  return h
end
local function job_ref(tn, id)
  local h = fnv32(bit.bxor(fnv32(2166136261, tn), 0x1f) % TWO32, id)
  return string.format('%x', h == 0 and 1 or h)
end

-- Suppressions. The fields of the tenant's hash that could match a job, in the order a match
-- is looked for (the first one found decides): contact on the job's channel, contact on every
-- channel, debtor (channel, every), debt (channel, every).
local SUP_SCOPE = {'contact', 'contact', 'debtor', 'debtor', 'debt', 'debt'}
local SUP_KIND = {c = 'contact', d = 'debtor', b = 'debt'}
-- A contact point as suppressions store it: e-mail addresses lowercased (st_suppress.h).
local function sup_contact(cp)
  if string.find(cp, '@', 1, true) then return string.lower(cp) end
  return cp
end
-- Whether hash spk exists, asked once per call (most tenants have no suppression in a shard).
local function sup_any(cache, spk)
  local e = cache[spk]
  if e == nil then
    e = redis.call('EXISTS', spk) == 1
    cache[spk] = e
  end
  return e
end
-- The verdict rule ("suppressed.SCOPE:RULE") of the first suppression in hash spk that blocks a
-- job on channel ch to contact cp (normalized) of debtor db about debt dt, or nil: one HMGET.
local function suppressed(spk, ch, cp, db, dt)
  local v = redis.call('HMGET', spk, 'c|' .. cp .. '|' .. ch, 'c|' .. cp .. '|*',
    'd|' .. db .. '|' .. ch, 'd|' .. db .. '|*', 'b|' .. dt .. '|' .. ch, 'b|' .. dt .. '|*')
  for i = 1, 6 do
    local x = v[i]
    if x and (i > 2 or cp ~= '') and (i < 5 or dt ~= '') then
      return 'suppressed.' .. SUP_SCOPE[i] .. ':' .. string.match(x, '^[^%z]*')
    end
  end
  return nil
end

-- The deferred set dk: job jk of channel ch (its name) due at instant new_s (s; nil: out of the
-- set), its hour's count in the wave hash moved with it (P:{sN}:due, same hash tag as dk).
local function due_move(dk, jk, ch, new_s)
  local old = redis.call('ZSCORE', dk, jk)
  local uk = (string.gsub(dk, 'deferred$', 'due'))
  if old then
    local f = (ch or '') .. '|' .. floor(tonumber(old) / 3600)
    if redis.call('HINCRBY', uk, f, -1) <= 0 then redis.call('HDEL', uk, f) end
    if not new_s then redis.call('ZREM', dk, jk) end
  end
  if new_s then
    redis.call('ZADD', dk, new_s, jk)
    redis.call('HINCRBY', uk, (ch or '') .. '|' .. floor(tonumber(new_s) / 3600), 1)
  end
end

-- pg_due_rebuild: the wave's tally of one shard computed again from its deferred set. KEYS[1]
-- the deferred set, KEYS[2] its tally. What a library without the tally (an upgrade) or a job
-- hash deleted from outside (pregond's sweep then drops its key without knowing its channel)
-- left wrong is right again; pregond runs it for every shard when it connects, one call a
-- shard: O(the shard's deferred jobs), atomic against every move. Returns the jobs counted.
local function due_rebuild(keys, args)
  local dk, uk = keys[1], keys[2]
  local want, n = {}, 0
  local all = redis.call('ZRANGE', dk, 0, -1, 'WITHSCORES')
  for i = 1, #all, 2 do
    local f = (redis.call('HGET', all[i], 'ch') or '') .. '|' .. floor(tonumber(all[i + 1]) / 3600)
    want[f] = (want[f] or 0) + 1
    n = n + 1
  end
  local have = redis.call('HGETALL', uk)
  for i = 1, #have, 2 do
    if not want[have[i]] then redis.call('HDEL', uk, have[i]) end
  end
  for f, c in pairs(want) do redis.call('HSET', uk, f, c) end
  return n
end

-- pg_admit: a batch of one shard's jobs through admission (decided in C by rl_decide).
-- KEYS[1] audit, KEYS[2] deferred, then per job: history, job, the tenant's suppression hash
-- in this shard, ready queue.
-- ARGV[1] now (ms), ARGV[2] TTL (s) of finished jobs, ARGV[3] history TTL (s), then per job:
--   job_id tenant debtor readmit(0|1) expected_version action until rule reason new_history
--   payload channel contact queue_score x (the packed audit context) counters win link keep
--   keep: '1' for a job with fallback channels: field fb = 1, and pg_report keeps its payload
--   once it is sent, delivered or failed (brk_fallback builds the next channel's job from it).
--   action: A accept, D defer, R reject, E expire, X reject invalid input (audited, not stored).
-- Returns per job: {A} | {D until} | {R rule reason} | {E until} | {U first_verdict} (duplicate)
--   | {T} (history changed since the decision: decide again) | {S state} (readmission of a job
--   that is no longer deferred: nothing done).
-- Window (the job's last two arguments): win, the window key of a job allowed only inside the
--   debtor's 24-hour service window (st_key_window: P:{sN}:w:T:D:CH:CP, the job's own shard,
--   checked) or '': unless GET win is an instant after now, such a job is REJECTED rule
--   "CHANNEL.window" reason "window-closed" (after suppressions: they decide first); an admitted
--   one keeps it in field w, and pg_lease checks it again. link: '' or, for a job pregond
--   submits as another's fallback (same tenant and debtor: the same shard), "ORIGINAL NUL
--   ORIGINAL_CHANNEL NUL ORIGINAL_STATE NUL ATTEMPT NUL WHY": the decision record's detail is
--   "fallback-of:ORIGINAL", and the original job gets a FALLBACK record (from its state, reason
--   WHY, detail "JOB on CHANNEL: VERDICT") unless the answer is DUPLICATE: the two are linked.
local function window_open(win, jk, now)
  if win == '' then return true end
  if string.match(win, '{s%d+}') ~= string.match(jk, '{s%d+}') then
    error('window key ' .. win .. ' is not in the job\'s shard')
  end
  local u = tonumber(redis.call('GET', win) or '0') or 0
  return u > tonumber(now)
end
local function link_record(ak, now, j, link, label)
  local orig, och, ost, oatt, why =
    string.match(link, '^([^%z]*)%z([^%z]*)%z([^%z]*)%z([^%z]*)%z(.*)$')
  if not orig then return end
  redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now, 'job', orig, 'tenant', j.tn or '',
    'debtor', j.db or '', 'channel', och, 'from', ost, 'to', 'FALLBACK', 'attempt', oatt,
    'reason', why, 'until', '', 'pid', '', 'pcode', '',
    'detail', (j.id or '') .. ' on ' .. (j.ch or '') .. ': ' .. label)
end
local function admit(keys, args)
  local NK = 4
  local n_jobs = (#keys - 2) / NK
  -- 16 arguments a job: without win, link and keep (older callers)
  local NA = n_jobs > 0 and (#args - 3) / n_jobs or 19
  local ak, dk = keys[1], keys[2]
  local now, idem_ttl, hist_ttl = args[1], tonumber(args[2]), tonumber(args[3])
  local out, sc = {}, {}
  for i = 0, (#keys - 2) / NK - 1 do
    local k, a = 3 + i * NK, 4 + i * NA
    local hk, jk, sk, qk = keys[k], keys[k + 1], keys[k + 2], keys[k + 3]
    local readmit, ver, action = args[a + 3], args[a + 4], args[a + 5]
    local untl, rule, reason = args[a + 6], args[a + 7], args[a + 8]
    local ch, cp = args[a + 11], args[a + 12]
    local x = args[a + 14]
    local j = unpack_ctx({id = args[a], tn = args[a + 1], db = args[a + 2], ch = ch}, x)
    local e = {attempt = '0', counters = args[a + 15]}
    local win, link, keep = '', '', '0'
    if NA >= 19 then win, link, keep = args[a + 16], args[a + 17], args[a + 18] end
    if link ~= '' then e.detail = 'fallback-of:' .. string.match(link, '^[^%z]*') end
    local res
    local from = 'new'
    if action == 'X' then
      e.rule, e.reason = rule, reason
      audit(ak, now, j, 'new', 'REJECTED', e)
      res = {'R', rule, reason}
    else
      local st = redis.call('HGET', jk, 's')
      if readmit == '0' and st then
        local first = redis.call('HGET', jk, 'v') or 'UNKNOWN'
        e.reason = 'duplicate'
        audit(ak, now, j, st, 'DUPLICATE', e)
        res = {'U', first}
      elseif readmit == '1' and st ~= 'deferred' then
        res = {'S', st or 'none'}
      else
        from = st or 'new'
        if sup_any(sc, sk) then
          local r = suppressed(sk, ch, sup_contact(cp), j.db, j.dt or '')
          if r then rule, reason, action = r, 'suppressed', 'R' end
        end
        if action ~= 'R' and not window_open(win, jk, now) then
          rule, reason, action = ch .. '.window', 'window-closed', 'R'
        end
      end
    end
    if not res then
      local first = (readmit == '1') and redis.call('HGET', jk, 'v') or nil
      e.rule, e.reason = rule, reason
      if action == 'A' then
        local cur = redis.call('HGET', hk, 'v') or '0'
        if cur ~= ver then
          res = {'T'}
        else
          redis.call('HSET', hk, 'v', tostring(tonumber(cur) + 1), 'c', args[a + 9])
          redis.call('EXPIRE', hk, hist_ttl)
          redis.call('HSET', jk, 'v', first or 'ACCEPTED', 's', 'queued', 'p', args[a + 10],
            'id', j.id, 'tn', j.tn, 'db', j.db, 'ch', ch, 'x', x, 'qs', args[a + 13], 'at', now)
          if win ~= '' then redis.call('HSET', jk, 'w', win) end
          if keep == '1' then redis.call('HSET', jk, 'fb', '1') end
          if from == 'deferred' then due_move(dk, jk, ch, nil) end
          redis.call('ZADD', qk, args[a + 13], jk)
          audit(ak, now, j, from, 'ACCEPTED', e)
          res = {'A'}
        end
      elseif action == 'D' then
        redis.call('HSET', jk, 'v', first or 'DEFERRED', 's', 'deferred', 'p', args[a + 10],
          'id', j.id, 'tn', j.tn, 'db', j.db, 'ch', ch, 'x', x, 'qs', args[a + 13], 'u', untl,
          'r', rule, 'at', now)
        if win ~= '' then redis.call('HSET', jk, 'w', win) end
        if keep == '1' then redis.call('HSET', jk, 'fb', '1') end
        due_move(dk, jk, ch, untl)
        e['until'] = untl
        audit(ak, now, j, from, 'DEFERRED', e)
        res = {'D', untl}
      else
        local label = (action == 'E') and 'EXPIRED' or 'REJECTED'
        redis.call('HSET', jk, 'v', first or label, 's', T[label].to, 'r', rule, 'at', now,
          'id', j.id, 'tn', j.tn, 'db', j.db, 'ch', ch)
        redis.call('HDEL', jk, 'p')
        if from == 'deferred' then due_move(dk, jk, ch, nil) end
        redis.call('EXPIRE', jk, idem_ttl)
        e['until'] = (action == 'E') and untl or ''
        audit(ak, now, j, from, label, e)
        if action == 'E' then res = {'E', untl} else res = {'R', rule, reason} end
      end
    end
    if link ~= '' and res[1] ~= 'U' and res[1] ~= 'S' and res[1] ~= 'T' then
      local names = {A = 'ACCEPTED', D = 'DEFERRED', R = 'REJECTED', E = 'EXPIRED'}
      link_record(ak, now, j, link, names[res[1]] or res[1])
    end
    out[i + 1] = res
  end
  return out
end

-- pg_peek: the dry run of pg_admit (same keys and arguments): the answer pg_admit would give
-- now, the idempotency and suppression checks included, with nothing written, reserved or
-- audited (pregonctl submit --dry-run; SubmitBatch.dry_run).
local function peek(keys, args)
  local NK = 4
  local n_jobs = (#keys - 2) / NK
  local NA = n_jobs > 0 and (#args - 3) / n_jobs or 19
  local now = args[1]
  local out, sc = {}, {}
  for i = 0, (#keys - 2) / NK - 1 do
    local k, a = 3 + i * NK, 4 + i * NA
    local jk, sk = keys[k + 1], keys[k + 2]
    local readmit, action = args[a + 3], args[a + 5]
    local untl, rule, reason = args[a + 6], args[a + 7], args[a + 8]
    local ch, cp = args[a + 11], args[a + 12]
    local j = unpack_ctx({db = args[a + 2]}, args[a + 14])
    local res
    if action == 'X' then
      res = {'R', rule, reason}
    else
      local st = redis.call('HGET', jk, 's')
      if readmit == '0' and st then
        res = {'U', redis.call('HGET', jk, 'v') or 'UNKNOWN'}
      elseif readmit == '1' and st ~= 'deferred' then
        res = {'S', st or 'none'}
      else
        if sup_any(sc, sk) then
          local r = suppressed(sk, ch, sup_contact(cp), j.db, j.dt or '')
          if r then res = {'R', r, 'suppressed'} end
        end
        local win = NA >= 19 and args[a + 16] or ''
        if not res and not window_open(win, jk, now) then
          res = {'R', ch .. '.window', 'window-closed'}
        end
      end
    end
    if not res then
      if action == 'A' then res = {'A'}
      elseif action == 'D' then res = {'D', untl}
      elseif action == 'E' then res = {'E', untl}
      else res = {'R', rule, reason} end
    end
    out[i + 1] = res
  end
  return out
end

-- pg_lease: leases up to N ready jobs of one shard's channel queue to a worker.
-- KEYS[1] ready queue, KEYS[2] leases, KEYS[3] audit.
-- ARGV[1] how many, ARGV[2] lease expiry (ms), ARGV[3] now (ms), ARGV[4] the worker
-- ("key/name#incarnation"), ARGV[5] this broker ("instance#incarnation"), ARGV[6] TTL (s) of
-- finished jobs (default 35 days), ARGV[7] the nonces: NONCE_HEX hex digits per job asked for,
-- drawn by the caller from the system's random source (a Function has none); the i-th job
-- leased gets the i-th (missing: "", a lease no worker's report can name).
-- Returns a flat array: job key, payload, attempt, nonce, window, ... (window: the instant in ms
-- the job's service window closes, '0' for a job that needs none). A queue entry whose job is
-- gone or no longer queued is dropped from the queue (an index entry, not a transition). A queued
-- job a suppression now blocks (the tenant's hash in this shard, derived from the job key: the
-- same slot) goes queued -> REJECTED, audited, its payload dropped, and is not returned; so does
-- a windowed job (field w, pg_admit) whose window is closed at now: rule "CHANNEL.window",
-- reason "window-closed", detail "dispatch re-check".
local NONCE_HEX = 16
-- The pause that holds a job of tenant tn, campaign cm, channel ch in pause hash pk, or nil.
local function pause_of(pk, tn, cm, ch)
  local f = redis.call('HMGET', pk, tn .. '\0\0', tn .. '\0' .. cm .. '\0', tn .. '\0\0' .. ch,
    tn .. '\0' .. cm .. '\0' .. ch)
  return f[1] or f[2] or f[3] or f[4]
end

local function lease(keys, args)
  local qk, lk, ak = keys[1], keys[2], keys[3]
  local pk, pz = keys[4], keys[5]  -- the shard's pauses and parked jobs (optional)
  local any_pause = pk and redis.call('EXISTS', pk) == 1
  local until_ms, now = args[2], args[3]
  local ttl = tonumber(args[6]) or 3024000
  local holders = args[4] .. '\0' .. args[5] .. '\0'
  local nonces = args[7] or ''
  local popped = redis.call('ZPOPMIN', qk, args[1])
  local out, sc = {}, {}
  for i = 1, #popped, 2 do
    local jk = popped[i]
    local v = redis.call('HMGET', jk, 's', 'att', 'p', 'id', 'tn', 'db', 'ch', 'x', 'w')
    local st, p = v[1], v[3]
    local wu, reason = '0', 'suppressed'
    local dt, cm, cp, tz, off, tp, ju = ctx_parts(v[8])
    local jc = {id = v[4], tn = v[5], db = v[6], ch = v[7], dt = dt, cm = cm, cp = cp, tz = tz,
      off = off, tp = tp, ju = ju}  -- one constructor: sized once
    local rule
    if p and allowed('DISPATCHED', st) then
      local head, et = string.match(jk, '^(.-{s%d+}:)j:([^:]*):')
      local spk = head and (head .. 'sp:' .. et)
      if spk and sup_any(sc, spk) then
        rule = suppressed(spk, v[7] or '', sup_contact(cp or ''), v[6] or '', dt or '')
      end
      if not rule and v[9] then
        wu = redis.call('GET', v[9]) or '0'
        if string.match(v[9], '{s%d+}') ~= string.match(jk, '{s%d+}') or
            (tonumber(wu) or 0) <= tonumber(now) then
          rule, reason = (v[7] or '') .. '.window', 'window-closed'
        end
      end
    end
    local pause = (not rule) and any_pause and p and allowed('PAUSED', st) and
      pause_of(pk, v[5] or '', cm or '', v[7] or '')
    if pause then
      -- parked: never dispatched while the pause lasts; the reservation of a job never
      -- attempted is given back (admission decides again on resume)
      if (tonumber(v[2]) or 0) == 0 then
        local head, et, ed = string.match(jk, '^(.-{s%d+}:)j:([^:]*):([^:]*):')
        hist_edit(head .. 'h:' .. et .. ':' .. ed, job_ref(v[5] or '', v[4] or ''),
          function() return '' end)
      end
      redis.call('HSET', jk, 's', T.PAUSED.to, 'u', '')
      redis.call('ZADD', pz, popped[i + 1], jk)
      local who, why = string.match(pause, '^([^%z]*)%z([^%z]*)%z')
      audit(ak, now, jc, st, 'PAUSED',
        {attempt = v[2] or '0', rule = 'paused', reason = 'paused',
         detail = (who or '') .. ': ' .. (why or '')})
    elseif rule and allowed('REJECTED', st) then
      -- never attempted: the contact admission counted will not happen (as SKIPPED)
      if (tonumber(v[2]) or 0) == 0 then
        local head, et, ed = string.match(jk, '^(.-{s%d+}:)j:([^:]*):([^:]*):')
        hist_edit(head .. 'h:' .. et .. ':' .. ed, job_ref(v[5] or '', v[4] or ''),
          function() return '' end)
      end
      redis.call('HSET', jk, 's', T.REJECTED.to, 'r', rule)
      redis.call('HDEL', jk, 'p')
      redis.call('EXPIRE', jk, ttl)
      audit(ak, now, jc, st, 'REJECTED',
        {attempt = v[2] or '0', rule = rule, reason = reason, detail = 'dispatch re-check'})
    elseif p and allowed('DISPATCHED', st) then
      local att = tostring((tonumber(v[2]) or 0) + 1)
      local nonce = string.sub(nonces, (i - 1) / 2 * NONCE_HEX + 1, (i + 1) / 2 * NONCE_HEX)
      redis.call('HSET', jk, 's', 'dispatched', 'att', att, 'l', holders .. nonce)
      redis.call('ZADD', lk, until_ms, jk)
      redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now, 'job', v[4] or '',
        'tenant', v[5] or '', 'debtor', v[6] or '', 'channel', v[7] or '', 'from', st,
        'to', 'DISPATCHED', 'attempt', att, 'debt', dt or '', 'campaign', jc.cm or '',
        'contact', cp or '', 'local', local_time(now, jc.off), 'zone', jc.tz or '',
        'template', jc.tp or '', 'jurisdiction', jc.ju or '')
      out[#out + 1] = jk
      out[#out + 1] = p
      out[#out + 1] = att
      out[#out + 1] = nonce
      out[#out + 1] = wu
    end
  end
  return out
end

-- pg_report: applies a batch of one shard's reports about dispatched jobs (from workers, lease
-- expiry, webhooks).
-- KEYS[1] leases, KEYS[2] retry, KEYS[3] audit, KEYS[4] deferred, then per report: job,
--   the debtor's history.
-- ARGV[1] now (ms), ARGV[2] TTL (s) of finished jobs, ARGV[3] max attempts, ARGV[4] the
--   channels whose UNKNOWN outcomes are resent (",email," or ","), then per report:
--   outcome (SENT DELIVERED FAILED RETRY UNKNOWN CONFIG_ERROR SKIPPED HANDBACK), the attempt it
--   is about, provider id, provider code, detail, retry at (s), history ref of the job (hex),
--   then (optional: a batch has 7 or 9 arguments per report) the lease's nonce and the
--   reporter: "key/name#" (the worker's authenticated key and worker id, as pg_lease recorded
--   them without the incarnation: a worker restarted re-sends its previous process's reports),
--   or '' for the broker's own reports (lease expiry, hand-backs, webhooks).
-- Returns per report the state the job is left in, or 'stale' (about another attempt),
-- 'gone' (no such job), 'refused: FROM -> LABEL' (not a transition the table allows),
-- 'wrong-lease' (the nonce is not the current lease's, or a worker's report has none: a forged,
-- guessed or previous lease id), 'not-holder' (the reporter is not the worker holding the
-- lease). Neither of the last two changes anything.
local OUTCOME = {SENT = 'SENT', DELIVERED = 'DELIVERED', FAILED = 'FAILED', RETRY = 'RETRY',
  UNKNOWN = 'UNKNOWN', CONFIG_ERROR = 'HANDED_BACK', SKIPPED = 'SKIPPED',
  HANDBACK = 'HANDED_BACK'}
-- Whether a report naming nonce, from reporter (see pg_report), may touch the lease l.
-- l is "worker NUL broker NUL nonce" (pg_lease); the worker part starts with "key/name#".
local function lease_check(l, nonce, reporter)
  if reporter ~= '' and nonce == '' then return 'wrong-lease' end
  if nonce ~= '' then
    local ln = l and string.match(l, '^[^%z]*%z[^%z]*%z(.*)$')
    if ln ~= nonce then return 'wrong-lease' end
  end
  if reporter ~= '' and string.sub(l, 1, #reporter) ~= reporter then return 'not-holder' end
  return nil
end
local function report(keys, args)
  local NK = 2
  local lk, rk, ak, dk = keys[1], keys[2], keys[3], keys[4]
  local now, ttl, max_attempts, resend = args[1], args[2], tonumber(args[3]), args[4]
  local n_reports = (#keys - 4) / NK
  local NA = n_reports > 0 and (#args - 4) / n_reports or 7
  local out = {}
  for i = 0, n_reports - 1 do
    local k, a = 5 + i * NK, 5 + i * NA
    local jk, hk = keys[k], keys[k + 1]
    local outcome, attempt = args[a], args[a + 1]
    local pid, pcode, detail, reason, untl = args[a + 2], args[a + 3], args[a + 4], '', ''
    local ref = args[a + 6]
    local nonce, reporter = '', ''
    if NA >= 9 then nonce, reporter = args[a + 7], args[a + 8] end
    local v = redis.call('HMGET', jk, 's', 'att', 'id', 'tn', 'db', 'ch', 'l', 'fb', 'x')
    local st, ch = v[1], v[6]
    local keep_p = v[8] and true or false  -- fb: the payload stays for a fallback
    local label = OUTCOME[outcome]
    local res
    if not st then
      res = 'gone'
    elseif not label then
      res = 'refused: unknown outcome ' .. tostring(outcome)
    elseif v[2] ~= attempt then
      res = 'stale'
    elseif lease_check(v[7], nonce, reporter) then
      res = lease_check(v[7], nonce, reporter)
    else
      if label == 'RETRY' and tonumber(attempt) >= max_attempts then
        label, reason = 'FAILED', 'max-attempts'
      elseif label == 'UNKNOWN' and ch and string.find(resend, ',' .. ch .. ',', 1, true) then
        label, reason = 'RETRY', 'unknown-outcome'
        if tonumber(attempt) >= max_attempts then label, reason = 'FAILED', 'max-attempts' end
      elseif outcome == 'CONFIG_ERROR' then
        reason = 'channel-halted'
      elseif label == 'HANDED_BACK' then
        reason = 'handed-back'
      elseif label == 'FAILED' and st == 'sent' then
        reason = 'undelivered'  -- the provider's status webhook: accepted, never delivered
      end
      if not allowed(label, st) then
        res = 'refused: ' .. st .. ' -> ' .. label
      else
        local to = T[label].to
        if label == 'SENT' then
          redis.call('HSET', jk, 's', to, 'pid', pid)
          -- kept: for a fallback (keep_p), or a voice call's TwiML while it lasts (ScriptRequest)
          if not keep_p and ch ~= 'voice' then redis.call('HDEL', jk, 'p') end
          redis.call('EXPIRE', jk, ttl)
        elseif label == 'DELIVERED' then
          hist_flag(hk, ref, HIST_DELIVERED)
          redis.call('HSET', jk, 's', to)
          -- kept: for a fallback (keep_p), or a voice call's TwiML while it lasts (ScriptRequest)
          if not keep_p and ch ~= 'voice' then redis.call('HDEL', jk, 'p') end
          redis.call('EXPIRE', jk, ttl)
        elseif label == 'FAILED' or label == 'UNKNOWN' then
          if label == 'FAILED' then hist_flag(hk, ref, HIST_FAILED) end
          redis.call('HSET', jk, 's', to, 'pid', pid, 'pcode', pcode)
          if not keep_p then redis.call('HDEL', jk, 'p') end
          redis.call('EXPIRE', jk, ttl)
        elseif label == 'RETRY' or label == 'HANDED_BACK' then
          local att = attempt
          if label == 'HANDED_BACK' then att = tostring(tonumber(attempt) - 1) end
          redis.call('HSET', jk, 's', to, 'att', att, 'pcode', pcode)
          redis.call('ZADD', rk, args[a + 5], jk)
          untl = args[a + 5]
        elseif label == 'SKIPPED' then
          -- the worker's last check refused it: no contact happened; decide it again from scratch
          hist_edit(hk, ref, function() return '' end)
          local due = floor(tonumber(now) / 1000)
          redis.call('HSET', jk, 's', to, 'att', tostring(tonumber(attempt) - 1), 'u', due)
          due_move(dk, jk, ch, due)
          reason = 'skipped'
        end
        if st == 'dispatched' then redis.call('ZREM', lk, jk) end
        audit_outcome(ak, now, v[3], v[4], v[5], ch, st, label, attempt, reason, untl, pid, pcode,
          detail, v[9])
        res = to
      end
    end
    out[i + 1] = res
  end
  return out
end

-- pg_release: due retries of one shard back to their ready queues, in their first order.
-- KEYS[1] retry, KEYS[2] audit, KEYS[3..7] the shard's ready queues of sms whatsapp voice email
-- messenger. ARGV[1] now (s), ARGV[2] at most this many, ARGV[3] now (ms).
-- Returns how many were released.
local QUEUE_OF = {sms = 3, whatsapp = 4, voice = 5, email = 6, messenger = 7}
local function release(keys, args)
  local rk, ak, now = keys[1], keys[2], args[3]
  local due = redis.call('ZRANGEBYSCORE', rk, '-inf', args[1], 'LIMIT', 0, args[2])
  local n = 0
  for _, jk in ipairs(due) do
    redis.call('ZREM', rk, jk)
    local v = redis.call('HMGET', jk, 's', 'att', 'id', 'tn', 'db', 'ch', 'qs', 'x')
    local qi = v[6] and QUEUE_OF[v[6]]
    if qi and allowed('QUEUED', v[1]) then
      redis.call('HSET', jk, 's', T.QUEUED.to)
      redis.call('ZADD', keys[qi], v[7] or now, jk)
      audit_outcome(ak, now, v[3], v[4], v[5], v[6], v[1], 'QUEUED', v[2], nil, nil, nil, nil,
        nil, v[8])
      n = n + 1
    end
  end
  return n
end

-- pg_cancel: an operator cancels jobs of one shard that have not been dispatched.
-- KEYS[1] audit, KEYS[2] deferred, KEYS[3] retry, then per job: job, its ready queue.
-- ARGV[1] now (ms), ARGV[2] TTL (s) of finished jobs, ARGV[3] who, ARGV[4] reason.
-- Returns per job 'cancelled', 'gone' or 'refused: FROM -> CANCELLED'.
local function cancel(keys, args)
  local ak, dk, rk = keys[1], keys[2], keys[3]
  local now = args[1]
  local out = {}
  for i = 0, (#keys - 3) / 2 - 1 do
    local jk, qk = keys[4 + 2 * i], keys[5 + 2 * i]
    local v = redis.call('HMGET', jk, 's', 'att', 'id', 'tn', 'db', 'ch', 'x')
    local st = v[1]
    if not st then
      out[i + 1] = 'gone'
    elseif not allowed('CANCELLED', st) then
      out[i + 1] = 'refused: ' .. st .. ' -> CANCELLED'
    else
      if st == 'queued' then
        redis.call('ZREM', qk, jk)
        if (tonumber(v[2]) or 0) == 0 then  -- never attempted: its reservation is given back
          local head, et, ed = string.match(jk, '^(.-{s%d+}:)j:([^:]*):([^:]*):')
          hist_edit(head .. 'h:' .. et .. ':' .. ed, job_ref(v[4] or '', v[3] or ''),
            function() return '' end)
        end
      elseif st == 'deferred' then
        due_move(dk, jk, v[6], nil)
        redis.call('ZREM', (string.gsub(dk, 'deferred$', 'paused')), jk)  -- parked by a pause
      else redis.call('ZREM', rk, jk) end
      redis.call('HSET', jk, 's', T.CANCELLED.to)
      redis.call('HDEL', jk, 'p')
      redis.call('EXPIRE', jk, tonumber(args[2]))
      audit_outcome(ak, now, v[3], v[4], v[5], v[6], st, 'CANCELLED', v[2], args[4], nil, nil,
        nil, args[3], v[7])
      out[i + 1] = 'cancelled'
    end
  end
  return out
end

-- pg_pause: sets (ARGV[1] "pause") or lifts ("resume") a pause in one shard's pause hash.
-- KEYS[1] pause hash, KEYS[2] audit stream (written only when ARGV[8] is "1": the home shard).
-- ARGV[2] tenant, ARGV[3] campaign ("" = all), ARGV[4] channel ("" = all), ARGV[5] who,
-- ARGV[6] why, ARGV[7] now (ms). Returns 1 when it changed something, 0 when it was so.
local function pause_fn(keys, args)
  local pk, ak = keys[1], keys[2]
  local op, tn, cm, ch, who, why, now = args[1], args[2], args[3], args[4], args[5], args[6],
    args[7]
  local f = tn .. '\0' .. cm .. '\0' .. ch
  local changed
  if op == 'pause' then
    changed = redis.call('HSET', pk, f, who .. '\0' .. why .. '\0' .. now)  -- 0: updated
  else
    changed = redis.call('HDEL', pk, f)
  end
  if args[8] == '1' then
    redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now, 'job', '', 'tenant', tn,
      'debtor', '', 'channel', ch, 'from', op == 'pause' and 'running' or 'paused',
      'to', op == 'pause' and 'PAUSE' or 'RESUME', 'attempt', '', 'scope', 'campaign',
      'value', cm, 'rule', 'pause', 'who', who, 'why', why, 'detail', '')
  end
  return changed
end

-- pg_unpark: parked jobs whose pause is gone go to the deferred set, due at once (admission
-- decides them again). KEYS[1] pause hash, KEYS[2] parked set, KEYS[3] deferred set.
-- ARGV[1] now (ms), ARGV[2] from (index in the parked set), ARGV[3] how many to look at.
-- Returns {moved, parked left, the next index to look at (0: start again)}.
local function unpark(keys, args)
  local pk, pz, dk = keys[1], keys[2], keys[3]
  local due = floor(tonumber(args[1]) / 1000)
  local from, count = tonumber(args[2]) or 0, tonumber(args[3]) or 100
  local members = redis.call('ZRANGE', pz, from, from + count - 1)
  local moved = 0
  for _, jk in ipairs(members) do
    local v = redis.call('HMGET', jk, 's', 'tn', 'ch', 'x')
    if v[1] ~= 'deferred' then
      redis.call('ZREM', pz, jk)  -- cancelled meanwhile, or gone
    else
      local cm = v[4] and string.match(v[4], '^[^%z]*%z([^%z]*)%z') or ''
      if not pause_of(pk, v[2] or '', cm, v[3] or '') then
        redis.call('ZREM', pz, jk)
        redis.call('HSET', jk, 'u', due)
        due_move(dk, jk, v[3], due)
        moved = moved + 1
      end
    end
  end
  local left = redis.call('ZCARD', pz)
  local nxt = from + #members - moved
  if #members < count or nxt >= left then nxt = 0 end
  return {moved, left, nxt}
end

-- pg_budget: reserves (ARGV[1] "reserve"), checks ("check": a dry run, nothing written) or
-- gives back ("refund") the cost of jobs of one tenant against its budgets, in its budget hash
-- (KEYS[1], P:{sH}:budget:T; fields d:DAY m:MONTH for the tenant, cd:CAMPAIGN:DAY
-- cm:CAMPAIGN:MONTH ct:CAMPAIGN for a campaign; amounts in millionths).
-- ARGV[2] day (YYYYMMDD, UTC), ARGV[3] month (YYYYMM), ARGV[4] the tenant's daily budget,
-- ARGV[5] its monthly one (0 = none), ARGV[6] the hash's TTL (s), then per job: campaign, cost,
-- the campaign's daily, monthly and total budget (0 = none).
-- Returns per job "" (it fits: reserved, or would be) or the rule of the first budget it would
-- break; in order, so a batch's later jobs see what its earlier ones took.
local function budget(keys, args)
  local bk, op, day, month = keys[1], args[1], args[2], args[3]
  local td, tm = tonumber(args[4]) or 0, tonumber(args[5]) or 0
  local cache, out = {}, {}
  local function get(f)
    if cache[f] == nil then cache[f] = tonumber(redis.call('HGET', bk, f) or '0') end
    return cache[f]
  end
  local function add(f, v)
    cache[f] = get(f) + v
    if op ~= 'check' then redis.call('HINCRBY', bk, f, v) end
  end
  for i = 0, (#args - 6) / 5 - 1 do
    local a = 7 + i * 5
    local cm, cost = args[a], tonumber(args[a + 1]) or 0
    local cd, cmo, ct = tonumber(args[a + 2]) or 0, tonumber(args[a + 3]) or 0,
      tonumber(args[a + 4]) or 0
    local f = {'d:' .. day, 'm:' .. month, 'cd:' .. cm .. ':' .. day, 'cm:' .. cm .. ':' .. month,
      'ct:' .. cm}
    local rule = ''
    if op ~= 'refund' then
      local lim = {td, tm, cd, cmo, ct}
      local names = {'budget.tenant.daily', 'budget.tenant.monthly', 'budget.campaign.daily',
        'budget.campaign.monthly', 'budget.campaign.total'}
      for k = 1, 5 do
        if rule == '' and lim[k] > 0 and get(f[k]) + cost > lim[k] then rule = names[k] end
      end
    end
    if rule == '' then
      for k = 1, 5 do add(f[k], op == 'refund' and -cost or cost) end
    end
    out[i + 1] = rule
  end
  if op ~= 'check' then redis.call('EXPIRE', bk, tonumber(args[6]) or 34560000) end
  return out
end

-- pg_sup_add and pg_sup_del: suppression changes of one shard (store/st_suppress.c makes one
-- call per shard the change must reach; every entry names a tenant's hash of this shard).
-- KEYS[1] the shard's sp-tenants set, KEYS[2] its audit stream, then per entry the tenant's
--   suppression hash in this shard.
-- ARGV[1] now (ms), then per entry 9 arguments:
--   pg_sup_add: tenant kind(c d b) value channel rule who why home(0|1) replace(0|1)
--   pg_sup_del: tenant kind(c d b) value channel only-rule ('' any) who why home(0|1) ''
--   home 1: this is the entry's home shard, whose audit stream records the change (once).
-- pg_sup_add returns per entry 'added', 'changed' (same rule, another who or why), 'same'
--   (nothing written), 'replaced:OLD' (replace 1) or 'kept:OLD' (another rule is in force and
--   replace is 0: an opt-out never overwrites an operator's or a regulator's suppression).
-- pg_sup_del returns per entry 'removed:RULE', 'absent' or 'kept:RULE' (only-rule differs).
-- Arguments are all checked before anything is written: a bad entry fails the whole call.
local function sup_audit(ak, now, tn, kind, value, ch, from, to, rule, who, why, detail)
  redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now, 'job', '', 'tenant', tn,
    'debtor', kind == 'd' and value or '', 'channel', ch, 'from', from, 'to', to, 'attempt', '',
    'scope', SUP_KIND[kind], 'value', value, 'rule', rule, 'who', who, 'why', why,
    'detail', detail)
end
local function sup_check_args(keys, args)
  local NA = 9
  if #args ~= 1 + (#keys - 2) * NA then return 'wrong number of arguments' end
  for i = 0, #keys - 3 do
    local a = 2 + i * NA
    if not SUP_KIND[args[a + 1]] or args[a] == '' or args[a + 2] == '' or args[a + 3] == ''
        or string.find(args[a + 3], '|', 1, true) or string.find(args[a + 4], '%z')
        or string.find(args[a + 5], '%z') or string.find(args[a + 6], '%z') then
      return 'bad suppression entry ' .. (i + 1)
    end
  end
  return nil
end
local function sup_change(keys, args, adding)
  local NA = 9
  local bad = sup_check_args(keys, args)
  if bad then return redis.error_reply(bad) end
  if adding then
    for i = 0, #keys - 3 do
      if args[2 + i * NA + 4] == '' then return redis.error_reply('empty rule') end
    end
  end
  local tk, ak, now = keys[1], keys[2], args[1]
  local out = {}
  for i = 0, #keys - 3 do
    local a = 2 + i * NA
    local spk = keys[3 + i]
    local tn, kind, value, ch = args[a], args[a + 1], args[a + 2], args[a + 3]
    local rule, who, why, home = args[a + 4], args[a + 5], args[a + 6], args[a + 7] == '1'
    local f = kind .. '|' .. value .. '|' .. ch
    local old = redis.call('HGET', spk, f)
    local orule, owho, owhy
    if old then
      orule, owho, owhy = string.match(old, '^([^%z]*)%z[^%z]*%z([^%z]*)%z(.*)$')
      orule = orule or string.match(old, '^[^%z]*')
    end
    local res
    if adding then
      if old and orule ~= rule and args[a + 8] ~= '1' then
        res = 'kept:' .. orule
      elseif old and orule == rule and owho == who and owhy == why then
        res = 'same'
      else
        res = not old and 'added' or (orule == rule and 'changed' or 'replaced:' .. orule)
        redis.call('HSET', spk, f, rule .. '\0' .. now .. '\0' .. who .. '\0' .. why)
        redis.call('SADD', tk, tn)
        if home then
          sup_audit(ak, now, tn, kind, value, ch, old and 'suppressed' or 'none', 'SUPPRESSED',
            rule, who, why, (old and orule ~= rule) and ('replaces ' .. orule) or '')
        end
      end
    else
      if not old then
        res = 'absent'
      elseif rule ~= '' and orule ~= rule then
        res = 'kept:' .. orule
      else
        redis.call('HDEL', spk, f)
        if redis.call('EXISTS', spk) == 0 then redis.call('SREM', tk, tn) end
        if home then
          sup_audit(ak, now, tn, kind, value, ch, 'suppressed', 'UNSUPPRESSED', orule, who, why,
            '')
        end
        res = 'removed:' .. orule
      end
    end
    out[i + 1] = res
  end
  return out
end

-- === The way back: what providers tell us afterwards (pregon-hooks -> pregond) ============
-- A webhook names a provider's message id or a contact point, never a debtor: the maps below
-- (keys in store/st_keys.h) live in the shard those names hash to, and lead to the debtor's
-- shard, where the event is applied: delivery status through pg_report, the rest by pg_inbound.

-- pg_index: one shard's maps, written after dispatch (contact maps) and SENT reports (provider
-- message ids). KEYS: one per entry. ARGV[1] now (ms), ARGV[2] TTL (s) of an id map, ARGV[3] TTL
-- (s) of a contact map, then per entry 5 values: 'm', job key, attempt, '', '' | 'c', tenant,
-- debtor, job id, sender. Returns per entry the events that came before their id was mapped
-- or before their contact point was (pg_contacts kept them): now the caller applies them.
local function index(keys, args)
  local now, id_ttl, ct_ttl = args[1], args[2], args[3]
  local out = {}
  for i = 1, #keys do
    local k, a = keys[i], 4 + (i - 1) * 5
    local early = {}
    local fields = 1
    if args[a] == 'm' then
      redis.call('HSET', k, 'j', args[a + 1], 'a', args[a + 2])
      fields = 2
    else
      redis.call('HSET', k, args[a + 1],
        args[a + 2] .. '\0' .. args[a + 3] .. '\0' .. args[a + 4] .. '\0' .. now)
    end
    if redis.call('HEXISTS', k, 'e') == 1 then  -- 'e' marks a map holding early events
      local all = redis.call('HGETALL', k)
      for f = 1, #all, 2 do
        if string.sub(all[f], 1, 2) == 'e:' then
          early[#early + 1] = all[f + 1]
          redis.call('HDEL', k, all[f])
        end
      end
      redis.call('HDEL', k, 'e')
    end
    redis.call('EXPIRE', k, args[a] == 'm' and id_ttl or ct_ttl)
    out[i] = early
  end
  return out
end

-- pg_lookup: the job of a provider's message id. KEYS[1] the id's map. ARGV[1] the event's id,
-- ARGV[2] the event packed by the caller, ARGV[3] how long an early event is kept (s),
-- ARGV[4] at most this many kept per id. Returns {job key, attempt}, or {}: then the event is
-- kept (a callback may overtake the worker's SENT report) and pg_index hands it back.
-- Keeps an early event (ARGV[1] id, ARGV[2] packed, ARGV[3] TTL, ARGV[4] at most) in map k.
local function keep_early(k, args)
  if args[2] ~= '' and redis.call('HLEN', k) <= tonumber(args[4]) then
    redis.call('HSET', k, 'e:' .. args[1], args[2], 'e', '1')
    if redis.call('TTL', k) < tonumber(args[3]) then redis.call('EXPIRE', k, args[3]) end
  end
end
local function lookup(keys, args)
  local v = redis.call('HMGET', keys[1], 'j', 'a')
  if v[1] then return {v[1], v[2]} end
  keep_early(keys[1], args)
  return {}
end

-- pg_contacts: who contacted a contact point on a channel: KEYS[1] its map; ARGV as
-- pg_lookup's. Returns its tenant fields and values (HGETALL without early events), or {}: then
-- the event is kept (a reply may overtake the map written at dispatch) for pg_index to hand back.
local function contacts(keys, args)
  local all = redis.call('HGETALL', keys[1])
  local out = {}
  for f = 1, #all, 2 do
    if all[f] ~= 'e' and string.sub(all[f], 1, 2) ~= 'e:' then
      out[#out + 1] = all[f]
      out[#out + 1] = all[f + 1]
    end
  end
  if #out == 0 then keep_early(keys[1], args) end
  return out
end

-- pg_seen: has the debtor's event ARGV[1] been applied? KEYS[1] the applied events. 1 or 0.
local function seen(keys, args)
  return redis.call('HEXISTS', keys[1], args[1])
end

-- pg_inbound: an event from a debtor recorded once, in the debtor's shard, with its audit record.
-- KEYS[1] audit, KEYS[2] the debtor's history, KEYS[3] the debtor's applied events.
-- ARGV[1] now (ms), ARGV[2] TTL (s) of applied-event ids, ARGV[3] event id, ARGV[4] kind
--   (REPLY CONVERSATION OPT_OUT OPT_IN DIGITS), ARGV[5..11] tenant debtor channel job contact,
--   the job's history ref (hex; '' none), provider, ARGV[12] detail (the text, bounded).
-- Optional: KEYS[4] the debtor's service window on the event's channel and contact point
-- (st_key_window), ARGV[13] the instant it closes now (ms), ARGV[14] how long the key is kept
-- (ms): a message from the debtor on WhatsApp or Messenger opens (or extends: never shortens)
-- the 24-hour window in which free-form messages may be sent (pg_admit, pg_lease).
-- A REPLY, CONVERSATION or PAYMENT_CLAIMED marks the job's history record a conversation
-- (policies that read "direct contact" as two-way, and cooldowns after a conversation, count
-- it); a debtor's reply is never an attempt of ours. Returns 'applied' or 'duplicate'.
local function inbound(keys, args)
  local ak, hk, ek = keys[1], keys[2], keys[3]
  local now, kind = args[1], args[4]
  if redis.call('HSETNX', ek, args[3], now) == 0 then return 'duplicate' end
  redis.call('EXPIRE', ek, args[2])
  if (kind == 'REPLY' or kind == 'CONVERSATION' or kind == 'PAYMENT_CLAIMED')
      and args[10] ~= '' then
    hist_flag(hk, args[10], HIST_CONVERSATION)
  end
  if keys[4] and args[13] then
    local old = tonumber(redis.call('GET', keys[4]) or '0') or 0
    if tonumber(args[13]) > old then
      redis.call('SET', keys[4], args[13], 'PX', args[14])
    end
  end
  redis.call('XADD', ak, '*', 'v', AUDIT_SCHEMA, 'at', now, 'job', args[8], 'tenant', args[5],
    'debtor', args[6], 'channel', args[7], 'from', 'inbound', 'to', kind, 'attempt', '',
    'contact', args[9], 'pid', args[3], 'provider', args[11], 'detail', args[12])
  return 'applied'
end

-- pg_table: the transition table, for the C mirror's test: per label {label, to, from...}.
local function table_fn()
  local out = {}
  for label, t in pairs(T) do
    local row = {label, t.to}
    for f, _ in pairs(t.from) do row[#row + 1] = f end
    out[#out + 1] = row
  end
  return out
end

redis.register_function('pg_admit', admit)
redis.register_function('pg_lease', lease)
redis.register_function{function_name = 'pg_peek', callback = peek, flags = {'no-writes'}}
redis.register_function('pg_report', report)
redis.register_function('pg_release', release)
redis.register_function('pg_cancel', cancel)
redis.register_function('pg_pause', pause_fn)
redis.register_function('pg_unpark', unpark)
redis.register_function('pg_due_rebuild', due_rebuild)
redis.register_function('pg_budget', budget)
redis.register_function('pg_index', index)
redis.register_function('pg_lookup', lookup)
redis.register_function('pg_inbound', inbound)
redis.register_function('pg_contacts', contacts)
redis.register_function{function_name = 'pg_seen', callback = seen, flags = {'no-writes'}}
redis.register_function('pg_sup_add', function(keys, args) return sup_change(keys, args, true) end)
redis.register_function('pg_sup_del', function(keys, args) return sup_change(keys, args, false) end)
redis.register_function{function_name = 'pg_table', callback = table_fn, flags = {'no-writes'}}
redis.register_function{function_name = 'pg_version', flags = {'no-writes'},
  callback = function() return LIB_VERSION end}
