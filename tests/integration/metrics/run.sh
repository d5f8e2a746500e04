#!/usr/bin/env bash
# run.sh BUILD_DIR — the operations endpoints over real processes: redis-server, pregond
# (ops.listen on a free loopback port), pregon-sandbox, pregon-sms (--ops-listen), and a real
# Prometheus.
#   - /healthz is 200 from the start; /readyz is 503 "no sms worker" until pregon-sms joins,
#     then 200, and 503 again naming Redis when Redis stops;
#   - /metrics passes `promtool check metrics` before and after traffic;
#   - a campaign of N jobs moves the counters by exactly N: verdicts{code="accepted"} and
#     reports{outcome="sent"}; a job deferred by two hours shows in pregon_deferred_jobs and in
#     the sunrise wave (pregon_deferred_due_jobs) in the hour it comes due;
#   - pregon-sms' own /metrics passes promtool, counts the same N sent, and its /readyz is 200;
#   - pregonctl status (text, --json) shows the same counts; pregonctl top renders them in a
#     tmux pane (capture-pane);
#   - a real Prometheus scrapes pregond and answers the PromQL sum of the sent counter (N) and
#     a rate() over it; it scrapes pregon-audit and pregon-hooks too;
#   - pregon-audit (--ops-listen): drains 4 records of yesterday injected before pregond starts:
#     drained_total 4, the day's segment closed and verified; /metrics passes promtool; after the
#     campaign its drained counter equals the records in the archive, nothing pending, lag 0;
#     /readyz 503 naming Redis once Redis stops, /healthz still 200; a second drainer (prefix
#     pq) with --max-lag-s 1 answers 503 "audit lag ..." while a record of an hour ago waits; a
#     third (prefix pt) finds a record edited in its open segment when it closes the day:
#     pregon_audit_verify_failures_total 1, the log names the edit;
#   - pregon-hooks (--ops-listen): the signed status callbacks of the campaign applied, by
#     module; a forged one refused and counted; /metrics passes promtool on the ops port and is
#     404 on the public listener; /readyz 200, then 503 "broker down" once pregond stops.
# Free ports and private sockets: runs never collide.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin metrics
py=/usr/bin/python3
freeport() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token FROM=+15005550006
N=25

pg_redis_start "$dir" || exit 1
# pregon-audit first, with 4 records of yesterday on shard 0 (its segment closes at once)
yday=$(( ($(date +%s) - 86400) * 1000 ))
for i in 1 2 3 4; do
  redis-cli -s "$dir/redis.sock" xadd "pg:{s0}:audit" "$yday-$i" job "y$i" tenant acme jurisdiction RC >/dev/null
done
"$build/broker/audit/pregon-audit" keygen --key "$dir/audit.key" --pub "$dir/audit.pub" || exit 1
"$build/broker/audit/pregon-audit" drain --dir "$dir/archive" --key "$dir/audit.key" \
  --redis-socket "$dir/redis.sock" --prefix pg --idle-ms 50 --ops-listen 127.0.0.1:0 --max-lag-s 3600 \
  2>"$dir/audit.log" &
