#!/usr/bin/env bash
# run.sh BUILD_DIR — the way back, end to end, every part real: redis-server, pregond,
# pregon-sms, pregon-sandbox (Twilio Messaging: signed status callbacks, each delivered twice,
# and scripted STOP replies) and pregon-hooks in between. A campaign goes out; the callbacks make
# every job DELIVERED, applied once although delivered twice; three numbers answer STOP (in three
# spellings) and are suppressed for every debtor of the tenant, not for another tenant; a job
# queued before its number's STOP is never sent (REJECTED at dispatch); a forged callback is
# refused (403), counted, and changes nothing; pregon-hooks' /metrics passes promtool.
# Free ports and private sockets: runs never collide. PG_REDIS_CLUSTER=1: on a cluster node.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin wayback
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token FROM=+15005550006

pg_redis_start "$dir" || exit 1
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" --ops-listen 127.0.0.1:0 \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
# its /metrics is on the loopback ops port (the public listener answers 404)
hops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
[ -n "$hooks" ] || { echo "no hooks URL in: $(cat "$dir/hooks.log")"; exit 1; }
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --callbacks --callback-delay-ms 50 --duplicate-callbacks --inbound-url "$hooks/twilio/sms/inbound" \
  2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
curl -sf "$sb/_sandbox/twilio-sms/replies" -d '[{"number": "+5215560000001", "body": "STOP"},
  {"number": "+5215560000002", "body": "Baja"}, {"number": "+5215560000003", "body": "¡alto!"}]' >/dev/null \
  || ko "reply script refused"
start_sms() {
  TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" \
    --broker "ipc://$dir/back" --base-url "$sb" --from $FROM --heartbeat-ms 200 \
    --status-callback "$hooks/twilio/sms/status" --policy-dir "$src/tests/integration/e2e/policies" \
    2>>"$dir/sms.log" &
  pids+=($!); sms_pid=$!
}
start_sms
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }

# jobs FILE TENANT PREFIX DEBTOR:CONTACT... — one job each
jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, tenant, prefix = sys.argv[1:4]
with open(path, "w") as f:
    for i, pair in enumerate(sys.argv[4:]):
        d, c = pair.split(":")
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": tenant, "campaign": "wb",
            "debtor_id": d, "channel": "sms", "contact": c, "template_id": "aviso_mora_sms",
            "jurisdiction": "RC", "time_zone": "UTC", "variables": {"acreedor": "Acme",
            "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800",
            "enlace": "x.co"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
verdict() { grep "\"job_id\":\"$2\"" "$1" | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["verdict"], v["rule"] or "-")'; }

# 1. a campaign: 10 debtors, 10 numbers; every job DELIVERED through the callbacks
args=(); for i in $(seq 0 9); do args+=("d$i:+521556000000$i"); done
jobs "$dir/a.jsonl" acme a "${args[@]}"
submit "$dir/a.jsonl" >"$dir/a.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/a.out")" = 10 ] && ok || ko "campaign: $(cat "$dir/a.out")"
delivered() { for i in $(seq 0 9); do [ "$(state acme d$i a$i)" = delivered ] || return 1; done; }
wait_for 30 delivered || ko "not all DELIVERED: $(for i in $(seq 0 9); do echo -n "$(state acme d$i a$i) "; done)"
# 2. each callback came twice (sandbox --duplicate-callbacks) and was applied once: 10 of the
#    duplicates are "delivered" ones (pregond: duplicate), 10 "sent" ones (ignored either time)
wait_for 10 sh -c "curl -s '$sb/_sandbox/stats' | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s[\"modules\"][\"twilio-sms\"][\"duplicates\"] >= 20 else 1)'" \
  || ko "sandbox sent fewer duplicates than expected: $(curl -s "$sb/_sandbox/stats")"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
[ "$(grep -c '"to":"DELIVERED"' "$dir/audit.out")" = 10 ] && ok || ko "DELIVERED records: $(grep -c '"to":"DELIVERED"' "$dir/audit.out"), want 10"
metrics() { curl -s "$hops/metrics"; }
metric() { metrics | awk -v m="$1" '$1 == m {print $2}'; }
wait_for 10 sh -c "[ \"\$(curl -s '$hops/metrics' | awk '\$1 == \"pregon_hooks_acks_total{result=\\\"duplicate\\\"}\" {print \$2}')\" -ge 10 ] 2>/dev/null" \
  && ok || ko "duplicate acks: $(metrics | grep acks_total)"
[ "$(metric 'pregon_hooks_acks_total{result="ignored"}')" -ge 10 ] 2>/dev/null && ok \
  || ko "the \"sent\" statuses not acked as ignored: $(metrics | grep acks_total)"
