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
  2>"$wa/hooks.log" & wa_pids+=($!); pids+=($!)
wait_for 10 grep -q "serving: http" "$wa/hooks.log"
wa_hooks=$(grep -m1 "serving: http" "$wa/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
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
echo "   webhooks through pregon-hooks: $(curl -s "$wa_hooks/metrics" | awk '$1 ~ /^pregon_hooks_acks_total/ && $2 > 0 { printf "%s %s  ", $1, $2 }')"
echo "   suppressed after \"baja\" (WhatsApp only, every debtor of the tenant):"
$B/broker/pregonctl suppress list --redis-socket "$wa/redis.sock" | sed 's/^/     /'
for p in "${wa_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${wa_pids[@]}"; do wait "$p" 2>/dev/null || true; done
# ---- END whatsapp ----
echo
echo "== stopping what the demo started"
