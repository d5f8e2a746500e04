#!/usr/bin/env bash
# run.sh BUILD_DIR — the path of a job through real processes: redis-server, pregond,
# pregon-sms and pregon-sandbox, driven by pregonctl submit. pregond binds tcp://127.0.0.1:*
# (free ports, read back from its "serving:" line), the sandbox port 0, Redis a Unix socket in
# a private temp dir: runs never collide.
# pregond's clock is offset (test.clock_offset_s) so that it starts at 06:59:50 UTC: jobs for a
# policy open from 07:00 are deferred and must be released 10 seconds later.
# PG_REDIS_CLUSTER=1: Redis is a cluster node owning all slots (tests/integration/redis_lib.sh),
# so every cross-slot call fails; ctest's cluster.e2e runs it so.
# CURVE is on, as in production: pregond's, acme's and the worker's keys are made by
# `pregonctl keys new`; pregonctl and frames find theirs in PREGON_KEY_FILE and
# PREGON_BROKER_KEY_FILE, pregon-sms is given its own with --key-file.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/e2e"
. "$src/tests/integration/redis_lib.sh"
dir=$(mktemp -d /tmp/pregon-e2e.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  pg_redis_stop
  wait 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
# wait_for SECONDS CMD...: poll CMD until it succeeds (no blind sleeps)
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done; }
rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
ctl="$build/broker/pregonctl"
# the layout is sharded (store/st_keys.h): keys come from pregonctl, totals from its stats
rkey() { "$ctl" redis key "$@" --redis-socket "$dir/redis.sock"; }
stat() { "$ctl" redis stats --json --redis-socket "$dir/redis.sock" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
audit() { "$ctl" redis audit --redis-socket "$dir/redis.sock"; }
export -f stat; export ctl dir

pg_redis_start "$dir" || exit 1

"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"

now=$(date -u +%s)
start=$(( now - now % 86400 + 7 * 3600 - 10 ))          # today 06:59:50 UTC
[ "$start" -gt "$now" ] || start=$((start + 86400))
offset=$((start - now))
opens=$(( start + 10 ))                                  # 07:00:00
cp -r "$here/policies" "$dir/policies"   # a copy: the SIGHUP test adds a bad file to it
mkdir -p "$dir/own" "$dir/keys"
newkey() { "$ctl" keys new "$@" --dir "$dir/own" >/dev/null || { echo "pregonctl keys new $* failed"; exit 1; }; }
newkey pregond --role broker
newkey acme --role client --tenants '*'
newkey sms --role worker --channels sms
newkey probe --role worker --channels sms
cp "$dir/own/acme.pub" "$dir/own/sms.pub" "$dir/own/probe.pub" "$dir/keys/"
export PREGON_KEY_FILE="$dir/own/acme.key" PREGON_BROKER_KEY_FILE="$dir/own/pregond.pub"
export PREGON_WORKER_KEY_FILE="$dir/own/probe.key" # frames' hostile worker
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*", hooks: "tcp://127.0.0.1:*"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $dir/policies
templates: $src/deploy/templates.yaml
channels: sms,voice
limits: {max_batch: 1000, max_frame_bytes: 65536, no_worker_warn_s: 1}
dispatch: {lease_ms: 10000, heartbeat_ms: 200, max_attempts: 5}
test: {clock_offset_s: $offset}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
# the ports it bound: "serving: frontend tcp://127.0.0.1:P1, backend tcp://127.0.0.1:P2, events …"
bound() { grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "$1 tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2; }
front=$(bound frontend) back=$(bound backend) events=$(bound events) hooks=$(bound hooks)
[ -n "$front" ] && [ -n "$back" ] && [ -n "$events" ] || { echo "no bound ports in: $(grep serving "$dir/pregond.log")"; exit 1; }
# a restart binds the same ports again
sed -i "s|sockets: {.*}|sockets: {frontend: \"$front\", backend: \"$back\", events: \"$events\", hooks: \"$hooks\"}|" "$dir/pregon.yaml"
start_sms() {
  TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token \
    "$build/channels/sms/pregon-sms" --broker "$back" --base-url "$sb" --from +15005550006 \
    --key-file "$dir/own/sms.key" \
    --concurrency 16 --heartbeat-ms 200 --policy-dir "$here/worker-policies" 2>>"$dir/sms.log" &
  pids+=($!); sms_pid=$!
}
start_sms
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { ko "worker never became ready"; cat "$dir/pregond.log" "$dir/sms.log"; exit 1; }

submit() { "$ctl" submit --endpoint "$front" --json --timeout 20 "$@" 2>>"$dir/submit.log"; }
# jobs FILE PREFIX N DEBTORS CONTACT_BASE: N jobs over DEBTORS debtors, contact = base + debtor
jobs() {
  python3 - "$@" <<'PY'
import json, sys
path, prefix, n, debtors, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open(path, "w") as f:
    for i in range(n):
        d = i % debtors
        f.write(json.dumps({"job_id": f"{prefix}-{i}", "tenant": "acme", "campaign": "e2e",
            "debtor_id": f"{prefix}-d{d}", "debt_id": "L1", "channel": "sms",
            "contact": f"+{base + d}", "template_id": "aviso_mora_sms", "jurisdiction": "E2E",
            "time_zone": "UTC", "variables": {"acreedor": "Acme", "nombre": "Ana",
            "producto": "tarjeta", "monto": "$100", "telefono": "800", "enlace": "x.co"}}) + "\n")
PY
}
received() { curl -s "$sb/_sandbox/requests?limit=100000" | python3 -c "
import json,sys; rs=json.load(sys.stdin); p=sys.argv[1]
print(sum(1 for r in rs if r.get('to','').startswith(p)))" "$1"; }
job_field() { rcli hget "$(rkey job acme "$1" "$2")" "$3"; }

# 1. malformed and oversized frames are answered; the broker keeps serving
if "$build/tests/integration/e2e/frames" "$front" 65536 "$back" >"$dir/frames.out" 2>&1; then ok; else ko "frames: $(cat "$dir/frames.out")"; fi
# a worker id with a newline and a forged line: one escaped line, no forged one
wait_for 5 grep -qF 'worker evil\n2026-01-01T00:00:00.000Z pregond: FORGED\x1b[2J joined on sms' "$dir/pregond.log" \
  && ok || ko "hostile worker id not escaped: $(grep -a evil "$dir/pregond.log")"
grep -q '^2026-01-01T00:00:00.000Z pregond: FORGED' "$dir/pregond.log" && ko "a forged log line" || ok
grep -q "lists 70000 held leases, more than 65536: nothing handed back" "$dir/pregond.log" && ok \
  || ko "a Ready with too many held leases was not refused"
# an enabled channel without a worker is logged once (voice: enabled here, no worker)
wait_for 5 grep -q "channel voice is enabled but has had no worker for 1 s" "$dir/pregond.log" \
  && ok || ko "no line for an enabled channel without a worker"

# 2. quiet hours: submitted at 06:59:50, deferred until 07:00:00, then released and sent. 1,200
#    jobs: more than one release chunk (500), so the backlog path releases the rest, each once.
jobs "$dir/quiet.jsonl" quiet 1200 1200 5216000000
submit --batch 100 "$dir/quiet.jsonl" >"$dir/quiet.out"  # 64 KiB frames in this config
n=$(grep -c "\"verdict\":\"DEFERRED\",\"rule\":\"e2e.hours\"" "$dir/quiet.out")
[ "$n" = 1200 ] && ok || ko "quiet hours: $n of 1200 deferred: $(head -c 2000 "$dir/quiet.out")"
until_utc=$(date -u -d "@$opens" +%Y-%m-%dT%H:%M:%SZ)
grep -q "\"until\":\"$until_utc\"" "$dir/quiet.out" && ok || ko "deferred until $until_utc expected"
[ "$(received +521600)" = 0 ] && ok || ko "a deferred job was sent before its window"
wait_for 60 sh -c "[ \"\$(curl -s '$sb/_sandbox/requests?limit=100000' | grep -o '\"to\":\"+521600' | wc -l)\" -ge 1200 ]" \
  && ok || ko "deferred jobs were not released and sent at 07:00: $(received +521600) of 1200"
quiet_sent=$(curl -s "$sb/_sandbox/requests?limit=100000" | grep -o '"to":"+521600[0-9]*"' | sort)
[ "$(wc -l <<<"$quiet_sent")" = 1200 ] && [ "$(uniq <<<"$quiet_sent" | wc -l)" = 1200 ] && ok \
  || ko "released jobs: $(wc -l <<<"$quiet_sent") sent, $(uniq <<<"$quiet_sent" | wc -l) distinct, want 1200 each"

# 3. two concurrent submitters never exceed a cap (2 a day, 10 debtors, 120 jobs)
jobs "$dir/a.jsonl" capA 60 10 5215550200
python3 - "$dir/a.jsonl" "$dir/b.jsonl" <<'PY'
import sys
open(sys.argv[2], "w").writelines(l.replace('"capA-', '"capB-').replace('"job_id": "capB-d', '"job_id": "capA-d') for l in open(sys.argv[1]))
PY
sed -i 's/"debtor_id": "capB-/"debtor_id": "capA-/' "$dir/b.jsonl"
submit "$dir/a.jsonl" >"$dir/a.out" & sa=$!
submit "$dir/b.jsonl" >"$dir/b.out" & sb_=$!
wait $sa; wait $sb_
acc=$(cat "$dir/a.out" "$dir/b.out" | grep -c '"verdict":"ACCEPTED"')
[ "$acc" = 20 ] && ok || ko "concurrent submitters: $acc accepted, cap allows exactly 20"
wait_for 30 bash -c '[ "$(stat ready.sms)" = 0 ] && [ "$(stat leased)" = 0 ]' || ko "queue did not drain"
[ "$(received +52155502)" = 20 ] && ok || ko "sandbox received $(received +52155502) capped messages, want 20"

# explain reads the live counters: capA-d0 used its 2 contacts of the (broker's) day
at=$(date -u -d "@$(( $(date +%s) + offset ))" +%Y-%m-%dT%H:%M:%SZ)
"$ctl" explain --redis-socket "$dir/redis.sock" --policies "$here/policies" --tenant acme \
  --debtor capA-d0 --channel sms --jurisdiction E2E --tz UTC --at "$at" --json >"$dir/explain.out" 2>&1
python3 - "$dir/explain.out" "$(date -u -d "@$((opens + 86400))" +%Y-%m-%dT%H:%M:%S+00:00)" <<'PY' && ok || ko "explain: $(cat "$dir/explain.out")"
import json, sys
e = json.load(open(sys.argv[1]))
sys.exit(0 if (e["verdict"], e["rule"], e["until"], e["contacts"]) == ("DEFERRED", "e2e.daily", sys.argv[2], 2) else 1)
PY

# 4. duplicates are never sent twice
submit "$dir/a.jsonl" >"$dir/a2.out"
n=$(grep -c '"verdict":"DUPLICATE"' "$dir/a2.out")
[ "$n" = 60 ] && ok || ko "resubmission: $n of 60 DUPLICATE"
wait_for 5 bash -c '[ "$(stat ready.sms)" = 0 ]'
[ "$(received +52155502)" = 20 ] && ok || ko "a duplicate was sent"

# 5. provider faults: 503 twice then success; 429 with Retry-After; 21211 permanent
curl -s -X POST "$sb/_sandbox/script" -d '{"count":2,"status":503,"to":"+5215550301"}' >/dev/null
curl -s -X POST "$sb/_sandbox/script" -d '{"count":1,"status":429,"retry_after":1,"to":"+5215550302"}' >/dev/null
python3 - "$dir/faults.jsonl" <<'PY'
import json, sys
v = {"acreedor": "Acme", "nombre": "Ana", "producto": "t", "monto": "1", "telefono": "8", "enlace": "x"}
with open(sys.argv[1], "w") as f:
    for jid, to in (("f503", "+5215550301"), ("f429", "+5215550302"), ("f21211", "+15005550001")):
        f.write(json.dumps({"job_id": jid, "tenant": "acme", "debtor_id": "d-" + jid, "channel": "sms",
            "contact": to, "template_id": "aviso_mora_sms", "jurisdiction": "E2E", "time_zone": "UTC",
            "variables": v}) + "\n")
PY
submit "$dir/faults.jsonl" >"$dir/faults.out"
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme d-f503 f503)' s)\" = sent ]" \
  && ok || ko "503 twice: state $(job_field d-f503 f503 s)"
[ "$(job_field d-f503 f503 att)" = 3 ] && ok || ko "503 twice: sent on attempt $(job_field d-f503 f503 att), want 3"
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme d-f429 f429)' s)\" = sent ]" \
  && ok || ko "429: state $(job_field d-f429 f429 s)"
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme d-f21211 f21211)' s)\" = failed ]" \
  && ok || ko "21211: state $(job_field d-f21211 f21211 s)"