pids+=($!)
wait_for 10 grep -q "on port [0-9]" "$dir/audit.log" || { echo "pregon-audit did not start"; cat "$dir/audit.log"; exit 1; }
aport=$(grep -m1 -o "on port [0-9]*" "$dir/audit.log" | grep -o "[0-9]*$")
aops="http://127.0.0.1:$aport"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
ops: {listen: "127.0.0.1:0", gauges_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
port=$(grep -m1 -o "on port [0-9]*" "$dir/pregond.log" | grep -o "[0-9]*$")
[ -n "$port" ] || { echo "no ops port in: $(cat "$dir/pregond.log")"; exit 1; }
ops="http://127.0.0.1:$port"
code() { curl -s -o "$dir/body" -w '%{http_code}' "$ops$1"; }
# metric NAME MATCH...: the sum of NAME's samples whose labels contain every MATCH
metric() {
  curl -sf "$ops/metrics" | $py -c '
import sys
name, want = sys.argv[1], sys.argv[2:]
total = 0
for line in sys.stdin:
    if line.startswith("#") or not line.strip(): continue
    series, value = line.rsplit(" ", 1)
    if series.split("{")[0] != name: continue
    if all(w in series for w in want): total += float(value)
print(int(total) if total == int(total) else total)' "$@"
}

# ametric / hmetric NAME MATCH...: metric, on pregon-audit's / pregon-hooks' ops endpoint
ametric() { ops=$aops metric "$@"; }
hmetric() { ops=$hops metric "$@"; }
acode() { curl -s -o "$dir/abody" -w '%{http_code}' "$aops$1"; }

# 0. pregon-audit: the 4 records drained exactly, their day closed and verified; promtool; ready
drained4() { [ "$(ametric pregon_audit_records_drained_total)" = 4 ] && [ "$(ametric pregon_audit_segments_closed_total)" = 1 ] && [ "$(ametric pregon_audit_segments_verified_total)" = 1 ]; }
wait_for 10 drained4 && ok || ko "audit drained/closed/verified: $(curl -s "$aops/metrics" | grep -E '^pregon_audit_(records_drained|segments)')"
[ "$(ametric pregon_audit_verify_failures_total)" = 0 ] && [ "$(ametric pregon_audit_pending_records)" = 0 ] \
  && [ "$(ametric pregon_audit_redis_roundtrip_seconds_count)" -ge 1 ] && [ "$(ametric pregon_audit_index_write_seconds_count)" -ge 1 ] \
  && ok || ko "audit counters: $(curl -s "$aops/metrics" | grep -vE '^#|_bucket')"
curl -sf "$aops/metrics" >"$dir/a0.txt" && promtool check metrics <"$dir/a0.txt" && ok || ko "promtool (pregon-audit): $(head -5 "$dir/a0.txt")"
[ "$(acode /healthz)" = 200 ] && ok || ko "audit healthz: $(cat "$dir/abody")"
wait_for 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $aops/readyz)\" = 200 ]" && ok || ko "audit readyz: $(acode /readyz) $(cat "$dir/abody")"

# 0a. the lag bound: a second drainer (prefix pq, one shard, idle 4 s between empty rounds, lag
#     bound 1 s) is ready; a record of an hour ago lands while it idles: not ready, naming the
#     lag; the next round drains it (checked in 5.)
"$build/broker/audit/pregon-audit" drain --dir "$dir/archive-lag" --key "$dir/audit.key" \
  --redis-socket "$dir/redis.sock" --prefix pq --shards 1 --idle-ms 4000 --ops-listen 127.0.0.1:0 --max-lag-s 1 \
  2>"$dir/audit-lag.log" &
pids+=($!)
wait_for 10 grep -q "on port [0-9]" "$dir/audit-lag.log" || { echo "the second pregon-audit did not start"; cat "$dir/audit-lag.log"; exit 1; }
lops="http://127.0.0.1:$(grep -m1 -o "on port [0-9]*" "$dir/audit-lag.log" | grep -o "[0-9]*$")"
lready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$lops/readyz")" = 200 ]; }
wait_for 5 lready && ok || ko "lagging drainer not ready at first: $(curl -s "$lops/readyz")"
redis-cli -s "$dir/redis.sock" xadd "pq:{s0}:audit" "$(( ($(date +%s) - 3600) * 1000 ))-1" job old tenant acme >/dev/null
lagged() { curl -s -o "$dir/lbody" -w '%{http_code}' "$lops/readyz" | pipe_has 503 && grep -q "audit lag 3[56][0-9][0-9] s over the bound of 1 s" "$dir/lbody"; }
wait_for 3 lagged && ok || ko "readyz past the lag bound: $(curl -s -w ' %{http_code}' "$lops/readyz")"
[ "$(ops=$lops metric pregon_audit_lag_seconds | cut -d. -f1)" -ge 3599 ] && [ "$(ops=$lops metric pregon_audit_pending_records)" = 1 ] \
  && ok || ko "lag gauges: $(curl -s "$lops/metrics" | grep -E '^pregon_audit_(lag|pending)')"

# 0c. a verification that fails: 2 of 4 records of yesterday written (killed before their XACK:
#     PREGON_AUDIT_TEST_KILL_AFTER), the first edited in the open segment; the next drainer
#     closes the day and its verification names the edit and counts it
for i in 1 2 3 4; do
  redis-cli -s "$dir/redis.sock" xadd "pt:{s0}:audit" "$yday-$i" job "t$i" tenant acme >/dev/null
