#!/usr/bin/env bash
# demo.sh — the demo command: install what is missing, build, start Redis, pregond, pregon-sms,
# pregon-hooks and the provider sandbox, run deploy/examples/campaign.jsonl through them, print
# what was sent, deferred and rejected and why, what the provider told us afterwards (delivery
# callbacks, a few debtors answering STOP, through pregon-hooks), and stop everything it started.
#
# Everything runs in a private temp dir: Redis on a Unix socket, ZeroMQ on ipc:// endpoints, the
# sandbox on a free loopback port. Nothing leaves the machine: "sent" means sent to the sandbox.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash deploy/install-deps.sh
echo "== building (release) into build-demo/"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DPREGON_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target pregond pregonctl pregon-sms pregon-sandbox \
  pregon-hooks >/dev/null
B=build-demo

dir=$(mktemp -d /tmp/pregon-demo.XXXXXX)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $dir"; else rm -rf "$dir"; fi
}
trap stop_all EXIT
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }
rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
stat() { $B/broker/pregonctl redis stats --json --redis-socket "$dir/redis.sock" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
export -f stat; export B dir

echo "== starting redis-server, pregond, pregon-hooks, pregon-sandbox, pregon-sms (logs in $dir)"
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly yes --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
wait_for 10 sh -c "redis-cli -s '$dir/redis.sock' ping 2>/dev/null | grep -q PONG"
# CURVE keys, as in production: pregond's, the campaign system's, the worker's, pregon-hooks'
mkdir -p "$dir/own" "$dir/keys"
$B/broker/pregonctl keys new pregond --role broker --dir "$dir/own" >/dev/null
$B/broker/pregonctl keys new campaigns --role client --tenants acme-cobranzas --dir "$dir/own" >/dev/null
$B/broker/pregonctl keys new sms --role worker --channels sms --dir "$dir/own" >/dev/null
$B/broker/pregonctl keys new hooks --role hooks --dir "$dir/own" >/dev/null
cp "$dir/own/campaigns.pub" "$dir/own/sms.pub" "$dir/own/hooks.pub" "$dir/keys/"
keys() { echo "--key-file $dir/own/$1.key --broker-key-file $dir/own/pregond.pub"; }
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $root/deploy/policies
templates: $root/deploy/templates.yaml
YAML
$B/broker/pregond --config "$dir/pregon.yaml" 2>"$dir/pregond.log" & pids+=($!)
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token
# pregon-hooks: the provider's webhooks (signed) in, InboundEvents to pregond
$B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" $(keys hooks) \
  2>"$dir/hooks.log" & pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log"
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null"   # pregon-hooks sees pregond
# the sandbox plays Twilio: signed status callbacks, and five debtors who answer STOP or Baja
$B/channels/sandbox/pregon-sandbox --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --latency-ms 20 --jitter-ms 30 --callbacks --callback-delay-ms 100 \
  --inbound-url "$hooks/twilio/sms/inbound" 2>"$dir/sandbox.log" & pids+=($!)
wait_for 10 test -s "$dir/sandbox.port"
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
stoppers='+57302467117 +15554951693 +51961368136 +56942099978 +52155271699'
curl -s "$sb/_sandbox/twilio-sms/replies" -d "[$(for n in $stoppers; do
  printf '{"number":"%s","body":"%s","delay_ms":300},' "$n" "$([ "${n:1:2}" = 15 ] && echo STOP || echo Baja)"
  done | sed 's/,$//')]" >/dev/null
$B/channels/sms/pregon-sms --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
  $(keys sms) --worker-id demo-sms --journal "$dir/sms.journal" --concurrency 64 \
  --policy-dir "$root/deploy/policies" \
  --status-callback "$hooks/twilio/sms/status" 2>"$dir/sms.log" & pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log"

echo "== submitting deploy/examples/campaign.jsonl ($(wc -l <deploy/examples/campaign.jsonl) jobs)"
$B/broker/pregonctl submit --endpoint "ipc://$dir/front" $(keys campaigns) deploy/examples/campaign.jsonl || true
wait_for 60 bash -c '[ "$(stat ready.sms)" = 0 ] && [ "$(stat leased)" = 0 ]' || true
# the callbacks of the last messages: until pregon-hooks holds nothing and no job waits in SENT
wait_for 20 bash -c "[ \"\$(curl -s $hooks/metrics | awk '\$1 == \"pregon_hooks_in_flight\" {print \$2}')\" = 0 ] && [ \"\$(redis-cli -s '$dir/redis.sock' --scan --pattern 'pg:{s*}:j:*' | sed 's/^/HGET /; s/\$/ s/' | redis-cli -s '$dir/redis.sock' | grep -c '^sent\$')\" = 0 ]" || true

