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
  --ops-listen 127.0.0.1:0 2>"$dir/hooks.log" & pids+=($!)
wait_for 10 grep -qs "serving: http" "$dir/hooks.log"
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
# its /metrics: on the loopback ops port (the public listener answers 404)
hooks_ops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
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
wait_for 20 bash -c "[ \"\$(curl -s $hooks_ops/metrics | awk '\$1 == \"pregon_hooks_in_flight\" {print \$2}')\" = 0 ] && [ \"\$(redis-cli -s '$dir/redis.sock' --scan --pattern 'pg:{s*}:j:*' | sed 's/^/HGET /; s/\$/ s/' | redis-cli -s '$dir/redis.sock' | grep -c '^sent\$')\" = 0 ]" || true

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
curl -s "$hooks_ops/metrics" | awk '$1 ~ /^pregon_hooks_(acks|refused|unavailable)_total/ && $2 > 0 { print "  " $1 " " $2 }'
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
# ---- BEGIN whatsapp ----
# A mixed SMS + WhatsApp campaign on a stack of its own (Redis, pregond serving sms and whatsapp,
# pregon-hooks, the sandbox playing Twilio and WhatsApp Cloud, pregon-sms, pregon-whatsapp), under
# a policy open all day (the SMS part above shows quiet hours): WhatsApp template messages are
# delivered and read; two numbers are not on WhatsApp (131026: undeliverable, fallback-eligible:
# pregond submits each again as an SMS, ID~sms); two debtors answer "ya pagué" (PAYMENT_CLAIMED)
# and one "baja" (opted out of WhatsApp).
echo
echo "== WhatsApp: a mixed SMS + WhatsApp campaign"
cmake --build build-demo -j"$(nproc)" --target pregon-whatsapp >/dev/null
wa=$dir/wa
mkdir -p "$wa/own" "$wa/keys" "$wa/policies"
wa_pids=()
wa_ac=AC00000000000000000000000000000000 # the sandbox's Twilio account
redis-server --port 0 --unixsocket "$wa/redis.sock" --save '' --appendonly no --dir "$wa" \
  --logfile "$wa/redis.log" & wa_pids+=($!); pids+=($!)
wait_for 10 sh -c "redis-cli -s '$wa/redis.sock' ping 2>/dev/null | grep -q PONG"
for k in "pregond --role broker" "campaigns --role client --tenants acme-cobranzas" \
         "sms --role worker --channels sms" "whatsapp --role worker --channels whatsapp" "hooks --role hooks"; do
  $B/broker/pregonctl keys new $k --dir "$wa/own" >/dev/null
done
cp "$wa/own/campaigns.pub" "$wa/own/sms.pub" "$wa/own/whatsapp.pub" "$wa/own/hooks.pub" "$wa/keys/"
wkeys() { echo "--key-file $wa/own/$1.key --broker-key-file $wa/own/pregond.pub"; }
cat >"$wa/policies/DEMO-WA.yaml" <<'YAML'
# the WhatsApp demo's policy: open all day, so this part runs whatever the hour
id: DEMO-WA
windows:
  - id: demo-wa.open
    channels: all
    daily: "00:00-24:00"
YAML
cat >"$wa/pregon.yaml" <<YAML
redis: {socket: "$wa/redis.sock"}
sockets: {frontend: "ipc://$wa/front", backend: "ipc://$wa/back", events: "", hooks: "ipc://$wa/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
channels: sms,whatsapp
policies: $wa/policies
templates: $root/deploy/templates.yaml
YAML
$B/broker/pregond --config "$wa/pregon.yaml" 2>"$wa/pregond.log" & wa_pids+=($!); pids+=($!)
WHATSAPP_APP_SECRET=demo-app-secret WHATSAPP_VERIFY_TOKEN=demo-verify \
  TWILIO_ACCOUNT_SID=$wa_ac TWILIO_AUTH_TOKEN=sandbox-token \
  $B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 --broker "ipc://$wa/hooks" $(wkeys hooks) \
  --ops-listen 127.0.0.1:0 2>"$wa/hooks.log" & wa_pids+=($!); pids+=($!)
wait_for 10 grep -q "serving: http" "$wa/hooks.log"
wa_hooks=$(grep -m1 "serving: http" "$wa/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wa_hooks_ops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$wa/hooks.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$wa_hooks/healthz' >/dev/null"
echo '[{"name": "recordatorio_pago", "language": "es_MX", "body_params": 4}]' >"$wa/templates.json"
$B/channels/sandbox/pregon-sandbox --listen 127.0.0.1:0 --port-file "$wa/sandbox.port" \
  --latency-ms 20 --jitter-ms 30 --callbacks --callback-delay-ms 100 \
  --inbound-url "$wa_hooks/twilio/sms/inbound" --wa-app-secret demo-app-secret \
  --wa-phone-number-id 1065550001 --wa-templates "$wa/templates.json" \
  --wa-webhook-url "$wa_hooks/whatsapp/webhook" --wa-callback-delay-ms 100 \
  --wa-pair-interval-ms 6000 2>"$wa/sandbox.log" & wa_pids+=($!); pids+=($!)
wait_for 10 test -s "$wa/sandbox.port"
wa_sb="http://127.0.0.1:$(cat "$wa/sandbox.port")"
# not on WhatsApp: the failed status webhook says 131026; two replies "ya pagué", one "baja"
curl -s "$wa_sb/_sandbox/whatsapp/outcomes" -d '[{"number": "+573001000003", "error_code": 131026},
  {"number": "+525511000006", "error_code": 131026}]' >/dev/null
curl -s "$wa_sb/_sandbox/whatsapp/replies" -d '[{"number": "+573001000001", "body": "ya pagué", "delay_ms": 200},
  {"number": "+525511000005", "body": "Ya pagué!", "delay_ms": 200}, {"number": "+573001000002", "body": "baja", "delay_ms": 200}]' >/dev/null