[ "$(job_field d-f21211 f21211 att)" = 1 ] && ok || ko "21211 was retried"
# G4: every transition of the 503 job is in the audit stream: accepted, 3 dispatches, 2 retries, sent
n=$(audit | grep -c '"job":"f503"')
[ "$n" -ge 7 ] && ok || ko "audit records of f503: $n, want at least 7 (accepted, 3 dispatched, 2 retry, sent)"

# a channel whose sends fail says so in pregond's log: each retry and FAILED job (a summary
# line per interval when there are many)
grep -q "retry job acme/f503 (attempt 1) on sms: 20500 provider error (HTTP 503)" "$dir/pregond.log" && ok || ko "no retry line in pregond's log"
grep -q "FAILED job acme/f21211 (attempt 1) on sms: 21211" "$dir/pregond.log" && ok || ko "no FAILED line in pregond's log"

# 5a. SIGHUP reloads policies and templates; a bad file keeps the old ones and says why
kill -HUP "$pregond_pid"
wait_for 5 grep -q "reload: 2 policies (were 2)" "$dir/pregond.log" && ok || ko "no reload line after SIGHUP"
echo "id: [unclosed" >"$dir/policies/bad.yaml"
kill -HUP "$pregond_pid"
wait_for 5 grep -q "reload: policies kept as they were: .*bad.yaml" "$dir/pregond.log" && ok \
  || ko "a bad policy file on SIGHUP: $(grep reload "$dir/pregond.log" | tail -1)"