done
PREGON_AUDIT_TEST_KILL_AFTER=1 "$build/broker/audit/pregon-audit" drain --once --dir "$dir/archive-bad" \
  --key "$dir/audit.key" --redis-socket "$dir/redis.sock" --prefix pt --shards 1 --batch 2 2>"$dir/audit-bad1.log"
sed -i 's/"job":"t1"/"job":"tX"/' "$dir"/archive-bad/s0/*.jsonl
"$build/broker/audit/pregon-audit" drain --dir "$dir/archive-bad" --key "$dir/audit.key" \
  --redis-socket "$dir/redis.sock" --prefix pt --shards 1 --batch 2 --ops-listen 127.0.0.1:0 2>"$dir/audit-bad.log" &
pids+=($!)
wait_for 10 grep -q "on port [0-9]" "$dir/audit-bad.log" || { echo "the third pregon-audit did not start"; cat "$dir/audit-bad.log"; exit 1; }
bops="http://127.0.0.1:$(grep -m1 -o "on port [0-9]*" "$dir/audit-bad.log" | grep -o "[0-9]*$")"
badverify() { [ "$(ops=$bops metric pregon_audit_verify_failures_total)" = 1 ]; }
wait_for 10 badverify && grep -q "verify: s0/.*record seq 1 edited" "$dir/audit-bad.log" \
  && [ "$(ops=$bops metric pregon_audit_duplicates_skipped_total)" = 2 ] && [ "$(ops=$bops metric pregon_audit_records_drained_total)" = 2 ] \
  && ok || ko "the edited segment's verification: $(curl -s "$bops/metrics" | grep -E '^pregon_audit_(verif|segments|records_drained|dupl)') $(tail -3 "$dir/audit-bad.log")"

# 0b. pregon-hooks with its ops port; the public listener has no /metrics
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" --listen 127.0.0.1:0 \
  --ops-listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
hops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
hready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$hops/readyz")" = 200 ]; }
wait_for 10 hready && ok || ko "hooks readyz: $(curl -s "$hops/readyz")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$hops/healthz")" = 200 ] && ok || ko "hooks healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$hooks/metrics")" = 404 ] && ok || ko "the public listener serves /metrics"

# 1. alive at once; not ready without a worker; the text passes promtool
[ "$(code /healthz)" = 200 ] && ok || ko "healthz: $(cat "$dir/body")"
[ "$(code /readyz)" = 503 ] && grep -q "no sms worker" "$dir/body" && ok || ko "readyz without worker: $(cat "$dir/body")"
curl -sf "$ops/metrics" >"$dir/m0.txt" && promtool check metrics <"$dir/m0.txt" && ok || ko "promtool (idle): $(head -5 "$dir/m0.txt")"

# 2. a worker joins: ready
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --callbacks --callback-delay-ms 50 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" --worker-id sms-metrics \
  --broker "ipc://$dir/back" --base-url "$sb" --from $FROM --heartbeat-ms 200 \
  --policy-dir "$src/tests/integration/e2e/policies" --ops-listen 127.0.0.1:0 \
  --status-callback "$hooks/twilio/sms/status" 2>"$dir/sms.log" &
pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }
wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $ops/readyz)\" = 200 ]" && ok || ko "readyz with a worker: $(code /readyz) $(cat "$dir/body")"
[ "$(metric pregon_workers 'channel="sms"')" = 1 ] && ok || ko "pregon_workers: $(metric pregon_workers)"
wport=$(grep -m1 -o "on port [0-9]*" "$dir/sms.log" | grep -o "[0-9]*$")
[ -n "$wport" ] || { echo "no ops port in: $(cat "$dir/sms.log")"; exit 1; }
wops="http://127.0.0.1:$wport"
# wmetric NAME MATCH...: metric, on the worker's endpoint
wmetric() { ops=$wops metric "$@"; }
wready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$wops/readyz")" = 200 ]; }
wait_for 10 wready && ok || ko "worker readyz: $(curl -s "$wops/readyz")"

# 3. a campaign moves the counters by exactly N
sent0=$(metric pregon_reports_total 'outcome="sent"')
acc0=$(metric pregon_verdicts_total 'code="accepted"')
$py - "$dir/c.jsonl" $N <<'PY'
import json, sys, time
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n + 1):
        job = {"job_id": f"m{i}", "tenant": "acme", "campaign": "mt", "debtor_id": f"d{i}",
               "channel": "sms", "contact": f"+52155600{i:05d}", "template_id": "aviso_mora_sms",
               "jurisdiction": "RC", "time_zone": "UTC", "variables": {"acreedor": "Acme",
               "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800",
               "enlace": "x.co"}}
        if i == n:  # the last one is deferred by two hours and a half
            job["not_before"] = int(time.time()) + 9000
        f.write(json.dumps(job) + "\n")
PY
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/c.jsonl" >"$dir/c.out" 2>&1
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/c.out")" = $N ] && ok || ko "campaign: $(head -3 "$dir/c.out")"
grep -q '"job_id":"m'$N'".*"verdict":"DEFERRED"' "$dir/c.out" && ok || ko "deferred job: $(tail -1 "$dir/c.out")"
all_sent() { [ "$(metric pregon_reports_total 'outcome="sent"')" = $((sent0 + N)) ]; }
wait_for 30 all_sent && ok || ko "sent counter: $(metric pregon_reports_total 'outcome="sent"') != $((sent0 + N))"
[ "$(metric pregon_verdicts_total 'code="accepted"')" = $((acc0 + N)) ] && ok || ko "accepted counter: $(metric pregon_verdicts_total 'code="accepted"')"
[ "$(metric pregon_verdicts_total 'code="deferred"' 'jurisdiction="RC"')" = 1 ] && ok || ko "deferred counter: $(metric pregon_verdicts_total 'code="deferred"')"
[ "$(metric pregon_dispatched_total)" = $N ] && ok || ko "dispatched: $(metric pregon_dispatched_total)"
# its clock hour (UTC) ahead of now's: 2 or 3; the wave is by channel
wh=$(( ($(date +%s) + 9000) / 3600 - $(date +%s) / 3600 ))
gauged() { [ "$(metric pregon_deferred_jobs)" = 1 ] && [ "$(metric pregon_deferred_due_jobs "hours_ahead=\"$wh\"" 'channel="sms"')" = 1 ] && [ "$(metric pregon_deferred_due_jobs)" = 1 ]; }
wait_for 10 gauged && ok || ko "deferred gauges: $(curl -s "$ops/metrics" | grep -E '^pregon_deferred' | grep -v ' 0$')"
[ "$(metric pregon_admission_batch_seconds_count)" -ge 1 ] && ok || ko "admission histogram empty"
[ "$(wmetric pregon_worker_reports_total 'outcome="sent"')" = $N ] && ok || ko "worker sent: $(wmetric pregon_worker_reports_total 'outcome="sent"')"
[ "$(wmetric pregon_worker_provider_request_seconds_count)" = $N ] && ok || ko "worker request histogram: $(wmetric pregon_worker_provider_request_seconds_count)"
curl -sf "$wops/metrics" >"$dir/w1.txt" && promtool check metrics <"$dir/w1.txt" && ok || ko "promtool (worker): $(head -5 "$dir/w1.txt")"
curl -sf "$ops/metrics" >"$dir/m1.txt" && promtool check metrics <"$dir/m1.txt" && ok || ko "promtool (after traffic)"

# 3a. pregon-hooks: every message's signed status callback applied (by module and route); a
#     forged one refused and counted; its text passes promtool
applied() { [ "$(hmetric pregon_hooks_events_acked_total 'provider="twilio-sms"' 'route="sms-status"' 'result="applied"')" -ge $N ]; }
wait_for 15 applied && ok || ko "callbacks applied: $(curl -s "$hops/metrics" | grep -E '^pregon_hooks_(events_acked|acks)_total' | grep -v ' 0$')"
pid0=$(curl -s "$sb/_sandbox/requests?limit=1" | $py -c 'import json,sys; r=json.load(sys.stdin); print(r[0].get("sid") or r[0].get("message_sid") or "SM0")' 2>/dev/null)
curl -sf "$sb/_sandbox/twilio-sms/forge" -d "{\"url\": \"$hooks/twilio/sms/status\", \"kind\": \"status\", \"message_sid\": \"${pid0:-SM0}\", \"status\": \"undelivered\"}" >/dev/null \
  || ko "sandbox forge route"
forged() { [ "$(hmetric pregon_hooks_refused_total 'provider="twilio-sms"' 'reason="forged"')" = 1 ]; }
wait_for 10 forged && ok || ko "forged callback not counted: $(curl -s "$hops/metrics" | grep -E '^pregon_hooks_refused')"
curl -sf "$hops/metrics" >"$dir/h1.txt" && promtool check metrics <"$dir/h1.txt" && ok || ko "promtool (pregon-hooks): $(head -5 "$dir/h1.txt")"

# 3b'. pregon-audit drained the campaign's records: its counter is the archive's record lines
arch_records() { cat "$dir"/archive/s*/*.jsonl | grep -vc '"kind":"'; }
adrained() { [ "$(ametric pregon_audit_pending_records)" = 0 ] && [ "$(ametric pregon_audit_records_drained_total)" = "$(arch_records)" ]; }
wait_for 10 adrained && [ "$(arch_records)" -gt $((4 + N)) ] && ok || ko "audit drained $(ametric pregon_audit_records_drained_total), archive $(arch_records), pending $(ametric pregon_audit_pending_records)"
[ "$(ametric pregon_audit_records_acked_total)" = "$(ametric pregon_audit_records_drained_total)" ] && [ "$(ametric pregon_audit_lag_seconds)" = 0 ] \
  && ok || ko "audit acked/lag: $(curl -s "$aops/metrics" | grep -E '^pregon_audit_(records_acked|lag)')"
