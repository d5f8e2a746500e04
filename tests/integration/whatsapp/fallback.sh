#!/usr/bin/env bash
# fallback.sh BUILD_DIR — fallback WhatsApp -> SMS end to end through the real workers: redis-server,
# pregond (sms and whatsapp), pregon-whatsapp, pregon-sms, pregon-sandbox (WhatsApp Cloud and
# Twilio, signed webhooks both) and pregon-hooks. Checks:
#   1. 131026 answered by the Cloud API: the WhatsApp job FAILED fallback-eligible, its SMS
#      fallback (ID~sms, the same number) sent by pregon-sms and DELIVERED by Twilio's callbacks;
#      the audit links the two;
#   2. 131026 in a failed status webhook (after the message was SENT): the same, through
#      pregon-hooks' fallback_eligible;
#   3. fallback_contacts: the SMS goes to the number given for SMS, not the WhatsApp one;
#   4. a delivered job and a 131049 failure (not fallback-eligible): no fallback;
#   5. CO quiet hours: a WhatsApp job sent at 18:50 Bogotá whose failed webhook comes at 19:30
#      (pregond restarted with its clock offset in between): the SMS fallback is DEFERRED to
#      07:00 and never sent.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin wafallback
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
PHONE=1065550001 SECRET=wa-test-secret
export AC=AC00000000000000000000000000000000 TWTOKEN=sandbox-token
mkdir -p "$dir/policies"
cp "$src/tests/integration/e2e/policies/RC.yaml" "$src/deploy/policies/CO.yaml" "$dir/policies/"

pg_redis_start "$dir" || exit 1
# start_pregond OFFSET_S: pregond with its clock shifted by OFFSET_S
start_pregond() {
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $dir/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
channels: sms,whatsapp
test: {clock_offset_s: $1}
YAML
  local n; n=$(grep -c "pregond: serving" "$dir/pregond.log" 2>/dev/null); n=${n:-0}
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pids+=($!); pregond_pid=$!
  wait_for 10 sh -c "[ \"\$(grep -c 'pregond: serving' '$dir/pregond.log')\" -gt $n ]" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
}
start_pregond 0
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TWTOKEN WHATSAPP_APP_SECRET=$SECRET \
  "$build/channels/hooks/pregon-hooks" --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" \
  --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --callbacks --callback-delay-ms 50 \
  --wa-app-secret $SECRET --wa-phone-number-id $PHONE --wa-webhook-url "$hooks/whatsapp/webhook" \
  --wa-callback-delay-ms 50 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
# no --policy-dir: the re-check would read this machine's clock, not pregond's shifted one (5.)
WHATSAPP_TOKEN=sandbox-wa-token "$build/channels/whatsapp/pregon-whatsapp" --worker-id wa-fb \
  --broker "ipc://$dir/back" --base-url "$sb" --phone-number-id $PHONE --heartbeat-ms 200 \
  2>>"$dir/wa.log" &
pids+=($!)
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TWTOKEN "$build/channels/sms/pregon-sms" --worker-id sms-fb \
  --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 --heartbeat-ms 200 \
  --status-callback "$hooks/twilio/sms/status" 2>>"$dir/sms.log" &
pids+=($!)
wait_for 10 sh -c "grep -q 'joined on whatsapp' '$dir/pregond.log' && grep -q 'joined on sms' '$dir/pregond.log'" \
  || { echo "workers never joined"; cat "$dir/wa.log" "$dir/sms.log"; exit 1; }

# jobs FILE JURISDICTION ZONE ID:DEBTOR:CONTACT[:SMS-CONTACT]... — WhatsApp jobs falling back to SMS
jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, jur, zone = sys.argv[1:4]
with open(path, "w") as f:
    for spec in sys.argv[4:]:
        p = spec.split(":")
        j = {"job_id": p[0], "tenant": "acme", "campaign": "fb", "debtor_id": p[1],
             "channel": "whatsapp", "contact": p[2], "template_id": "recordatorio_pago",
             "fallback_channels": ["sms"], "jurisdiction": jur, "time_zone": zone,
             "variables": {"nombre": "Ana", "monto": "$100", "producto": "tarjeta",
                           "fecha": "5 de mayo", "enlace": "x.co", "referencia": "r1"}}
        if len(p) > 3:
            j["fallback_contacts"] = {"sms": p[3]}
        f.write(json.dumps(j) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
requests() { curl -s "$sb/_sandbox/requests?provider=$1&limit=100000"; }
to_count() { requests "$1" | /usr/bin/python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin) if r['to'] == sys.argv[1] and r['status'] < 300))" "$2"; }
all_state() { local s=$1; shift; for j in "$@"; do IFS=: read -r t d id <<<"$j"; [ "$(state "$t" "$d" "$id")" = "$s" ] || return 1; done; }
states() { for j in "$@"; do IFS=: read -r t d id <<<"$j"; echo -n "$id=$(state "$t" "$d" "$id") "; done; }
audit() { "$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null; }
script() { curl -sf "$sb/_sandbox/script" -d "{\"provider\": \"whatsapp\", \"to\": \"$1\", \"error_code\": $2}" >/dev/null || ko "script $1 $2"; }

# 1-4.
script +5215580000001 131026
curl -sf "$sb/_sandbox/whatsapp/outcomes" -d '{"number": "+5215580000002", "error_code": 131026}' >/dev/null || ko "outcome script"
script +5215580000003 131026
script +5215580000005 131049
jobs "$dir/a.jsonl" RC UTC f1:d1:+5215580000001 f2:d2:+5215580000002 f3:d3:+5215580000003:+5215580000099 \
  f4:d4:+5215580000004 f5:d5:+5215580000005
submit "$dir/a.jsonl" >"$dir/a.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/a.out")" = 5 ] && ok || ko "submit: $(cat "$dir/a.out")"
wait_for 30 all_state failed acme:d1:f1 acme:d2:f2 acme:d3:f3 acme:d5:f5 && ok || ko "WhatsApp failures: $(states acme:d1:f1 acme:d2:f2 acme:d3:f3 acme:d5:f5)"
wait_for 30 all_state delivered acme:d1:f1~sms acme:d2:f2~sms acme:d3:f3~sms acme:d4:f4 \
  && ok || ko "fallbacks not delivered: $(states acme:d1:f1~sms acme:d2:f2~sms acme:d3:f3~sms acme:d4:f4)"