# 3. three numbers answered STOP, Baja, ¡alto!: suppressed for every debtor of acme
sups() { "$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" 2>/dev/null | grep -c 'opt-out'; }
wait_for 15 sh -c "[ \"\$($ctl suppress list --tenant acme --redis-socket '$dir/redis.sock' 2>/dev/null | grep -c opt-out)\" = 3 ]" \
  && ok || ko "opt-outs: $(sups) of 3: $("$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock")"
jobs "$dir/b.jsonl" acme b x1:+5215560000001 x2:+5215560000002 x9:+5215560000009
jobs "$dir/c.jsonl" bank c y1:+5215560000001
submit "$dir/b.jsonl" >"$dir/b.out"; submit "$dir/c.jsonl" >"$dir/c.out"
[ "$(verdict "$dir/b.out" b0)" = "REJECTED suppressed.contact:opt-out" ] && ok || ko "another debtor to a STOP number: $(verdict "$dir/b.out" b0)"
[ "$(verdict "$dir/b.out" b1)" = "REJECTED suppressed.contact:opt-out" ] && ok || ko "Baja not honoured: $(verdict "$dir/b.out" b1)"
[ "$(verdict "$dir/b.out" b2)" = "ACCEPTED -" ] && ok || ko "a number that did not opt out: $(verdict "$dir/b.out" b2)"
[ "$(verdict "$dir/c.out" c0)" = "ACCEPTED -" ] && ok || ko "another tenant suppressed by acme's STOP: $(verdict "$dir/c.out" c0)"
# 4. a job queued before its number's STOP is never sent: no worker while it waits
kill -TERM "$sms_pid"; wait "$sms_pid"
jobs "$dir/q.jsonl" acme q q4:+5215560000004
submit "$dir/q.jsonl" >"$dir/q.out"
[ "$(verdict "$dir/q.out" q0)" = "ACCEPTED -" ] && ok || ko "queued job: $(verdict "$dir/q.out" q0)"
curl -sf "$sb/_sandbox/twilio-sms/inbound" -d "{\"from\": \"+5215560000004\", \"to\": \"$FROM\", \"body\": \"STOP\"}" >/dev/null || ko "inbound STOP not sent"
wait_for 15 sh -c "$ctl suppress list --tenant acme --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q 5215560000004" \
  || ko "the STOP of +5215560000004 not applied"
start_sms
wait_for 15 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme q4 q0 --redis-socket '$dir/redis.sock')\" s)\" = rejected ]" \
  && ok || ko "queued job of a suppressed number: $(state acme q4 q0)"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit2.out" 2>&1
grep '"job":"q0"' "$dir/audit2.out" | grep '"to":"REJECTED"' | pipe_has 'suppressed.contact:opt-out' && ok || ko "q0's REJECTED record: $(grep '"job":"q0"' "$dir/audit2.out")"
sent_to() { curl -s "$sb/_sandbox/requests?limit=100000" | /usr/bin/python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get('to') == sys.argv[1]))" "$1"; }
[ "$(sent_to +5215560000004)" = 1 ] && ok || ko "messages to +5215560000004: $(sent_to +5215560000004), want 1 (the campaign's)"
[ "$(sent_to +5215560000001)" = 2 ] && ok || ko "messages to +5215560000001: $(sent_to +5215560000001), want 2 (acme's campaign, bank's job)"
# 5. a forged callback (a wrong token) is refused, counted, and changes nothing
pid0=$(rcli hget "$(rkey job acme d0 a0)" pid)
forged_before=$(metric 'pregon_hooks_refused_total{provider="twilio-sms",reason="forged"}')
curl -sf "$sb/_sandbox/twilio-sms/forge" -d "{\"url\": \"$hooks/twilio/sms/status\", \"kind\": \"status\", \"message_sid\": \"$pid0\", \"status\": \"undelivered\"}" >/dev/null \
  || ko "forge route"
wait_for 10 sh -c "[ \"\$(curl -s '$hops/metrics' | awk '\$1 == \"pregon_hooks_refused_total{provider=\\\"twilio-sms\\\",reason=\\\"forged\\\"}\" {print \$2}')\" = $(( ${forged_before:-0} + 1 )) ]" \
  && ok || ko "forged callback not counted: $(metrics | grep refused_total)"
[ "$(state acme d0 a0)" = delivered ] && ok || ko "a forged callback changed a0: $(state acme d0 a0)"
# 6. the metrics are valid Prometheus text
metrics >"$dir/metrics.txt"
promtool check metrics <"$dir/metrics.txt" >"$dir/promtool.out" 2>&1 && ok || ko "promtool: $(cat "$dir/promtool.out")"
kill -0 "$pregond_pid" && ok || ko "pregond died"

echo "way back: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