TWILIO_ACCOUNT_SID=$wa_ac TWILIO_AUTH_TOKEN=sandbox-token \
  $B/channels/sms/pregon-sms --broker "ipc://$wa/back" --base-url "$wa_sb" --from +15005550006 \
  $(wkeys sms) --worker-id demo-wa-sms --journal "$wa/sms.journal" --policy-dir "$wa/policies" \
  --status-callback "$wa_hooks/twilio/sms/status" 2>"$wa/sms.log" & wa_pids+=($!); pids+=($!)
WHATSAPP_TOKEN=sandbox-wa-token $B/channels/whatsapp/pregon-whatsapp --broker "ipc://$wa/back" \
  --base-url "$wa_sb" --phone-number-id 1065550001 $(wkeys whatsapp) --worker-id demo-whatsapp \
  --journal "$wa/whatsapp.journal" --policy-dir "$wa/policies" 2>"$wa/whatsapp.log" & wa_pids+=($!); pids+=($!)
wait_for 10 sh -c "grep -q 'joined on sms' '$wa/pregond.log' && grep -q 'joined on whatsapp' '$wa/pregond.log'" ||
  echo "   (a worker did not join: see $wa/sms.log, $wa/whatsapp.log)"
# fallback_contacts once pregonctl knows the field (pregond's fallback), else the channel alone
wa_fb=$(grep -q '"fallback_contacts"' broker/cli/pc_submit.c && echo 1 || echo 0)
python3 - "$wa/campaign.jsonl" "$wa_fb" <<'PY'
import json, sys
v = {"nombre": "Ana", "monto": "$150.000", "producto": "tarjeta de crédito", "fecha": "15/12",
     "enlace": "https://pagos.example/ana", "referencia": "ref-1", "acreedor": "Acme Cobranzas",
     "telefono": "018000123456"}
jobs = []
for i, (cc, zone) in enumerate([("+5730010000", "America/Bogota")] * 4 + [("+5255110000", "America/Mexico_City")] * 4):
    n = f"{cc}{i:02d}"
    jobs.append({"job_id": f"wa-{i}", "channel": "whatsapp", "contact": n, "template_id": "recordatorio_pago",
                 "fallback_channels": ["sms"], "time_zone": zone})
    if sys.argv[2] == "1":
        jobs[-1]["fallback_contacts"] = {"sms": n}
for i in range(4):
    jobs.append({"job_id": f"sms-{i}", "channel": "sms", "contact": f"+5730020000{i:02d}",
                 "template_id": "aviso_mora_sms", "time_zone": "America/Bogota"})
with open(sys.argv[1], "w") as f:
    for j in jobs:
        j.update({"tenant": "acme-cobranzas", "campaign": "mora-wa", "debtor_id": "deb-" + j["job_id"],
                  "jurisdiction": "DEMO-WA", "variables": v})
        f.write(json.dumps(j, ensure_ascii=False) + "\n")
PY
echo "   submitting 8 WhatsApp template jobs (2 to numbers not on WhatsApp) and 4 SMS jobs"
$B/broker/pregonctl submit --endpoint "ipc://$wa/front" $(wkeys campaigns) "$wa/campaign.jsonl" | sed 's/^/   /' || true
# until every reply came back through pregon-hooks and no job waits in queued/dispatched/sent
wa_settled() {
  [ "$(curl -s "$wa_sb/_sandbox/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["modules"]["whatsapp"]["inbound"])')" -ge 3 ] || return 1
  [ "$(redis-cli -s "$wa/redis.sock" --scan --pattern 'pg:{s*}:j:*' | sed 's/^/HGET /; s/$/ s/' |
       redis-cli -s "$wa/redis.sock" | grep -cE '^(queued|dispatched|sent)$')" = 0 ]
}
wait_for 60 wa_settled || echo "   (not everything settled within 60 s: see $wa)"
sleep 1 # the last webhooks' acks
echo "   per channel, what happened to each job:"
$B/broker/pregonctl redis audit --redis-socket "$wa/redis.sock" 2>/dev/null | python3 -c '
import collections, json, sys
STATES = {"ACCEPTED", "DEFERRED", "REJECTED", "EXPIRED", "DISPATCHED", "SENT", "DELIVERED",
          "FAILED", "RETRY", "SKIPPED", "UNKNOWN", "HANDED_BACK", "CANCELLED"}