[ "$(to_count twilio-sms +5215580000001)" = 1 ] && ok || ko "SMS to +5215580000001 (sync 131026): $(to_count twilio-sms +5215580000001)"
[ "$(to_count twilio-sms +5215580000002)" = 1 ] && ok || ko "SMS to +5215580000002 (webhook 131026): $(to_count twilio-sms +5215580000002)"
[ "$(to_count twilio-sms +5215580000099)" = 1 ] && [ "$(to_count twilio-sms +5215580000003)" = 0 ] && ok \
  || ko "fallback_contacts not used: $(to_count twilio-sms +5215580000099) to the SMS number, $(to_count twilio-sms +5215580000003) to the WhatsApp one"
requests twilio-sms | /usr/bin/python3 -c '
import json, sys
b = [r["body"] for r in json.load(sys.stdin) if r["to"] == "+5215580000001"][0]
assert b.startswith("Hola Ana, le recordamos que su pago de $100 de tarjeta vence el 5 de mayo"), b' \
  && ok || ko "the SMS fallback does not say the template's text"
audit >"$dir/audit-a.out"
grep '"job":"f1"' "$dir/audit-a.out" | pipe_has '"to":"FALLBACK"' && ok || ko "no FALLBACK record on f1: $(grep '"job":"f1"' "$dir/audit-a.out")"
grep '"job":"f1~sms"' "$dir/audit-a.out" | pipe_has 'fallback-of:f1' && ok || ko "f1~sms not linked: $(grep '"job":"f1~sms"' "$dir/audit-a.out")"
sleep 1 # nothing to poll for: fallbacks that must not appear
[ -z "$(state acme d4 f4~sms)" ] && [ -z "$(state acme d5 f5~sms)" ] && ok \
  || ko "a fallback without a fallback-eligible failure: f4~sms=$(state acme d4 f4~sms) f5~sms=$(state acme d5 f5~sms)"
[ "$(to_count twilio-sms +5215580000005)" = 0 ] && ok || ko "131049 fell back to SMS"

# 5. CO quiet hours. Wednesday 2027-02-10 18:50 Bogotá (23:50 UTC): the WhatsApp job goes out;
#    its failed webhook (6 s later) finds pregond at 19:30 (00:30 UTC): the SMS waits for 07:00
t1850=$(date -d '2027-02-10T23:50:00Z' +%s)
t1930=$(date -d '2027-02-11T00:30:00Z' +%s)
curl -sf "$sb/_sandbox/whatsapp/config" -d '{"callback_delay_ms": 3000}' >/dev/null || ko "config"
curl -sf "$sb/_sandbox/whatsapp/outcomes" -d '{"number": "+5715580000007", "error_code": 131026}' >/dev/null || ko "outcome script"
kill -TERM "$pregond_pid"; wait "$pregond_pid"
start_pregond $((t1850 - $(date +%s)))
jobs "$dir/g.jsonl" CO America/Bogota g1:dg:+5715580000007
submit "$dir/g.jsonl" >"$dir/g.out"
grep -q '"verdict":"ACCEPTED"' "$dir/g.out" && ok || ko "18:50 Bogotá: $(cat "$dir/g.out")"
wait_for 5 all_state sent acme:dg:g1 && ok || ko "g1 not SENT at 18:50: $(states acme:dg:g1)"
kill -TERM "$pregond_pid"; wait "$pregond_pid"
start_pregond $((t1930 - $(date +%s)))
wait_for 15 all_state failed acme:dg:g1 && ok || ko "g1's failed webhook at 19:30: $(states acme:dg:g1)"
wait_for 5 all_state deferred acme:dg:g1~sms && ok || ko "g1~sms: $(states acme:dg:g1~sms)"
audit | grep '"job":"g1~sms"' | grep '"to":"DEFERRED"' | pipe_has 'co.hours' && ok \
  || ko "g1~sms not deferred by co.hours: $(audit | grep '"job":"g1~sms"')"
until=$(audit | grep '"job":"g1~sms"' | grep '"to":"DEFERRED"' | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["until"])')
[ "$until" = "$(date -d '2027-02-11T12:00:00Z' +%s)" ] && ok || ko "g1~sms deferred until $until, want 07:00 Bogotá (12:00 UTC)"
[ "$(to_count twilio-sms +5715580000007)" = 0 ] && ok || ko "an SMS went out at 19:30 Bogotá"
kill -0 "$pregond_pid" && ok || ko "pregond died"

echo "whatsapp fallback: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