curl -sf "$aops/metrics" >"$dir/a1.txt" && promtool check metrics <"$dir/a1.txt" && ok || ko "promtool (pregon-audit, after traffic)"

# 3b. pregonctl status (--json and text) and top (ncurses, in a tmux pane) read the same numbers
"$ctl" status --ops "$ops" --json --interval-ms 300 --redis-socket "$dir/redis.sock" >"$dir/st.json" 2>"$dir/st.err"
$py - "$dir/st.json" $((sent0 + N)) "$wh" <<'PY' && ok || ko "status --json: $(cat "$dir/st.json" "$dir/st.err" | head -20)"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["channels"]["sms"]["sent_total"] == int(sys.argv[2]), v["channels"]["sms"]
assert v["channels"]["sms"]["workers"] == 1 and v["rates"] is True
wh = int(sys.argv[3])
assert v["deferred"] == 1 and sum(v["sunrise_wave"]) == 1 and v["sunrise_wave"][wh] == 1, v
assert v["sunrise_wave_by_channel"]["sms"][wh] == 1 and sum(v["sunrise_wave_by_channel"]["sms"]) == 1, v
PY
"$ctl" status --ops "$ops" --interval-ms 0 --redis-socket "$dir/redis.sock" >"$dir/st.txt" 2>&1
grep -q "^sms .*running" "$dir/st.txt" && grep -q "sunrise wave" "$dir/st.txt" && grep -q "paused: none" "$dir/st.txt" \
  && ok || ko "status: $(cat "$dir/st.txt")"
