#!/usr/bin/env bash
# demo.sh — the demo command: install what is missing, build, start Redis, pregond, pregon-sms,
# pregon-hooks and the provider sandbox, run deploy/examples/campaign.jsonl through them, print
# what was sent, deferred and rejected and why, what the provider told us afterwards (delivery
# callbacks, a few debtors answering STOP, through pregon-hooks), and stop everything it started.
#
# Everything runs in a private temp dir: Redis on a Unix socket, ZeroMQ on ipc:// endpoints, the
# sandbox on a free loopback port. Nothing leaves the machine: "sent" means sent to the sandbox.
#
#   deploy/demo.sh [--at WHEN] [--keep]
#   --at WHEN   pin pregond's clock to WHEN for the run (`date -d` syntax, UTC unless WHEN says
#               otherwise: 'Tue 10:00', '2026-12-08 15:00', 'next Sunday 03:00'; or PREGON_DEMO_AT):
#               the counts depend on the instant (quiet hours, Sundays and holidays in each
#               debtor's own zone), so a pinned instant gives the same counts every run; the
#               clock only moves forward: a past WHEN becomes the same weekday and time later
#   --keep      keep the folder of logs (it is also kept, and named, when the demo fails; KEEP=1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
demo_at=${PREGON_DEMO_AT:-} keep=${KEEP:-0}
while [ $# -gt 0 ]; do
  case "$1" in
    --at) [ $# -ge 2 ] || { echo "demo.sh: --at WHEN" >&2; exit 2; }; demo_at=$2; shift 2 ;;
    --at=*) demo_at=${1#--at=}; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (--at WHEN, --keep)" >&2; exit 2 ;;
  esac
done
# the instant the run decides at: pinned (pregond's test.clock_offset_s) or now
clock_offset=0 at_epoch=$(date -u +%s)
if [ -n "$demo_at" ]; then
  at_epoch=$(TZ=UTC date -d "$demo_at" +%s 2>/dev/null) ||
    { echo "demo.sh: --at '$demo_at': not a date (try 'Tue 10:00')" >&2; exit 2; }
  now=$(date -u +%s) weeks=0
  while [ "$at_epoch" -lt "$now" ]; do at_epoch=$((at_epoch + 7 * 86400)); weeks=$((weeks + 1)); done
  [ "$weeks" = 0 ] || echo "demo.sh: pregond's clock only moves forward: '$demo_at' is past, so the same weekday and time $weeks week(s) later"
  clock_offset=$((at_epoch - now))
fi
bash deploy/install-deps.sh
echo "== building (release) into build-demo/"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DPREGON_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target pregond pregonctl pregon-sms pregon-sandbox \
  pregon-hooks >/dev/null
B=build-demo

dir=$(mktemp -d /tmp/pregon-demo.XXXXXX)
pids=()
stop_all() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then echo "demo FAILED (exit $rc): the logs are kept in $dir"
  elif [ "$keep" = 1 ]; then echo "logs kept in $dir"
  else rm -rf "$dir"; fi
  exit $rc
}
trap stop_all EXIT
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }
rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
stat() { $B/broker/pregonctl redis stats --json --redis-socket "$dir/redis.sock" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
export -f stat; export B dir

echo "== starting redis-server, pregond, pregon-hooks, pregon-sandbox, pregon-sms"
echo "   logs in $dir ($([ "$keep" = 1 ] && echo kept || echo "kept on failure or with --keep"))"
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
test: {clock_offset_s: $clock_offset}
YAML
$B/broker/pregond --config "$dir/pregon.yaml" 2>"$dir/pregond.log" & pids+=($!)
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token
# pregon-hooks: the provider's webhooks (signed) in, InboundEvents to pregond
$B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" $(keys hooks) \
  2>"$dir/hooks.log" & pids+=($!)
wait_for 10 grep -qs "serving: http" "$dir/hooks.log"
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
# the worker's last check of the window runs on the real clock: off while pregond's is pinned
worker_check="--policy-dir $root/deploy/policies"; [ "$clock_offset" = 0 ] || worker_check=""
$B/channels/sms/pregon-sms --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
  $(keys sms) --worker-id demo-sms --journal "$dir/sms.journal" --concurrency 64 \
  $worker_check \
  --status-callback "$hooks/twilio/sms/status" 2>"$dir/sms.log" & pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log"

at_iso=$(date -u -d "@$at_epoch" +%Y-%m-%dT%H:%M:%SZ)
echo
if [ "$clock_offset" = 0 ]; then
  echo "== the instant decides the counts: now, $(date -u -d "@$at_epoch" '+%a %Y-%m-%d %H:%M') UTC"
  echo "   (pin it for the same counts every run: deploy/demo.sh --at 'Tue 10:00', or PREGON_DEMO_AT)"
else
  echo "== the instant decides the counts: pregond's clock pinned to $(date -u -d "@$at_epoch" '+%a %Y-%m-%d %H:%M') UTC (--at '$demo_at')"
fi
echo "   each debtor is decided in its own zone; a first contact at that instant would be:"
python3 - "$B/broker/pregonctl" "$dir/redis.sock" "$at_iso" deploy/examples/campaign.jsonl <<'PY'
import collections, json, subprocess, sys
ctl, sock, at, path = sys.argv[1:5]
groups = collections.Counter()
for line in open(path):
    j = json.loads(line)
    groups[(j["jurisdiction"], j["time_zone"], j["channel"])] += 1
print("   %5s  %-4s %-20s %-17s %s" % ("jobs", "law", "zone", "local time", "a first contact then"))
for (jur, tz, ch), n in sorted(groups.items(), key=lambda kv: -kv[1]):
    out = subprocess.run([ctl, "explain", "--tenant", "demo-probe", "--debtor", "probe", "--channel", ch,
                          "--jurisdiction", jur, "--tz", tz, "--at", at, "--json", "--redis-socket", sock,
                          "--policies", "deploy/policies"], capture_output=True, text=True)
    try:
        e = json.loads(out.stdout)
    except ValueError:
        print("   %5d  %-4s %-20s %-17s %s" % (n, jur, tz, "-", (out.stderr.strip() or "?")[:60]))
        continue
    import datetime
    local = datetime.datetime.fromisoformat(e["local"]).strftime("%a %H:%M")
    what = "allowed" if e["verdict"] == "ALLOWED" else "%s %s (%s)%s" % (
        "deferred:" if e["verdict"] == "DEFERRED" else "refused:", e.get("rule"), e.get("reason"),
        " until " + datetime.datetime.fromisoformat(e["until"]).strftime("%a %H:%M") if e.get("until") else "")
    print("   %5d  %-4s %-20s %-17s %s" % (n, jur, tz, local, what))
PY
echo "   (so ACCEPTED counts only the debtors whose local time is inside their law's window that"
echo "    day; the others are DEFERRED to it; a debtor's later jobs meet the caps and gaps)"
echo
echo "== submitting deploy/examples/campaign.jsonl ($(wc -l <deploy/examples/campaign.jsonl) jobs)"
# exit 1: the campaign holds invalid jobs on purpose (the table shows them); 3 or 4 is a failure
submit_rc=0
$B/broker/pregonctl submit --endpoint "ipc://$dir/front" $(keys campaigns) deploy/examples/campaign.jsonl || submit_rc=$?
[ "$submit_rc" -le 1 ] || { echo "demo: pregonctl submit exit $submit_rc (3: no answer, 4: BUSY)"; exit 1; }
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
echo "== stopping what the demo started"
