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
#     a rate() over it.
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
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: ""}
security: {curve: 0}   # plaintext: loopback endpoints only
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
ops: {listen: "127.0.0.1:0", gauges_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
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

# 1. alive at once; not ready without a worker; the text passes promtool
[ "$(code /healthz)" = 200 ] && ok || ko "healthz: $(cat "$dir/body")"
[ "$(code /readyz)" = 503 ] && grep -q "no sms worker" "$dir/body" && ok || ko "readyz without worker: $(cat "$dir/body")"
curl -sf "$ops/metrics" >"$dir/m0.txt" && promtool check metrics <"$dir/m0.txt" && ok || ko "promtool (idle): $(head -5 "$dir/m0.txt")"

# 2. a worker joins: ready
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" --worker-id sms-metrics \
  --broker "ipc://$dir/back" --base-url "$sb" --from $FROM --heartbeat-ms 200 \
  --policy-dir "$src/tests/integration/e2e/policies" --ops-listen 127.0.0.1:0 2>"$dir/sms.log" &
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

# 5. Redis gone: not ready, and says so; still alive
pg_redis_stop
notready() { [ "$(code /readyz)" = 503 ] && grep -q redis "$dir/body"; }
wait_for 10 notready && ok || ko "readyz without redis: $(code /readyz) $(cat "$dir/body")"
[ "$(code /healthz)" = 200 ] && ok || ko "healthz without redis"
[ "$(metric pregon_redis_up)" = 0 ] && ok || ko "redis_up: $(metric pregon_redis_up)"

echo "metrics: $pass passed, $fail failed"
[ $fail = 0 ]