if command -v tmux >/dev/null; then
  tm=(tmux -L "pregon-metrics-$$")
  "${tm[@]}" new-session -d -x 120 -y 50 "$ctl top --ops $ops --redis-socket $dir/redis.sock"
  topped() { "${tm[@]}" capture-pane -p >"$dir/top.txt" 2>/dev/null; grep -q "pregon top" "$dir/top.txt" && grep -q "^sms .*running" "$dir/top.txt" && grep -q "+ ${wh}h .*sms 1" "$dir/top.txt"; }
  wait_for 10 topped && ok || ko "top in tmux: $(cat "$dir/top.txt")"
  "${tm[@]}" send-keys q; "${tm[@]}" kill-server 2>/dev/null
else
  ko "tmux is not installed (deploy/install-deps.sh installs it)"
fi

# 4. a real Prometheus scrapes pregond and answers PromQL
pport=$(freeport)
cat >"$dir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: pregond
    static_configs: [{targets: ["127.0.0.1:$port"]}]
  - job_name: pregon-audit
    static_configs: [{targets: ["127.0.0.1:$aport"]}]
  - job_name: pregon-hooks
    static_configs: [{targets: ["${hops#http://}"]}]
YAML
prometheus --config.file "$dir/prometheus.yml" --storage.tsdb.path "$dir/prom" \
  --web.listen-address "127.0.0.1:$pport" >"$dir/prometheus.log" 2>&1 &