rm -f "$dir/policies/bad.yaml"
kill -0 "$pregond_pid" 2>/dev/null && ok || ko "pregond died of SIGHUP"

# 5b. CSV input: a header of field names, var.NAME columns, RFC 4180 quoting; a bad row is
# reported by its line (csv-2 spans two) and the others still go out
cat >"$dir/jobs.csv" <<'CSV'
job_id,tenant,debtor_id,channel,contact,template_id,jurisdiction,time_zone,priority,var.acreedor,var.nombre,var.producto,var.monto,var.telefono,var.enlace
csv-1,acme,d-csv1,sms,+5215550801,aviso_mora_sms,E2E,UTC,1,"Acme, S.A.",Ana,tarjeta,$1,800,x.co
csv-2,acme,d-csv2,sms,+5215550802,aviso_mora_sms,E2E,UTC,,Acme,"Luis
Alberto",tarjeta,$2,800,x.co
csv-3,acme,d-csv3,sms,+5215550803,aviso_mora_sms,E2E,UTC,high,Acme,Rosa,tarjeta,$3,800,x.co
CSV
"$ctl" submit --endpoint "$front" --json --timeout 20 "$dir/jobs.csv" >"$dir/csv.out" 2>"$dir/csv.err"
rc=$?
[ $rc = 1 ] && ok || ko "CSV with a bad row: exit $rc, want 1"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/csv.out")" = 2 ] && ok || ko "CSV: $(cat "$dir/csv.out")"
grep -q 'jobs.csv:5: error: priority must be a whole number' "$dir/csv.err" && ok || ko "CSV error line: $(cat "$dir/csv.err")"
wait_for 10 sh -c "curl -s '$sb/_sandbox/requests?limit=100000' | grep -q 'Acme, S.A.: Ana'" && ok || ko "CSV quoted comma did not reach the provider intact"

