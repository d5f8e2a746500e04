#!/usr/bin/env bash
# run.sh BUILD_DIR — the way back, broker side: what pregon-hooks forwards, pregond applies
# through the state machine. Real redis-server, pregond, pregon-sms and pregon-sandbox; this
# script plays pregon-hooks on pregond's hooks socket (hooks_client.py, real ZeroMQ, the real
# protobuf contract) so that every result pregond can answer is reached on purpose:
# delivery statuses (applied, twice: duplicate, undelivered with its code, "sent": ignored, an id
# no job has: unknown), replies (a conversation mark on the job's history record, audited;
# twice: duplicate; from a number nobody wrote to: unknown; from a tenant's other sender: not
# that tenant's), invalid events, a frame that is not a HooksToBroker (counted, unanswered), and
# the socket still serving after it. Free ports and private sockets: runs never collide.
# PG_REDIS_CLUSTER=1: the same on a cluster node (every call one slot).
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/inbound"
. "$src/tests/integration/it_lib.sh"
it_begin inbound

pg_redis_start "$dir" || exit 1
protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || { echo "protoc failed"; exit 1; }

"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "tcp://127.0.0.1:*"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
hooks=$(grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "hooks tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2)
[ -n "$hooks" ] || { echo "no hooks endpoint in: $(grep serving "$dir/pregond.log")"; exit 1; }
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token \
  "$build/channels/sms/pregon-sms" --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
  --heartbeat-ms 200 --policy-dir "$src/tests/integration/e2e/policies" 2>"$dir/sms.log" &
pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { echo "worker never joined"; exit 1; }

# four jobs of tenant acme (debtors d0..d3), and one of tenant other to d3's number from its own
# sender: a reply to acme's number is not other's
/usr/bin/python3 - "$dir/jobs.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    def job(tenant, i, d, contact, sender=""):
        f.write(json.dumps({"job_id": f"j{i}", "tenant": tenant, "campaign": "in", "debtor_id": d,
            "debt_id": "L1", "channel": "sms", "contact": contact, "template_id": "aviso_mora_sms",
            "jurisdiction": "RC", "time_zone": "UTC", "sender": sender, "variables": {
            "acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100",
            "telefono": "800", "enlace": "x.co"}}) + "\n")
    for i in range(4):
        job("acme", i, f"d{i}", f"+52155500000{i}")
    job("other", 9, "o3", "+521555000003", "+15005550099")
PY
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/jobs.jsonl" >"$dir/submit.out" 2>&1
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/submit.out")" = 5 ] && ok || ko "submit: $(cat "$dir/submit.out")"
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
pid() { rcli hget "$(rkey job "$1" "$2" "$3")" pid; }
all_sent() { for i in 0 1 2 3; do [ "$(state acme d$i j$i)" = sent ] || return 1; done; [ "$(state other o3 j9)" = sent ]; }
wait_for 20 all_sent || ko "jobs not all SENT: $(for i in 0 1 2 3; do state acme d$i j$i; done)"
p0=$(pid acme d0 j0) p1=$(pid acme d1 j1) p2=$(pid acme d2 j2)
# the maps are written with the reports (BRK_REPORTS_DELAY_MS): poll until d3's contact map is
ct3=$(rkey contact sms +521555000003 2>/dev/null)
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hlen '$ct3')\" = 2 ]" || ko "contact map of +521555000003 not written ($ct3)"