last, chan, detail, answers = {}, {}, {}, []
for line in sys.stdin:
    r = json.loads(line)
    if r.get("to") not in STATES or not r.get("job"):
        if r.get("job") and r.get("to"):
            answers.append("%s answered: %s %s" % (r["job"], r["to"], r.get("detail") or r.get("reason") or ""))
        continue
    last[r["job"]] = r["to"]; chan[r["job"]] = r.get("channel", "?")
    if r.get("detail") or r.get("pcode"):
        detail[r["job"]] = (r.get("detail") or "") + (" (Meta %s)" % r["pcode"] if r.get("pcode") else "")
by = collections.defaultdict(list)
for j in sorted(last): by[chan[j]].append(j)
for c in sorted(by):
    counts = collections.Counter(last[j] for j in by[c])
    print("   %-9s %s" % (c, ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items()))))
    for j in by[c]:
        if last[j] != "DELIVERED":
            print("     %-10s %-10s %s" % (j, last[j], detail.get(j, "")))
for a in answers:
    print("   " + a)'
echo "   the sandbox received: $(curl -s "$wa_sb/_sandbox/stats" | python3 -c 'import json,sys; p=json.load(sys.stdin)["providers"]
print(", ".join("%s %d" % (k, v["total"]) for k, v in sorted(p.items())))'); WhatsApp webhooks posted: $(curl -s "$wa_sb/_sandbox/stats" | python3 -c 'import json,sys; m=json.load(sys.stdin)["modules"]["whatsapp"]; print("%d statuses (sent, delivered, read, failed), %d replies" % (m["statuses"], m["inbound"]))')"
echo "   webhooks through pregon-hooks: $(curl -s "$wa_hooks_ops/metrics" | awk '$1 ~ /^pregon_hooks_acks_total/ && $2 > 0 { printf "%s %s  ", $1, $2 }')"
echo "   suppressed after \"baja\" (WhatsApp only, every debtor of the tenant):"
$B/broker/pregonctl suppress list --redis-socket "$wa/redis.sock" | sed 's/^/     /'
for p in "${wa_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${wa_pids[@]}"; do wait "$p" 2>/dev/null || true; done
# ---- END whatsapp ----
# ---- BEGIN messenger ----
# Messenger: the Send API may carry automated reminders only inside the 24 hours after the
# debtor's last message to the page. A second pregond on the same Redis serves the channel
# (CURVE keys of its own), with its own pregon-hooks (the Messenger webhook) and sandbox (a page,
# its token, the app secret that signs the webhooks) and one pregon-messenger. Four debtors are
# first refused (nobody wrote yet), three of them then write to the page, the campaign submits
# again: three reminders go out, are delivered and read; the fourth is refused again.
echo
echo "== Messenger: reminders only inside the 24-hour window"
cmake --build build-demo -j"$(nproc)" --target pregon-messenger >/dev/null
m="$dir/messenger"; mkdir -p "$m/own" "$m/keys"
$B/broker/pregonctl keys new pregond --role broker --dir "$m/own" >/dev/null
$B/broker/pregonctl keys new campaigns --role client --tenants acme-cobranzas --dir "$m/own" >/dev/null
$B/broker/pregonctl keys new messenger --role worker --channels messenger --dir "$m/own" >/dev/null
$B/broker/pregonctl keys new hooks --role hooks --dir "$m/own" >/dev/null
cp "$m/own/campaigns.pub" "$m/own/messenger.pub" "$m/own/hooks.pub" "$m/keys/"
mkeys() { echo "--key-file $m/own/$1.key --broker-key-file $m/own/pregond.pub"; }
# the deploy policies, and one open at every hour so that this part shows the window whenever
# the demo runs (the real jurisdictions' quiet hours would defer the reminders at night)
mkdir -p "$m/policies"; cp deploy/policies/*.yaml "$m/policies/"
cat >"$m/policies/DEMO-24H.yaml" <<'YAML'
id: DEMO-24H
name: "demo only: open at every hour"
windows:
  - id: demo.open
    channels: all
    daily: "00:00-24:00"
YAML
cat >"$m/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$m/front", backend: "ipc://$m/back", events: "", hooks: "ipc://$m/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $m/policies
templates: $root/deploy/templates.yaml
channels: "messenger"
YAML
m_pids=()
$B/broker/pregond --config "$m/pregon.yaml" 2>"$m/pregond.log" & m_pids+=($!)
page=104000000000123 secret=demo-app-secret-$RANDOM
MESSENGER_APP_SECRET=$secret $B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 \
  --broker "ipc://$m/hooks" $(mkeys hooks) --ops-listen 127.0.0.1:0 2>"$m/hooks.log" & m_pids+=($!)
wait_for 10 grep -q "serving: http" "$m/hooks.log"
mhooks=$(grep -m1 "serving: http" "$m/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
mhooks_ops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$m/hooks.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$mhooks/healthz' >/dev/null"
export MESSENGER_PAGE_TOKEN=EAAG-demo-page-token-$RANDOM
$B/channels/sandbox/pregon-sandbox --listen 127.0.0.1:0 --port-file "$m/sandbox.port" \
  --latency-ms 20 --messenger-page "$page:$MESSENGER_PAGE_TOKEN" --messenger-app-secret "$secret" \
  --messenger-webhook-url "$mhooks/messenger/webhook" --messenger-callback-delay-ms 100 \
  2>"$m/sandbox.log" & m_pids+=($!)
wait_for 10 test -s "$m/sandbox.port"
msb="http://127.0.0.1:$(cat "$m/sandbox.port")"
$B/channels/messenger/pregon-messenger --broker "ipc://$m/back" --base-url "$msb/messenger" --page-id "$page" \
  $(mkeys messenger) --worker-id demo-messenger --journal "$m/messenger.journal" \
  --policy-dir "$m/policies" 2>"$m/messenger.log" & m_pids+=($!)
wait_for 10 grep -q "joined on messenger" "$m/pregond.log"
# msgr_jobs ROUND: one reminder per debtor
msgr_jobs() {
  python3 - "$1" <<'PY'
import json, sys
for i, (name, psid) in enumerate([("Ana", "7001"), ("Luis", "7002"), ("Marta", "7003"), ("Pedro", "7004")]):
    print(json.dumps({"job_id": f"msgr-{sys.argv[1]}-{i}", "tenant": "acme-cobranzas", "campaign": "messenger-demo",
        "debtor_id": f"fb-{psid}", "channel": "messenger", "contact": psid, "template_id": "recordatorio_messenger",
        "jurisdiction": "DEMO-24H", "time_zone": "America/Bogota", "variables": {"nombre": name, "monto": "$120.000",
        "producto": "tarjeta", "fecha": "30/12", "enlace": "https://pagos.example.co/x"}}))
PY
}
msgr_submit() {
  msgr_jobs "$1" | $B/broker/pregonctl submit --endpoint "ipc://$m/front" $(mkeys campaigns) --json - 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    v = json.loads(l); print("    %-14s %-9s %s" % (v["job_id"], v["verdict"], v.get("rule") or ""))'
}
echo "  round 1: nobody wrote to the page yet"
msgr_submit r1
echo "  Ana, Luis and Marta write to the page (the sandbox posts their messages, signed, to pregon-hooks)"
for psid in 7001 7002 7003; do
  curl -s "$msb/_sandbox/messenger/inbound" -d "{\"psid\": \"$psid\", \"text\": \"Hola, quiero saber mi saldo\"}" >/dev/null
done
wait_for 10 bash -c "for p in 7001 7002 7003; do [ -n \"\$(redis-cli -s '$dir/redis.sock' get \"\$($B/broker/pregonctl redis key window acme-cobranzas fb-\$p messenger \$p --redis-socket '$dir/redis.sock')\")\" ] || exit 1; done" || true
echo "  round 2: the campaign submits again"
msgr_submit r2
msgr_state() { redis-cli -s "$dir/redis.sock" hget "$($B/broker/pregonctl redis key job acme-cobranzas "fb-$1" "msgr-r2-$2" --redis-socket "$dir/redis.sock")" s; }
wait_for 20 bash -c "$(declare -f msgr_state); for i in 0 1 2; do [ \"\$(msgr_state 700\$((i + 1)) \$i)\" = delivered ] || exit 1; done" || true
echo "  after the delivery and read webhooks:"
for i in 0 1 2 3; do printf '    msgr-r2-%s     %s\n' "$i" "$(msgr_state "700$((i + 1))" "$i" || true)"; done
curl -s "$msb/_sandbox/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin)
m=s["modules"]["messenger"]; print("  sandbox: %d messages accepted, %d refused outside the window, %d delivery and %d read webhooks, %d debtor messages" % (m["sent"], m["outside_window"], m["deliveries"], m["reads"], m["inbound"]))'
curl -s "$mhooks_ops/metrics" | awk '$1 ~ /^pregon_hooks_acks_total/ && $2 > 0 { print "  " $1 " " $2 }'
for p in "${m_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${m_pids[@]}"; do wait "$p" 2>/dev/null || true; done
# ---- END messenger ----
# ---- BEGIN voice ----
# The voice blaster: pregon-voice places the calls on Twilio (the sandbox's Twilio Calls plays the
# debtors and fetches each call's TwiML from pregon-hooks, which serves the IVR). Some press 1 and
# are transferred to the negotiators, some 2 (support), some 9 (no more calls), answering machines
# hear the voicemail variant. A pregond of its own (Redis prefix pgv, the same CURVE keys) runs
# with its clock on Wednesday 2027-03-10 11:00 in Bogotá and New York (test.clock_offset_s), so
# the calls fall inside both countries' calling hours whenever the demo is run.
echo
echo "== voice: a campaign of calls over CO and US debtors (pregond's clock: 2027-03-10 16:00 UTC)"
cmake --build build-demo -j"$(nproc)" --target pregon-voice >/dev/null
$B/broker/pregonctl keys new voice --role worker --channels voice --dir "$dir/own" >/dev/null
mkdir -p "$dir/vkeys"
cp "$dir/own/campaigns.pub" "$dir/own/hooks.pub" "$dir/own/voice.pub" "$dir/vkeys/"
cat >"$dir/pregon-voice.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pgv}
sockets: {frontend: "ipc://$dir/vfront", backend: "ipc://$dir/vback", events: "", hooks: "ipc://$dir/vhooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: vkeys}
policies: $root/deploy/policies
templates: $root/deploy/templates.yaml
channels: voice
test: {clock_offset_s: $(( $(date -u -d 2027-03-10T16:00:00Z +%s) - $(date -u +%s) ))}
YAML
$B/broker/pregond --config "$dir/pregon-voice.yaml" 2>"$dir/pregond-voice.log" & pids+=($!)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/url.key"; chmod 600 "$dir/url.key"
$B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 --broker "ipc://$dir/vhooks" $(keys hooks) \
  --voice-url-key-file "$dir/url.key" --ops-listen 127.0.0.1:0 2>"$dir/hooks-voice.log" & pids+=($!)
wait_for 10 grep -qs "serving: http" "$dir/hooks-voice.log"
vhooks=$(grep -m1 "serving: http" "$dir/hooks-voice.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
vhooks_ops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks-voice.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$vhooks/healthz' >/dev/null"
# the debtors, by number: what each does when the call comes; a simulated second lasts 20 ms
curl -s "$sb/_sandbox/twilio-calls/config" -d '{"time_scale": 0.02}' >/dev/null
curl -s "$sb/_sandbox/twilio-calls/callees" -d '[
  {"number": "+573001000001", "answer": "human", "press": "1", "transfer": "answered", "talk_s": 90},
  {"number": "+573001000002", "answer": "human", "press": "2", "transfer": "answered", "talk_s": 40},
  {"number": "+573001000003", "answer": "human", "press": "9"},
  {"number": "+573001000004", "answer": "machine", "greeting_s": 6},
  {"number": "+573001000005", "answer": "no-answer"},
  {"number": "+12125550001", "answer": "human", "press": "1", "transfer": "answered", "talk_s": 120},
  {"number": "+12125550002", "answer": "human", "press": "2", "transfer": "answered", "talk_s": 30},
  {"number": "+13055550003", "answer": "human", "press": "9"},
  {"number": "+13055550004", "answer": "machine", "greeting_s": 5},
  {"number": "+12125550005", "answer": "busy"}]' >/dev/null
cat >"$dir/pools.yaml" <<'YAML'
pools:
  - tenant: acme-cobranzas
    daily_cap: 500
    machine_detection: DetectMessageEnd
    numbers:
      - {number: "+5716010001", area: "+57"}
      - {number: "+5746010002", area: "+57"}
      - {number: "+12125550100", area: "+1212"}
      - {number: "+13055550100", area: "+1305"}
YAML
PREGON_VOICE_URL_KEY=$(cat "$dir/url.key") $B/channels/voice/pregon-voice --broker "ipc://$dir/vback" \
  --base-url "$sb" --hooks-url "$vhooks" --pools "$dir/pools.yaml" --from +15005550006 \
  $(keys voice) --worker-id demo-voice --journal "$dir/voice.journal" --concurrency 20 --rate 5 \
  --ring-timeout-s 20 --max-call-s 300 --line-slack-s 5 2>"$dir/voice.log" & pids+=($!)
wait_for 10 grep -q "joined on voice" "$dir/pregond-voice.log"
python3 - "$dir/voice.jsonl" <<'PY'
import json, sys
people = [("co-1", "+573001000001", "Camila"), ("co-2", "+573001000002", "Andrés"),
          ("co-3", "+573001000003", "Lucía"), ("co-4", "+573001000004", "Jorge"),
          ("co-5", "+573001000005", "Sofía"), ("us-1", "+12125550001", "Ana"),
          ("us-2", "+12125550002", "Luis"), ("us-3", "+13055550003", "María"),
          ("us-4", "+13055550004", "José"), ("us-5", "+12125550005", "Elena")]
with open(sys.argv[1], "w") as f:
    for i, (d, c, name) in enumerate(people):
        co = d.startswith("co")
        f.write(json.dumps({"job_id": "voz-%d" % i, "tenant": "acme-cobranzas", "campaign": "voz-marzo",
            "debtor_id": d, "debt_id": "deuda-" + d, "channel": "voice", "contact": c,
            "template_id": "cobranza_voz", "jurisdiction": "CO" if co else "US",
            "time_zone": "America/Bogota" if co else "America/New_York",
            "variables": {"acreedor": "Banco Acme", "nombre": name,
                          "monto": "$1.250.000" if co else "$1,250", "fecha": "30/03",
                          "telefono": "6015551234" if co else "8005551234"}}) + "\n")
PY
$B/broker/pregonctl submit --endpoint "ipc://$dir/vfront" $(keys campaigns) "$dir/voice.jsonl" | sed 's/^/  /' || true
curl -s "$sb/_sandbox/twilio-calls/wait?finished=10&timeout_ms=60000" >/dev/null
# the outcomes reach pregond through pregon-hooks: until it holds nothing
wait_for 20 bash -c "[ \"\$(curl -s $vhooks_ops/metrics | awk '\$1 == \"pregon_hooks_in_flight\" {print \$2}')\" = 0 ]" || true
$B/broker/pregonctl redis audit --prefix pgv --redis-socket "$dir/redis.sock" >"$dir/voice-audit.jsonl"
curl -s "$sb/_sandbox/twilio-calls/calls" >"$dir/calls.json"
python3 - "$dir/calls.json" "$dir/voice-audit.jsonl" <<'PY'
import json, sys
calls = json.load(open(sys.argv[1]))["calls"]
audit = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
print("  %-5s %-14s %-13s %-17s %-6s %-40s %s" % ("who", "to", "caller id", "answered by", "keyed",
                                                  "transfer", "in pregond"))
for c in calls:
    job = next((r["job"] for r in audit if r.get("pid") == c["sid"]), None)
    steps = [r["to"] for r in audit if r.get("job") == job and r["to"] not in ("ACCEPTED", "DISPATCHED")]
    debtor = next((r["debtor"] for r in audit if r.get("job") == job and r.get("debtor")), "?")
    keyed = ",".join(d for d in c["digits"] if d) or "-"
    print("  %-5s %-14s %-13s %-17s %-6s %-40s %s" % (debtor, c["to"], c["from"], c["answered_by"] or c["status"],
          keyed, (c["transfer"] or "-") + (" (%s)" % c["dial_status"] if c["transfer"] else ""),
          " ".join(steps)))
m = next(c for c in calls if c["to"] == "+573001000004")
print("  the answering machine of co-4 heard only: %s" % " ".join(m["said"]))
h = next(c for c in calls if c["to"] == "+573001000001")
print("  co-1 heard: %s" % h["said"][0][:150] + "...")
PY
echo "  suppressed for voice after pressing 9:"
$B/broker/pregonctl suppress list --prefix pgv --redis-socket "$dir/redis.sock" 2>/dev/null | sed 's/^/    /' || true
echo "  us-1 was transferred to an agent (a conversation): the next call about that debt"
python3 -c 'import json; print(json.dumps({"job_id": "voz-again", "tenant": "acme-cobranzas",
  "campaign": "voz-marzo", "debtor_id": "us-1", "debt_id": "deuda-us-1", "channel": "voice",
  "contact": "+12125550001", "template_id": "cobranza_voz", "jurisdiction": "US",
  "time_zone": "America/New_York", "variables": {"acreedor": "Banco Acme", "nombre": "Ana",
  "monto": "$1,250", "fecha": "30/03", "telefono": "8005551234"}}))' |
  $B/broker/pregonctl submit --endpoint "ipc://$dir/vfront" $(keys campaigns) --json - 2>/dev/null | sed 's/^/    /'
# ---- END voice ----
# ---- BEGIN email ----
# E-mail: its own pregond (channels: email; the always-open RC policy so the demo sends at any
# hour), pregon-email to the SMTP sink (STARTTLS, AUTH, DKIM), pregon-hooks serving the
# one-click unsubscribe. Some addresses bounce; one debtor clicks "unsubscribe" (curl); the
# next job to that address is REJECTED by the opt-out rule.
set +e +o pipefail # the e-mail part reports what happened; a failure of it never stops the demo
echo
echo "== e-mail: pregond (email), pregon-email, the SMTP sink, pregon-hooks (one-click unsubscribe)"
cmake --build build-demo -j"$(nproc)" --target pregon-email >/dev/null
em="$dir/email"; mkdir -p "$em/own" "$em/keys"
for k in "pregond broker" "campaigns client --tenants acme-cobranzas" "email worker --channels email" \
  "hooks hooks"; do set -- $k; $B/broker/pregonctl keys new "$1" --role $2 "${@:3}" --dir "$em/own" >/dev/null; done
cp "$em/own/campaigns.pub" "$em/own/email.pub" "$em/own/hooks.pub" "$em/keys/"
ekeys() { echo "--key-file $em/own/$1.key --broker-key-file $em/own/pregond.pub"; }
cat >"$em/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pgmail}
sockets: {frontend: "ipc://$em/front", backend: "ipc://$em/back", events: "", hooks: "ipc://$em/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
channels: email
policies: $root/tests/integration/e2e/policies
templates: $root/deploy/templates.yaml
YAML
$B/broker/pregond --config "$em/pregon.yaml" 2>"$em/pregond.log" & em_pids=($!)
openssl genrsa -out "$em/dkim.key" 2048 2>/dev/null; chmod 600 "$em/dkim.key"
head -c 32 /dev/urandom | base64 -w0 >"$em/unsub.key"; chmod 600 "$em/unsub.key"
printf 'email:\n  unsubscribe_key_file: %s\n' "$em/unsub.key" >"$em/hooks.yaml"
$B/channels/hooks/pregon-hooks --config "$em/hooks.yaml" --listen 127.0.0.1:0 --broker "ipc://$em/hooks" \
  $(ekeys hooks) 2>"$em/hooks.log" & em_pids+=($!)
wait_for 10 grep -q "serving: http" "$em/hooks.log"
ehooks=$(grep -m1 "serving: http" "$em/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
SINK_PASSWORD=demo-pass /usr/bin/python3 channels/sandbox/smtp_sink.py --port-file "$em/smtp.port" \
  --http-port-file "$em/sink.port" --user pregon --cert-dir "$em" 2>"$em/sink.log" & em_pids+=($!)
wait_for 20 test -s "$em/smtp.port" -a -s "$em/sink.port"
sink="http://127.0.0.1:$(cat "$em/sink.port")"
curl -s "$sink/script" -d '[{"rcpt": "no.existe@correo.example", "code": 550, "text": "5.1.1 user unknown"},
  {"rcpt": "vieja@correo.example", "code": 553, "text": "5.1.3 mailbox name not allowed"}]' >/dev/null
echo -n demo-pass >"$em/smtp.pass"; chmod 600 "$em/smtp.pass"
$B/channels/email/pregon-email --broker "ipc://$em/back" $(ekeys email) --worker-id demo-email \
  --journal "$em/email.journal" --smtp-url "smtp://localhost:$(cat "$em/smtp.port")" --ca-file "$em/sink.crt" \
  --smtp-user pregon --smtp-password-file "$em/smtp.pass" --from avisos@acme-cobranzas.example \
  --from-name "Acme Cobranzas — Servicio al Cliente" --dkim "acme-cobranzas.example=pg1:$em/dkim.key" \
  --unsubscribe-url "$ehooks/u/" --unsubscribe-mailto bajas@acme-cobranzas.example \
  --unsubscribe-key-file "$em/unsub.key" --warmup "acme-cobranzas.example:$(date -u +%F)" \
  --policy-dir "$root/tests/integration/e2e/policies" 2>"$em/email.log" & em_pids+=($!)
wait_for 10 grep -q "joined on email" "$em/pregond.log"
email_jobs() { # email_jobs PREFIX ADDR:NAME... — JSON lines on stdout
  python3 - "$@" <<'PY'
import json, sys
for i, pair in enumerate(sys.argv[2:]):
    addr, name = pair.split(":", 1)
    print(json.dumps({"job_id": "%s%d" % (sys.argv[1], i), "tenant": "acme-cobranzas", "campaign": "castigada-dic",
        "debtor_id": "deu-%s%d" % (sys.argv[1], i), "channel": "email", "contact": addr,
        "template_id": "aviso_mora_email", "jurisdiction": "RC", "time_zone": "America/Bogota",
        "variables": {"acreedor": "Banco Andino", "nombre": name, "producto": "tarjeta Visa", "monto": "$1.250.000",
        "fecha": "15 de diciembre", "telefono": "601 555 0100", "enlace": "https://pagos.example.co/x"}},
        ensure_ascii=False))  # fallback_channels/fallback_contacts: once pregonctl's JSON takes them
PY
}
email_jobs em "jose.perez@correo.example:José Pérez Núñez" "maria@correo.example:María Ñúñez" \
  "no.existe@correo.example:Nadie" "vieja@correo.example:Cuenta Vieja" "sofia@correo.example:Sofía Gutiérrez" \
  >"$em/campaign.jsonl"
echo "  submitting 5 e-mail jobs (2 to addresses that bounce)"
$B/broker/pregonctl submit --endpoint "ipc://$em/front" $(ekeys campaigns) --timeout 10 --json "$em/campaign.jsonl" 2>&1 | sed 's/^/    /'
estate() { redis-cli -s "$dir/redis.sock" hget "$($B/broker/pregonctl redis key job acme-cobranzas "deu-$1" "$1" --prefix pgmail --redis-socket "$dir/redis.sock" 2>/dev/null)" s; }
wait_for 20 bash -c "for j in em0 em1 em2 em3 em4; do s=\$(redis-cli -s '$dir/redis.sock' hget \"\$($B/broker/pregonctl redis key job acme-cobranzas deu-\$j \$j --prefix pgmail --redis-socket '$dir/redis.sock' 2>/dev/null)\" s); [ \"\$s\" = sent ] || [ \"\$s\" = failed ] || exit 1; done" || true
for j in em0 em1 em2 em3 em4; do echo "  $j: $(estate $j)"; done
echo "  what the SMTP sink received (each DKIM-verified against the key's public half):"
openssl rsa -in "$em/dkim.key" -pubout -outform DER 2>/dev/null | base64 -w0 >"$em/dkim.pub"
curl -s "$sink/messages" | /usr/bin/python3 -c '
import dkim, email, email.policy, json, sys
pub = open(sys.argv[1]).read().strip().encode()
for m in json.load(sys.stdin):
    raw = m["data"].encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    ok = dkim.verify(raw, dnsfunc=lambda n, timeout=5: b"v=DKIM1; k=rsa; p=" + pub)
    print("    to %-40s %s | DKIM %s | %s" % (str(msg["To"]), msg["Subject"], "pass" if ok else "FAIL",
          " + ".join(p.get_content_type() for p in msg.iter_parts())))' "$em/dkim.pub"
echo "  bounces (pregond suppresses a hard bounce and falls back to the job's SMS where it applies DeliveryReport.suppress_contact/fallback_eligible):"
$B/broker/pregonctl redis audit --prefix pgmail --redis-socket "$dir/redis.sock" 2>/dev/null |
  grep '"to":"FAILED"' | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l); print("    %s %s: %s" % (r["job"], r.get("contact", ""), r.get("detail", "")))' || true
$B/broker/pregonctl suppress list --tenant acme-cobranzas --prefix pgmail --redis-socket "$dir/redis.sock" 2>/dev/null | sed 's/^/    /' || true
url=$(curl -s "$sink/messages" | /usr/bin/python3 -c '
import email, email.policy, json, re, sys
for m in json.load(sys.stdin):
    if "jose.perez@correo.example" in m["rcpts"]:
        msg = email.message_from_string(m["data"], policy=email.policy.default)
        print(re.search(r"<(http[^>]+)>", str(msg["List-Unsubscribe"])).group(1))')
echo "  José clicks \"unsubscribe\" in his mail client (RFC 8058 one-click POST):"
echo "    curl -d List-Unsubscribe=One-Click ${url:0:60}…  -> HTTP $(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "$url")"
echo "    the same with a forged token -> HTTP $(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "${url%.*}.AAAAAAAAAAAAAAAAAAAAAA")"
wait_for 10 bash -c "$B/broker/pregonctl suppress list --tenant acme-cobranzas --prefix pgmail --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q jose.perez" || true
email_jobs after "jose.perez@correo.example:José Pérez Núñez" >"$em/after.jsonl"
echo "  the next job to jose.perez@correo.example:"
$B/broker/pregonctl submit --endpoint "ipc://$em/front" $(ekeys campaigns) --timeout 10 --json "$em/after.jsonl" 2>&1 | sed 's/^/    /'
for p in "${em_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${em_pids[@]}"; do wait "$p" 2>/dev/null || true; done
set -e -o pipefail
# ---- END email ----
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
$B/broker/pregonctl audit stats --dir "$dir/audit" | sed -n "1,12s/^/    /p"
# ---- END audit ----
# ---- BEGIN ops2 ----
echo "== the ops endpoints of pregon-audit and pregon-hooks (loopback /metrics, /healthz, /readyz)"
$B/broker/audit/pregon-audit drain --dir "$dir/audit" --key "$dir/audit.key" --redis-socket "$dir/redis.sock" \
  --ops-listen 127.0.0.1:0 --max-lag-s 300 2>"$dir/audit-ops.log" & audit_pid=$!
wait_for 10 grep -q "on port [0-9]" "$dir/audit-ops.log" || cat "$dir/audit-ops.log"
audit_ops=http://127.0.0.1:$(grep -m1 -o "on port [0-9]*" "$dir/audit-ops.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $audit_ops/readyz)\" = 200 ]" || true
echo "  pregon-audit $audit_ops/readyz: $(curl -s "$audit_ops/readyz") (a new drainer: the --once run above took every record)"
curl -s "$audit_ops/metrics" | awk '$1 ~ /^pregon_audit_(records_drained_total|segments_closed_total|pending_records|lag_seconds|redis_roundtrip_seconds_count)$/ { print "    " $1 " " $2 }'
echo "  pregon-hooks $hooks_ops/readyz: $(curl -s "$hooks_ops/readyz"); its public $hooks/metrics answers $(curl -s -o /dev/null -w '%{http_code}' "$hooks/metrics")"
curl -s "$hooks_ops/metrics" | awk '$1 ~ /^pregon_hooks_events_acked_total/ && $2 > 0 { print "    " $1 " " $2 }'
kill -TERM "$audit_pid"; wait "$audit_pid" 2>/dev/null || true
# ---- END ops2 ----
echo
echo "== stopping what the demo started"