# 6. the worker's last check: admitted by pregond (RC open there) but closed for the worker
jobs "$dir/rc.jsonl" rc 1 1 5215550500
sed -i 's/"jurisdiction": "E2E"/"jurisdiction": "RC"/' "$dir/rc.jsonl"
submit "$dir/rc.jsonl" >"$dir/rc.out"
grep -q '"verdict":"ACCEPTED"' "$dir/rc.out" && ok || ko "RC job not admitted: $(cat "$dir/rc.out")"
wait_for 10 sh -c "'$ctl' redis audit --redis-socket '$dir/redis.sock' | grep -q rc.closed" \
  && ok || ko "no 'skipped rc.closed' audit record: the worker did not re-check the window"
[ "$(received +5215550500)" = 0 ] && ok || ko "a job outside the worker's window was sent"

# 6b. SIGTERM to the worker while it holds jobs: it says Leaving, pregond stops dispatching to it
#     at once, what it holds is finished or handed back; no job expires UNKNOWN, and the next
#     worker sends the handed-back ones, each once
curl -s -X POST "$sb/_sandbox/faults" -d '{"latency_ms":300}' >/dev/null
jobs "$dir/stop.jsonl" stop 80 80 5215551000
submit "$dir/stop.jsonl" >"$dir/stop.out"
wait_for 10 sh -c "curl -s '$sb/_sandbox/requests?limit=100000' | grep -q '+52155510'"
kill -TERM "$sms_pid"; wait "$sms_pid"; rc=$?
[ $rc = 0 ] && ok || ko "pregon-sms exit code $rc on SIGTERM"
grep -q "worker .* on sms leaving (worker-stopping)" "$dir/pregond.log" && ok || ko "no 'leaving' line in pregond's log"
grep -q "worker .* on sms left" "$dir/pregond.log" && ok || ko "no 'left' line in pregond's log"
curl -s -X POST "$sb/_sandbox/faults" -d '{"latency_ms":0}' >/dev/null
start_sms
wait_for 30 sh -c "[ \"\$(curl -s '$sb/_sandbox/requests?limit=100000' | grep -o '\"to\":\"+52155510[0-9]*' | sort -u | wc -l)\" -ge 80 ]" \
  && ok || ko "jobs of the stopped worker: $(received +52155510) of 80 sent"