cat >"$dir/events.jsonl" <<EOF2
{"kind": "DELIVERY_STATUS", "channel": "SMS", "provider": "twilio-sms", "provider_id": "$p0", "status": "delivered", "event_id": "$p0:delivered"}
{"kind": "DELIVERY_STATUS", "channel": "SMS", "provider": "twilio-sms", "provider_id": "$p0", "status": "delivered", "event_id": "$p0:delivered"}
{"kind": "DELIVERY_STATUS", "channel": "SMS", "provider": "twilio-sms", "provider_id": "$p1", "status": "undelivered", "error_code": "30006", "event_id": "$p1:undelivered"}
{"kind": "DELIVERY_STATUS", "channel": "SMS", "provider": "twilio-sms", "provider_id": "$p2", "status": "sent", "event_id": "$p2:sent"}
{"kind": "DELIVERY_STATUS", "channel": "SMS", "provider": "twilio-sms", "provider_id": "SMnobody", "status": "delivered", "event_id": "SMnobody:delivered"}
{"kind": "REPLY", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000002", "sender": "+15005550006", "text": "ya pague", "event_id": "SMreply2"}
{"kind": "REPLY", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000002", "sender": "+15005550006", "text": "ya pague", "event_id": "SMreply2"}
{"kind": "REPLY", "channel": "SMS", "provider": "twilio-sms", "contact": "+529999999999", "sender": "+15005550006", "text": "hola", "event_id": "SMreplyX"}
{"kind": "REPLY", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000003", "sender": "+15005550006", "text": "ok", "event_id": "SMreply3"}
{"kind": "REPLY", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000003", "sender": "+15005550099", "text": "ok", "event_id": "SMreply3o"}
{"kind": "DELIVERY_STATUS", "channel": "SMS", "provider_id": "$p2", "status": "delivered"}
{"kind": "REPLY", "channel": "CHANNEL_UNSPECIFIED", "contact": "+521555000002", "event_id": "x"}
{"raw": "ffffffff0a"}
{"heartbeat": true}
EOF2
# a frame past the hooks socket's 2 MiB: libzmq drops that peer; the DEALER reconnects and is served
/usr/bin/python3 -c 'import json; print(json.dumps({"raw": "0a" * (3 << 20)})); print(json.dumps({"heartbeat": True}))' >>"$dir/events.jsonl"
/usr/bin/python3 "$here/hooks_client.py" "$hooks" "$dir" <"$dir/events.jsonl" >"$dir/acks.jsonl" 2>"$dir/client.log" \
  || ko "hooks client failed: $(cat "$dir/client.log")"
res() { sed -n "${1}p" "$dir/acks.jsonl" | /usr/bin/python3 -c 'import json,sys; a=json.load(sys.stdin); print(a.get("result") or ("none" if a.get("none") else "heartbeat"))'; }
expect=(applied duplicate applied ignored unknown applied duplicate unknown applied applied invalid invalid none heartbeat none heartbeat)
for i in "${!expect[@]}"; do
  got=$(res $((i + 1)))
  [ "$got" = "${expect[$i]}" ] && ok || ko "event $((i + 1)): ${expect[$i]} expected, got $got ($(sed -n "$((i + 1))p" "$dir/acks.jsonl"))"
done
# the reply to acme's number reached acme only (other wrote from +15005550099); the reply to
# other's number reached other and acme too: acme's job named no sender (the worker's default
# From), so pregond cannot tell which number it went from and errs on the debtor's side
sed -n 9p "$dir/acks.jsonl" | pipe_has 'REPLY for 1 tenant(s)' && ok || ko "reply to acme's sender: $(sed -n 9p "$dir/acks.jsonl")"
sed -n 10p "$dir/acks.jsonl" | pipe_has 'REPLY for 2 tenant(s)' && ok || ko "reply to other's sender: $(sed -n 10p "$dir/acks.jsonl")"
[ "$(rcli hget "$(rkey history acme d3)" c | cut -d, -f3)" = 4 ] && ok || ko "d3's record not marked a conversation"
# what those did to the jobs, the histories and the audit
[ "$(state acme d0 j0)" = delivered ] && ok || ko "j0 not DELIVERED: $(state acme d0 j0)"
[ "$(state acme d1 j1)" = failed ] && ok || ko "j1 not FAILED: $(state acme d1 j1)"
[ "$(rcli hget "$(rkey job acme d1 j1)" pcode)" = 30006 ] && ok || ko "j1's provider code not kept"
[ "$(state acme d2 j2)" = sent ] && ok || ko "j2 changed on a 'sent' status: $(state acme d2 j2)"
flags() { rcli hget "$(rkey history acme "$1")" c | cut -d, -f3; }
[ "$(flags d0)" = 2 ] && ok || ko "d0's record not marked delivered: $(rcli hget "$(rkey history acme d0)" c)"
[ "$(flags d1)" = 1 ] && ok || ko "d1's record not marked failed: $(rcli hget "$(rkey history acme d1)" c)"
[ "$(flags d2)" = 4 ] && ok || ko "d2's record not marked a conversation: $(rcli hget "$(rkey history acme d2)" c)"
[ "$(rcli hget "$(rkey history other o3)" c | cut -d, -f3)" = 4 ] && ok || ko "other's debtor: its own sender's reply not a conversation"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep -q 'REPLY' "$dir/audit.out" && grep -q 'ya pague' "$dir/audit.out" && ok || ko "no REPLY audit record: $(tail -5 "$dir/audit.out")"
[ "$(grep -c 'ya pague' "$dir/audit.out")" = 1 ] && ok || ko "the REPLY delivered twice audited twice"
grep 'j1' "$dir/audit.out" | pipe_has 'undelivered' && ok || ko "j1's FAILED record lacks reason undelivered: $(grep j1 "$dir/audit.out")"

# opt-out and opt-in: a STOP from d3's number to acme's sender suppresses it for every debtor of
# acme (not for tenant other, which wrote from another number); a job for another debtor of acme
# to it is REJECTED, other's job ACCEPTED; START lifts acme's opt-out, never an operator's
sup() { "$ctl" suppress "$@" --redis-socket "$dir/redis.sock"; }
sup add --tenant acme --contact +521555000000 --channel sms --rule operator --who ops:test --why "asked by phone" >/dev/null
one() { echo "$1" | /usr/bin/python3 "$here/hooks_client.py" "$hooks" "$dir" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("result"))'; }
stop3='{"kind": "OPT_OUT", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000003", "sender": "+15005550006", "text": "BAJA", "event_id": "SMstop3"}'
[ "$(one "$stop3")" = applied ] && ok || ko "STOP not applied"
[ "$(one "$stop3")" = duplicate ] && ok || ko "STOP delivered twice not a duplicate"
sup list --tenant acme >"$dir/sup.out"
grep -q '+521555000003.*sms.*opt-out' "$dir/sup.out" && ok || ko "STOP did not suppress: $(cat "$dir/sup.out")"
[ "$(grep -c opt-out "$dir/sup.out")" = 1 ] && ok || ko "suppressions: $(cat "$dir/sup.out")"
sup list --tenant other | pipe_has 521555000003 && ko "tenant other suppressed by acme's STOP" || ok
/usr/bin/python3 - "$dir/after.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for tenant, i, d, contact in [("acme", 20, "d7", "+521555000003"), ("other", 21, "o7", "+521555000003"),
                                   ("acme", 22, "d8", "+521555000000")]:
        f.write(json.dumps({"job_id": f"j{i}", "tenant": tenant, "campaign": "in", "debtor_id": d,
            "channel": "sms", "contact": contact, "template_id": "aviso_mora_sms",
            "jurisdiction": "RC", "time_zone": "UTC", "variables": {"acreedor": "Acme",
            "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800",
            "enlace": "x.co"}}) + "\n")
PY
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/after.jsonl" >"$dir/after.out" 2>&1
grep "\"job_id\":\"j20\"" "$dir/after.out" | pipe_has '"verdict":"REJECTED".*"rule":"suppressed.contact:opt-out"' && ok || ko "acme's other debtor not suppressed: $(sed -n 1p "$dir/after.out")"
grep "\"job_id\":\"j21\"" "$dir/after.out" | pipe_has '"verdict":"ACCEPTED"' && ok || ko "other's job not accepted: $(sed -n 2p "$dir/after.out")"
grep "\"job_id\":\"j22\"" "$dir/after.out" | pipe_has '"rule":"suppressed.contact:operator"' && ok || ko "operator's suppression: $(sed -n 3p "$dir/after.out")"
start3='{"kind": "OPT_IN", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000003", "sender": "+15005550006", "text": "START", "event_id": "SMstart3"}'
start0='{"kind": "OPT_IN", "channel": "SMS", "provider": "twilio-sms", "contact": "+521555000000", "sender": "+15005550006", "text": "START", "event_id": "SMstart0"}'
[ "$(one "$start3")" = applied ] && ok || ko "START not applied"
[ "$(one "$start0")" = applied ] && ok || ko "START to an operator-suppressed number not recorded"
sup list --tenant acme >"$dir/sup2.out"
grep -q 521555000003 "$dir/sup2.out" && ko "START did not lift the opt-out: $(cat "$dir/sup2.out")" || ok
grep -q '521555000000.*operator' "$dir/sup2.out" && ok || ko "START lifted an operator's suppression: $(cat "$dir/sup2.out")"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit2.out" 2>&1
grep '"to":"OPT_OUT"' "$dir/audit2.out" | pipe_has BAJA && ok || ko "no OPT_OUT audit record"
[ "$(grep -c '"to":"SUPPRESSED"' "$dir/audit2.out")" = 2 ] && ok || ko "suppression changes audited: $(grep -c '"to":"SUPPRESSED"' "$dir/audit2.out"), want 2 (operator, STOP)"
kill -0 "${pids[1]}" 2>/dev/null && ok || ko "pregond died"
# counted: the stop line of pregond
kill -TERM "${pids[1]}"; wait "${pids[1]}"
line=$(grep "stopping:" "$dir/pregond.log")
echo "$line" | pipe_has "inbound events: 8 applied, 3 duplicate, 1 ignored, 2 unknown, 0 refused, 2 invalid, 0 error, 1 bad frames" \
  && ok || ko "inbound counters: $line"

echo "inbound: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