pids+=($!)
q() { curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | $py -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'; }
promsent() { [ "$(q 'sum(pregon_reports_total{channel="sms",outcome="sent"})' 2>/dev/null)" = $((sent0 + N)) ]; }
wait_for 60 promsent && ok || ko "PromQL sum of sent: $(q 'sum(pregon_reports_total{outcome="sent"})') ($(tail -3 "$dir/prometheus.log"))"
rated() { r=$(q 'sum(rate(pregon_reports_total{outcome="sent"}[1m]))' 2>/dev/null); [ -n "$r" ] && [ "$r" != none ]; }
wait_for 30 rated && ok || ko "PromQL rate of sent: $(q 'sum(rate(pregon_reports_total{outcome="sent"}[1m]))')"
promaudit() { [ "$(q 'sum(pregon_audit_records_drained_total)' 2>/dev/null)" = "$(arch_records)" ] && [ "$(q 'sum(pregon_hooks_refused_total{reason="forged"})' 2>/dev/null)" = 1 ]; }
wait_for 30 promaudit && ok || ko "PromQL of pregon-audit and pregon-hooks: $(q 'sum(pregon_audit_records_drained_total)') $(q 'sum(pregon_hooks_refused_total)') $(q 'up')"

# 4b. the shipped monitoring files: the alert rules and scrape config pass promtool; the Grafana
#     dashboard validates against its schema and every one of its queries runs on this Prometheus
mon="$src/deploy/monitoring"
promtool check rules "$mon/pregon-alerts.yml" >/dev/null && promtool check config "$mon/prometheus.yml" >/dev/null \
  && ok || ko "promtool on deploy/monitoring: $(promtool check rules "$mon/pregon-alerts.yml" 2>&1 | tail -3)"
$py - "$mon" "http://127.0.0.1:$pport" <<'PY' && ok || ko "the Grafana dashboard"
import json, sys, urllib.parse, urllib.request
import jsonschema
mon, prom = sys.argv[1], sys.argv[2]
dash = json.load(open(mon + "/grafana-pregon.json"))
jsonschema.validate(dash, json.load(open(mon + "/grafana-dashboard.schema.json")))
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
for p in dash["panels"]:
    for t in p["targets"]:
        q = urllib.parse.urlencode({"query": t["expr"]})
        r = json.load(urllib.request.urlopen(prom + "/api/v1/query?" + q, timeout=10))
        assert r["status"] == "success", (p["title"], t["expr"], r)
PY

# 5. (0a's drainer drained its old record: ready again, nothing pending) Redis gone: not ready,
#    and says so; still alive
wait_for 10 lready && [ "$(ops=$lops metric pregon_audit_records_drained_total)" = 1 ] && [ "$(ops=$lops metric pregon_audit_lag_seconds)" = 0 ] \
  && ok || ko "the lagging drainer after its round: $(curl -s "$lops/readyz") $(curl -s "$lops/metrics" | grep -E '^pregon_audit_(lag|pending|records_drained)')"
pg_redis_stop
notready() { [ "$(code /readyz)" = 503 ] && grep -q redis "$dir/body"; }
wait_for 10 notready && ok || ko "readyz without redis: $(code /readyz) $(cat "$dir/body")"
[ "$(code /healthz)" = 200 ] && ok || ko "healthz without redis"
[ "$(metric pregon_redis_up)" = 0 ] && ok || ko "redis_up: $(metric pregon_redis_up)"
anotready() { [ "$(acode /readyz)" = 503 ] && grep -q redis "$dir/abody"; }
wait_for 10 anotready && ok || ko "audit readyz without redis: $(acode /readyz) $(cat "$dir/abody")"
[ "$(acode /healthz)" = 200 ] && [ "$(ametric pregon_audit_redis_up)" = 0 ] && ok || ko "audit without redis: healthz $(acode /healthz), redis_up $(ametric pregon_audit_redis_up)"

# 6. pregond gone: pregon-hooks not ready (its link is down), still alive
kill -TERM "$pregond_pid"
hnotready() { [ "$(curl -s -o "$dir/hbody" -w '%{http_code}' "$hops/readyz")" = 503 ] && grep -q "broker down" "$dir/hbody"; }
wait_for 10 hnotready && ok || ko "hooks readyz without pregond: $(curl -s "$hops/readyz")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$hops/healthz")" = 200 ] && ok || ko "hooks healthz without pregond"

echo "metrics: $pass passed, $fail failed"
[ $fail = 0 ]