n=$(curl -s "$sb/_sandbox/requests?limit=100000" | grep -o '"to":"+52155510[0-9]*' | wc -l)
[ "$n" = 80 ] && ok || ko "jobs of the stopped worker: $n requests for 80 jobs (a job sent twice)"
n=$(audit | grep '"job":"stop-' | grep -c '"to":"UNKNOWN"')
[ "$n" = 0 ] && ok || ko "$n jobs of the stopped worker expired UNKNOWN"

# 7. the channel halts on 401 with a clear line; the job waits, never lost
curl -s -X POST "$sb/_sandbox/script" -d '{"count":1,"status":401}' >/dev/null
jobs "$dir/halt.jsonl" halt 1 1 5215550400
submit "$dir/halt.jsonl" >"$dir/halt.out"
wait_for 20 grep -q "channel sms halted" "$dir/pregond.log" && ok || ko "no halt line in pregond's log"
wait_for 5 grep -qi "halted" "$dir/sms.log" && ok || ko "no halt line in pregon-sms's log"
wait_for 5 bash -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme halt-d0 halt-0)' s)\" = queued ]" \
  && ok || ko "halted job state $(job_field halt-d0 halt-0 s), want queued (handed back, not an attempt)"

# 8. G1, clean restart: stop pregond, start it again; what it acknowledged is all still there.
#    A lease the previous pregond gave this same worker process that the worker does not hold
#    was lost in transit: on the worker's reconnection it is handed back and sent, not left to
#    expire UNKNOWN.
jobs "$dir/lost.jsonl" lost 1 1 5215551100
submit "$dir/lost.jsonl" >"$dir/lost.out"           # queued: the channel is halted
inc=$(grep -o "incarnation [0-9a-f]*" "$dir/sms.log" | tail -1 | cut -d' ' -f2)
wid=$(grep -o "pregon-sms: worker [^ ]*" "$dir/sms.log" | tail -1 | cut -d' ' -f3)
oldb=$(grep -o "serving as [^:]*" "$dir/pregond.log" | tail -1 | cut -d' ' -f3)
lost_key=$(rkey job acme lost-d0 lost-0)
lost_shard=$(sed 's/^pg:{s\([0-9]*\)}.*/\1/' <<<"$lost_key")
cap_deferred() { for s in $(seq 0 15); do rcli zrange "pg:{s$s}:deferred" 0 -1; done | grep -c ":acme:capA-"; }  # the RC job loops in and out
deferred_before=$(cap_deferred)
kill -TERM "$pregond_pid"; wait "$pregond_pid"; rc1=$?
[ $rc1 = 0 ] && ok || ko "pregond exit code $rc1 on SIGTERM"
# what the stopped pregond would have done had it leased lost-0 to the worker just before dying
rcli zrem "pg:{s$lost_shard}:q:sms" "$lost_key" >/dev/null
# (l: "KEY/WORKER_ID#INCARNATION NUL BROKER NUL NONCE", pregon.lua; this worker's key is sms)
printf 'HSET %s s dispatched att 1 l "%s\\x00%s\\x00"\n' "$lost_key" "sms/$wid#$inc" "$oldb" | rcli >/dev/null
rcli zadd "pg:{s$lost_shard}:leases" "$(( ($(date +%s) + offset + 600) * 1000 ))" "$lost_key" >/dev/null
sed -i 's/max_batch: 1000,/max_queue: 1, max_batch: 1000,/' "$dir/pregon.yaml"
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 sh -c "[ \"\$(grep -c 'pregond: serving' '$dir/pregond.log')\" = 2 ]" || ko "pregond did not restart"
[ "$(cap_deferred)" = "$deferred_before" ] && [ "$deferred_before" = 100 ] && ok \
  || ko "deferred jobs across the restart: $deferred_before before, $(cap_deferred) after"
