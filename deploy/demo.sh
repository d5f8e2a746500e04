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
# ---- BEGIN voice ----
# The voice blaster on a stack of its own (its Redis, a pregond serving voice with its clock on a
# weekday morning so CO and US debtors may be called, pregon-hooks with the voice module, one
# pregon-voice), calling through the same sandbox, whose Twilio Calls play the debtors.
echo
echo "== the voice blaster: a campaign of calls to CO and US debtors (pregon-voice, IVR in pregon-hooks)"
cmake --build build-demo -j"$(nproc)" --target pregon-voice >/dev/null
v="$dir/voice"; mkdir -p "$v/own" "$v/keys"
redis-server --port 0 --unixsocket "$v/redis.sock" --save '' --appendonly no --dir "$v" \
  --daemonize yes --pidfile "$v/redis.pid" --logfile "$v/redis.log"
wait_for 10 sh -c "redis-cli -s '$v/redis.sock' ping 2>/dev/null | grep -q PONG"
$B/broker/pregonctl keys new pregond --role broker --dir "$v/own" >/dev/null
$B/broker/pregonctl keys new voice --role worker --channels voice --dir "$v/own" >/dev/null
cp "$v/own/voice.pub" "$dir/own/campaigns.pub" "$dir/own/hooks.pub" "$v/keys/"
vkeys() { echo "--key-file $2/$1.key --broker-key-file $v/own/pregond.pub"; }
offset=$(python3 -c 'import time, datetime as d
now = d.datetime.now(d.timezone.utc); t = now.replace(hour=15, minute=0, second=0, microsecond=0)
t += d.timedelta(days=(2 - t.weekday()) % 7 or 7)   # next Wednesday, 10:00 in Bogota and New York
while (t.month, t.day) in ((1, 1), (5, 1), (7, 20), (8, 7), (12, 8), (12, 25), (1, 6)): t += d.timedelta(days=7)
print(int((t - now).total_seconds()))')
cat >"$v/pregon.yaml" <<YAML
redis: {socket: "$v/redis.sock"}
sockets: {frontend: "ipc://$v/front", backend: "ipc://$v/back", events: "", hooks: "ipc://$v/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $root/deploy/policies
templates: $root/deploy/templates.yaml
channels: voice
test: {clock_offset_s: $offset}
YAML
$B/broker/pregond --config "$v/pregon.yaml" 2>"$v/pregond.log" & pids+=($!)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$v/url.key"; chmod 600 "$v/url.key"
$B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 --broker "ipc://$v/hooks" $(vkeys hooks "$dir/own") \
  --voice-url-key-file "$v/url.key" 2>"$v/hooks.log" & pids+=($!)
wait_for 10 sh -c "grep -q 'serving: http' '$v/hooks.log' 2>/dev/null"
vhooks=$(grep -m1 "serving: http" "$v/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$vhooks/healthz' >/dev/null"
cat >"$v/pools.yaml" <<'YAML'
pools:
  - tenant: acme-cobranzas
    daily_cap: 200
    machine_detection: DetectMessageEnd
    numbers:
      - {number: "+5716010001", area: "+571"}
      - {number: "+5716010002", area: "+571"}
      - {number: "+5746010003", area: "+574"}
      - {number: "+12125550101", area: "+1212"}
      - {number: "+13055550100", area: "+1305"}
YAML
curl -s "$sb/_sandbox/twilio-calls/config" -d '{"time_scale": 0.05}' >/dev/null
curl -s "$sb/_sandbox/twilio-calls/callees" -d '[
  {"number": "+573001110001", "answer": "human", "press": "1", "transfer": "answered", "talk_s": 40},
  {"number": "+573001110002", "answer": "human", "press": "2", "transfer": "answered", "talk_s": 20},
  {"number": "+574001110003", "answer": "human", "press": "9"},
  {"number": "+573001110004", "answer": "machine", "greeting_s": 4},
  {"number": "+12125550201", "answer": "human", "press": "1", "transfer": "answered", "talk_s": 60},
  {"number": "+12125550202", "answer": "human", "press": "8"},
  {"number": "+13055550203", "answer": "busy"},
  {"number": "+13055550204", "answer": "human", "press": ""}]' >/dev/null
TWILIO_AUTH_TOKEN=$TWILIO_AUTH_TOKEN PREGON_VOICE_URL_KEY=$(cat "$v/url.key") $B/channels/voice/pregon-voice \
  --broker "ipc://$v/back" $(vkeys voice "$v/own") --base-url "$sb" --account-sid "$TWILIO_ACCOUNT_SID" \
  --hooks-url "$vhooks" --pools "$v/pools.yaml" --worker-id demo-voice --journal "$v/voice.journal" \
  --concurrency 20 --rate 5 --ring-timeout-s 10 --max-call-s 60 2>"$v/voice.log" & pids+=($!)
wait_for 10 grep -q "joined on voice" "$v/pregond.log"
python3 - "$v/calls.jsonl" <<'PY'
import json, sys
rows = [("co-1", "+573001110001", "CO", "America/Bogota", "$1.250.000", "COP"),
        ("co-2", "+573001110002", "CO", "America/Bogota", "$380.500", "COP"),
        ("co-3", "+574001110003", "CO", "America/Bogota", "$2.000.000", "COP"),
        ("co-4", "+573001110004", "CO", "America/Bogota", "$99.900", "COP"),
        ("us-1", "+12125550201", "US", "America/New_York", "$1,250.75", "USD"),
        ("us-2", "+12125550202", "US", "America/New_York", "$310", "USD"),
        ("us-3", "+13055550203", "US", "America/New_York", "$45.10", "USD"),
        ("us-4", "+13055550204", "US", "America/New_York", "$980", "USD")]
with open(sys.argv[1], "w") as f:
    for d, phone, j, tz, amount, cur in rows:
        f.write(json.dumps({"job_id": "call-" + d, "tenant": "acme-cobranzas", "campaign": "voz-dic",
            "debtor_id": d, "debt_id": "debt-" + d, "channel": "voice", "contact": phone,
            "template_id": "cobranza_voz", "jurisdiction": j, "time_zone": tz,
            "segment": {"currency": cur}, "variables": {"acreedor": "Acme Cobranzas", "nombre": "Ana",
            "monto": amount, "fecha": "30/11", "telefono": "6015551234"}}) + "\n")
PY
$B/broker/pregonctl submit --endpoint "ipc://$v/front" $(vkeys campaigns "$dir/own") --json "$v/calls.jsonl" 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    v = json.loads(l); print("  %-14s %s %s" % (v["job_id"], v["verdict"], v.get("rule") or ""))'
curl -s "$sb/_sandbox/twilio-calls/wait?finished=8&timeout_ms=60000" >/dev/null || true
sleep 1 # the last status callbacks reach pregond (a demo, not a test)
echo "  what each debtor heard and did (the sandbox's transcripts):"
curl -s "$sb/_sandbox/twilio-calls/calls" | python3 -c 'import json,sys
for c in json.load(sys.stdin)["calls"]:
    said = " / ".join(c.get("said") or [])
    print("    %-14s from %-13s %-10s %-14s digits %-6s %s\n      said: %s" % (c["to"], c["from"], c["status"],
          c.get("answered_by") or "-", ",".join(c.get("digits") or []) or "-",
          ("transfer " + c["transfer"] + " " + str(c.get("dial_status"))) if c.get("transfer") else "",
          (said[:150] + "...") if len(said) > 150 else said))'
echo "  outcomes in pregond (audit: states and the IVR's events):"
$B/broker/pregonctl redis audit --redis-socket "$v/redis.sock" 2>/dev/null | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r.get("to") in ("DELIVERED", "FAILED", "CONVERSATION", "OPT_OUT", "DIGITS", "DEFERRED") or r.get("from") == "inbound":
        print("    %-18s %-13s %s %s" % (r.get("job"), r.get("to"), r.get("detail") or r.get("reason") or "", r.get("rule") or ""))'
echo "  us-1 talked to an agent (a conversation): its next call about that debt waits 7 days:"
python3 -c 'import json; print(json.dumps({"job_id": "call-us-1-again", "tenant": "acme-cobranzas", "campaign": "voz-dic",
  "debtor_id": "us-1", "debt_id": "debt-us-1", "channel": "voice", "contact": "+12125550201", "template_id": "cobranza_voz",
  "jurisdiction": "US", "time_zone": "America/New_York", "variables": {"acreedor": "Acme", "nombre": "Ana",
  "monto": "$1", "fecha": "1/12", "telefono": "1"}}))' |
  $B/broker/pregonctl submit --endpoint "ipc://$v/front" $(vkeys campaigns "$dir/own") --json - 2>/dev/null | sed 's/^/    /'
redis-cli -s "$v/redis.sock" shutdown nosave >/dev/null 2>&1 || true
# ---- END voice ----
echo
echo "== stopping what the demo started"