echo
echo "== what the provider (sandbox) received"
curl -s "$sb/_sandbox/stats" >"$dir/stats.json"
curl -s "$sb/_sandbox/requests?limit=3" >"$dir/sample.json"
python3 - "$dir/stats.json" "$dir/sample.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["providers"].get("twilio-sms", {})
print("  messages received: %s   by HTTP status: %s" % (t.get("total", 0), t.get("status", {})))
for r in json.load(open(sys.argv[2]))[:3]:
    print("  to %s: %s..." % (r.get("to"), r.get("body", "")[:100]))
PY
echo
echo "== jobs by state in Redis"
python3 - "$dir/redis.sock" <<'PY'
import collections, subprocess, sys
sock = sys.argv[1]
def r(*a): return subprocess.run(["redis-cli", "-s", sock, *a], capture_output=True, text=True).stdout.split()
keys = r("--scan", "--pattern", "pg:{s*}:j:*")
states = collections.Counter()
p = subprocess.run(["redis-cli", "-s", sock], input="".join(f"HGET {k} s\n" for k in keys),
                   capture_output=True, text=True).stdout.split()
states.update(p)
for s, n in sorted(states.items()): print(f"  {s:10} {n}")
firsts = [float(x[1]) for x in (r("zrange", f"pg:{{s{s}}}:deferred", "0", "0", "withscores") for s in range(16)) if x]
if firsts:
    import datetime
    print(f"  next deferred job is released at {datetime.datetime.utcfromtimestamp(min(firsts)):%Y-%m-%d %H:%M} UTC")
print(f"  audit records: {sum(int(r('xlen', f'pg:{{s{s}}}:audit')[0]) for s in range(16))} (one per transition; pregonctl redis audit prints them)")
PY
echo
echo "== what the provider told us afterwards (pregon-hooks -> pregond)"
curl -s "$sb/_sandbox/stats" | python3 -c 'import json,sys; k=json.load(sys.stdin).get("callbacks",{}).get("by_kind",{})
for n, c in sorted(k.items()): print("  sandbox %-20s sent %s, failed %s, dropped %s" % (n, c.get("sent"), c.get("failed"), c.get("dropped")))'
curl -s "$hooks/metrics" | awk '$1 ~ /^pregon_hooks_(acks|refused|unavailable)_total/ && $2 > 0 { print "  " $1 " " $2 }'
echo "  suppressed by a STOP or Baja reply, for every debtor of the tenant:"
$B/broker/pregonctl suppress list --redis-socket "$dir/redis.sock" | sed 's/^/    /'
first=$($B/broker/pregonctl suppress list --csv --redis-socket "$dir/redis.sock" | awk -F, 'NR == 2 {gsub(/"/, "", $3); print $3}')
if [ -n "$first" ]; then
  echo "  a new job to $first under another debtor id:"
  python3 -c 'import json,sys; print(json.dumps({"job_id": "demo-after-stop", "tenant": "acme-cobranzas",
    "debtor_id": "someone-else", "channel": "sms", "contact": sys.argv[1], "template_id": "aviso_mora_sms",
    "jurisdiction": "US", "time_zone": "America/New_York", "variables": {"nombre": "Ana", "monto": "$1",
    "producto": "x", "fecha": "1/1", "enlace": "x", "acreedor": "Acme", "telefono": "1"}}))' "$first" |
    $B/broker/pregonctl submit --endpoint "ipc://$dir/front" $(keys campaigns) --json - 2>/dev/null | sed 's/^/    /'
fi
echo
# ---- BEGIN audit ----
echo "== the audit archive: pregon-audit drains the audit streams into signed, hash-chained segments"
cmake --build build-demo -j"$(nproc)" --target pregon-audit >/dev/null
$B/broker/audit/pregon-audit keygen --key "$dir/audit.key" --pub "$dir/audit.pub"
$B/broker/audit/pregon-audit drain --once --dir "$dir/audit" --key "$dir/audit.key" \
  --redis-socket "$dir/redis.sock" 2>"$dir/audit.log" || cat "$dir/audit.log"
tail -1 "$dir/audit.log" | sed 's/^[^ ]* /  /'
$B/broker/pregonctl audit verify --dir "$dir/audit" --pub "$dir/audit.pub" | sed 's/^/  /'
who=$($B/broker/pregonctl audit export --dir "$dir/audit" --from 2000-01-01 --to 2100-01-01 --format jsonl 2>/dev/null |
  python3 -c 'import collections, json, sys
c = collections.Counter((r["tenant"], r["debtor"]) for r in map(json.loads, sys.stdin) if r.get("debtor") and r.get("job"))
print(*c.most_common(1)[0][0])' 2>/dev/null || true)
if [ -n "$who" ]; then
  set -- $who
  echo "  the contact log of debtor $2 of $1 (pregonctl audit debtor; --format html prints a report):"
  $B/broker/pregonctl audit debtor --dir "$dir/audit" --tenant "$1" --debtor "$2" | cut -c1-170 | sed 's/^/    /'
fi
echo "  by day, class, channel, jurisdiction and rule (pregonctl audit stats):"
$B/broker/pregonctl audit stats --dir "$dir/audit" | head -12 | sed 's/^/    /'
# ---- END audit ----
echo
echo "== stopping what the demo started"