[ "$(job_field halt-d0 halt-0 s)" = queued ] && ok || ko "the queued job did not survive the restart"
# the worker vouches only for what pregond did not acknowledge (ReportAck): a handful at most,
# not every report of the last lease period
held=$(grep -o "joined on sms with credit [0-9]*, holding [0-9]* lease" "$dir/pregond.log" | tail -1 | grep -o "holding [0-9]*" | cut -d' ' -f2)
[ -n "$held" ] && [ "$held" -le 5 ] && ok || ko "the worker still vouched for $held leases after acknowledgements"
wait_for 10 grep -q "did not hold 1 lease(s) a previous broker gave it: handed back" "$dir/pregond.log" \
  && ok || ko "the lease lost in transit was not handed back: $(grep -c lost-0 "$dir/pregond.log")"
wait_for 5 sh -c "'$ctl' redis audit --redis-socket '$dir/redis.sock' | grep '\"job\":\"lost-0\"' | grep -q '\"to\":\"HANDED_BACK\"'" \
  && ok || ko "no HANDED_BACK audit record for the lost lease"
[ "$(job_field lost-d0 lost-0 att)" = 0 ] && ok || ko "the lost lease counted as an attempt: att $(job_field lost-d0 lost-0 att)"

# 9. G6: past limits.max_queue (now 1; the halted channel holds one job) submitters get BUSY
jobs "$dir/busy.jsonl" busy 3 3 5215550600
submit "$dir/busy.jsonl" >"$dir/busy.out"
n=$(grep -c '"verdict":"BUSY","rule":null,"reason":"queue-full"' "$dir/busy.out")
[ "$n" = 3 ] && ok || ko "queue limit: $n of 3 BUSY queue-full: $(cat "$dir/busy.out")"
[ -z "$(job_field busy-d0 busy-0 s)" ] && ok || ko "a BUSY job was stored"

# 9b. leases that expire without a report become UNKNOWN and are never resent (G2); 1,200 at
#     once (as after a crash) go through the backlog path, each exactly once; leases whose job
#     is gone, read among them, are dropped without shifting anyone else's reply
python3 - "$dir/leases.redis" "$dir/leases.keys" <<'PY'
import sys
def crc16(b):  # XMODEM, as Redis Cluster computes it: an independent check of the layout
    crc = 0
    for c in b:
        crc ^= c << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xffff if crc & 0x8000 else (crc << 1) & 0xffff
    return crc
with open(sys.argv[1], "w") as cmds, open(sys.argv[2], "w") as keys:
    for i in range(1, 1201):
        d, j = f"lx-d{i}", f"lx-{i}"
        s = crc16(f"acme:{d}".encode()) % 16
        k = f"pg:{{s{s}}}:j:acme:{d}:{j}"
        cmds.write(f"HSET {k} s dispatched att 1 ch sms p x id {j} tn acme db {d}\n")
        cmds.write(f"ZADD pg:{{s{s}}}:leases 1 {k}\n")
        keys.write(k + "\n")
        if i % 100 == 0:  # a lease whose job is gone, among the others: dropped, nothing shifts
            cmds.write(f"ZADD pg:{{s{s}}}:leases 1 pg:{{s{s}}}:j:acme:{d}:gone-{j}\n")
PY
[ "$(head -1 "$dir/leases.keys")" = "$(rkey job acme lx-d1 lx-1)" ] && ok || ko "python and st_keys disagree on a key"
rcli <"$dir/leases.redis" >/dev/null
expired_left() { for s in $(seq 0 15); do redis-cli -s "$dir/redis.sock" zcount "pg:{s$s}:leases" 0 1; done | awk '{s += $1} END {print s + 0}'; }
export -f expired_left
wait_for 30 bash -c '[ "$(expired_left)" = 0 ]' && ok || ko "expired leases left: $(expired_left) of 1200"
n=$(sed 's/^/HGET /; s/$/ s/' "$dir/leases.keys" | rcli | grep -c '^unknown$')
[ "$n" = 1200 ] && ok || ko "expired leases: $n of 1200 recorded unknown"
n=$(audit | grep -c '"job":"lx-[0-9]*".*"to":"UNKNOWN"')
[ "$n" = 1200 ] && ok || ko "expired leases: $n audit records, want 1200"
grep -q "lease(s) expired without a report" "$dir/pregond.log" && ok || ko "no expiry line in pregond's log"

# 9c. Redis restarted from an empty directory: pregond refuses to admit against empty histories
#     (BUSY redis-dataset-changed, one loud line) until an operator adopts the dataset
rcli shutdown nosave >/dev/null 2>&1
pg_redis_start "$dir" || ko "redis did not restart"
jobs "$dir/ds.jsonl" ds 2 2 5215550900
wait_for 10 grep -q "REDIS DATASET CHANGED" "$dir/pregond.log" && ok || ko "no dataset-changed line"
submit "$dir/ds.jsonl" >"$dir/ds.out"
n=$(grep -c '"verdict":"BUSY","rule":null,"reason":"redis-dataset-changed"' "$dir/ds.out")
[ "$n" = 2 ] && ok || ko "empty Redis: $n of 2 BUSY redis-dataset-changed: $(cat "$dir/ds.out")"
"$ctl" redis adopt --redis-socket "$dir/redis.sock" >"$dir/adopt.out" && ok || ko "adopt: $(cat "$dir/adopt.out")"
wait_for 10 grep -q "adopted by an operator" "$dir/pregond.log" && ok || ko "pregond did not take the adopted dataset"
submit "$dir/ds.jsonl" >"$dir/ds2.out"
n=$(grep -c '"verdict":"ACCEPTED"' "$dir/ds2.out")
[ "$n" = 2 ] && ok || ko "after adopt: $n of 2 ACCEPTED: $(cat "$dir/ds2.out")"

# 10. G6: Redis gone -> every job BUSY redis-unavailable, pregond still answering
rcli shutdown nosave >/dev/null 2>&1
jobs "$dir/down.jsonl" down 2 2 5215550700
submit "$dir/down.jsonl" >"$dir/down.out"
n=$(grep -c '"verdict":"BUSY","rule":null,"reason":"redis-unavailable"' "$dir/down.out")
[ "$n" = 2 ] && ok || ko "redis down: $n of 2 BUSY redis-unavailable: $(cat "$dir/down.out")"
grep -q "redis unavailable" "$dir/pregond.log" && ok || ko "no 'redis unavailable' line in pregond's log"

# 11. clean shutdown, no sanitizer findings
kill -TERM "$pregond_pid" "$sms_pid"
wait "$pregond_pid"; rc1=$?
wait "$sms_pid"; rc2=$?
[ $rc1 = 0 ] && [ $rc2 = 0 ] && ok || ko "exit codes pregond $rc1 pregon-sms $rc2"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$dir"/*.log; then ko "sanitizer findings: $(grep -hE 'Sanitizer|runtime error' "$dir"/*.log | head -5)"; else ok; fi

[ "$fail" -eq 0 ] || { echo "--- pregond.log"; tail -20 "$dir/pregond.log"; echo "--- sms.log"; tail -20 "$dir/sms.log"; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
