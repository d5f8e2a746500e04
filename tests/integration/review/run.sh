#!/usr/bin/env bash
# run.sh BUILD_DIR — the way back attacked, every part real: redis-server, pregond and
# pregon-hooks (built with sanitizers in CI). hostile_http.py throws forged, unsigned, malformed,
# oversized, chunked, slow and numerous requests and path tricks at pregon-hooks;
# hostile_dealer.py plays a hostile peer on pregond's hooks socket (malformed and multi-frame
# messages, huge and binary fields, kinds and channels out of range, seq 0, an OPT_OUT naming a
# tenant and a debtor with no job of theirs, a flood of unknown ids); pregond stopped must make
# pregon-hooks answer 503, never 2xx. Neither process may crash or report a sanitizer error.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/review"
. "$src/tests/integration/it_lib.sh"
it_begin review
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token

pg_redis_start "$dir" || exit 1
protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || { echo "protoc failed"; exit 1; }
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
start_pregond() {
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pids+=($!); pregond_pid=$!
}
start_pregond
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" --ops-listen 127.0.0.1:0 \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 --ack-timeout-ms 1500 \
  --max-body 4096 2>"$dir/hooks.log" &
pids+=($!); hooks_pid=$!
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
# its /metrics is on the loopback ops port (the public listener answers 404)
hops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"

# 1. pregon-hooks under attack
/usr/bin/python3 "$here/hostile_http.py" "$hooks" "$TOKEN" >"$dir/http.out" 2>&1
while read -r line; do
  case $line in ok\ *) ok ;; *) ko "http: $line" ;; esac
done <"$dir/http.out"
grep -q '^ok done: ' "$dir/http.out" || ko "hostile_http.py stopped early: $(tail -3 "$dir/http.out")"
refused=$(curl -s "$hops/metrics" | awk '/^pregon_hooks_refused_total/ {s += $2} END {print s + 0}')
[ "$refused" -ge 6 ] && ok || ko "refusals not counted: $refused"

# 2. a hostile peer on the hooks socket
dealer() { /usr/bin/python3 "$here/hostile_dealer.py" "ipc://$dir/hooks" "$dir"; }
big=$(printf 'e%.0s' $(seq 1 1000)); big=$big$big$big$big$big$big$big$big$big$big
huge=$big$big$big$big$big$big$big$big$big$big # 100 KB
# a job of acme's debtor d1 as the store has it (only its state field matters here)
rcli hset "$(rkey job acme d1 j1)" s sent >/dev/null
cat >"$dir/dealer.jsonl" <<EOF2
{"event": {"kind": "OPT_OUT", "channel": "SMS", "tenant": "acme", "debtor_id": "d0", "contact": "+15550000077", "text": "STOP", "event_id": "SMforged1"}}
{"event": {"kind": "OPT_OUT", "channel": "SMS", "tenant": "acme", "debtor_id": "d0", "job_id": "j404", "text": "STOP", "event_id": "SMforged2"}}
{"event": {"kind": "OPT_OUT", "channel": "SMS", "tenant": "acme", "debtor_id": "d1", "job_id": "j1", "contact": "+15550000078", "text": "STOP", "event_id": "SMnamed"}}
{"event": {"kind": "OPT_OUT", "channel": "SMS", "contact": "+15550000079", "text": "STOP", "event_id": "SMnobody"}}
{"event": {"kind": "REPLY", "channel": "SMS", "contact": "+1555", "event_id": "$big"}}
{"event": {"kind": "REPLY", "channel": "SMS", "contact": "+1555\u0000tail", "sender": "a\u0000b", "event_id": "SMnul"}}
{"event": {"kind": "DELIVERY_STATUS", "channel": "SMS", "provider_id": "a:{b}%c{s0}", "status": "delivered", "event_id": "SMtag"}}
{"event": {"kind": "DELIVERY_STATUS", "channel": "SMS", "provider_id": "$big$big", "status": "delivered", "event_id": "SMbig"}}
{"event": {"kind": 77, "channel": "SMS", "contact": "+15550000001", "event_id": "SMk"}}
{"event": {"kind": "REPLY", "channel": 99, "contact": "+15550000001", "event_id": "SMc"}}
{"event": {"kind": "REPLY", "channel": "SMS", "contact": "+15550000001", "event_id": "SMs0", "seq": 0}}
{"frames": ["0a00", "0a00", "0a00"]}
{"frames": ["ffffffffffff"]}
{"event": {"kind": "DELIVERY_STATUS", "channel": "SMS", "provider_id": "SMok", "status": "delivered", "event_id": "SMok:delivered", "seq": 7}}
{"event": {"kind": "DELIVERY_STATUS", "channel": "SMS", "provider_id": "SMok", "status": "delivered", "event_id": "SMok:delivered", "seq": 8}}
{"event": {"kind": "DELIVERY_STATUS", "channel": "SMS", "provider_id": "SMhuge", "status": "delivered", "event_id": "SMhuge:delivered", "text": "$huge"}}
EOF2
dealer <"$dir/dealer.jsonl" >"$dir/dealer.out" 2>"$dir/dealer.err" || ko "dealer failed: $(cat "$dir/dealer.err")"
res() { sed -n "${1}p" "$dir/dealer.out" | /usr/bin/python3 -c 'import json,sys; a=json.load(sys.stdin); print(a.get("result") or "none")'; }
expect=(unknown unknown applied unknown invalid unknown unknown invalid invalid invalid none none none unknown unknown unknown)
for i in "${!expect[@]}"; do
  got=$(res $((i + 1)))
  [ "$got" = "${expect[$i]}" ] && ok || ko "dealer $((i + 1)): ${expect[$i]} expected, got $got ($(sed -n "$((i + 1))p" "$dir/dealer.out"))"
done
# an OPT_OUT naming a tenant and a debtor suppresses only with a job of theirs the store has
sup=$("$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" 2>&1)
echo "$sup" | pipe_has '+15550000077' && ko "a tenant+debtor named without a job suppressed: $sup" || ok
echo "$sup" | pipe_has '+15550000078' && ok || ko "a tenant+debtor named with its job not suppressed: $sup"
# an early event is kept (a status may overtake its SENT report), unless larger than 64 KB
[ "$(rcli exists "$(rkey provider sms SMok)")" = 1 ] && ok || ko "an early event not kept"
[ "$(rcli exists "$(rkey provider sms SMhuge)")" = 0 ] && ok || ko "a 100 KB early event kept whole"
# the flood of unknown ids: every one kept (early), each key bounded by the early TTL
before=$(rcli info memory | awk -F: '/^used_memory:/ {print $2+0}')
echo '{"flood": 1000, "size": 10000}' | dealer >"$dir/flood.out" 2>&1
after=$(rcli info memory | awk -F: '/^used_memory:/ {print $2+0}')
grep -q '"unknown": 1000' "$dir/flood.out" && ok || ko "flood: $(cat "$dir/flood.out")"
ttl=$(rcli ttl "$(rkey provider sms SMflood7)")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 3600 ] && ok || ko "an early event's map has TTL $ttl"
echo "flood: 1000 unknown ids x 10 KB text: Redis grew $(( (after - before) / 1024 )) KiB, TTL ${ttl}s"

# 3. pregond stopped: pregon-hooks answers 503 (never 2xx), and again 200 once it is back
sign_post() { /usr/bin/python3 - "$hooks" "$TOKEN" "$1" <<'PY'
import base64, hashlib, hmac, sys, urllib.parse, urllib.request
base, token, sid = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
f = [(b"AccountSid", b"AC00000000000000000000000000000000"), (b"MessageSid", sid),
     (b"MessageStatus", b"delivered")]
url = base + "/twilio/sms/status"
sig = base64.b64encode(hmac.new(token, url.encode() + b"".join(k + v for k, v in f), hashlib.sha1).digest())
req = urllib.request.Request(url, data=urllib.parse.urlencode(f).encode(), headers={"X-Twilio-Signature": sig.decode()})
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
}
kill -STOP "$pregond_pid"
[ "$(sign_post SMstopped)" = 503 ] && ok || ko "pregond stopped: not 503"
kill -CONT "$pregond_pid"
kill -TERM "$pregond_pid"; wait "$pregond_pid" 2>/dev/null
[ "$(sign_post SMdown)" = 503 ] && ok || ko "pregond down: not 503"
start_pregond
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond again"
[ "$(sign_post SMback)" = 200 ] && ok || ko "pregond back: not 200"

kill -0 "$hooks_pid" 2>/dev/null && ok || ko "pregon-hooks died: $(tail -20 "$dir/hooks.log")"
kill -0 "$pregond_pid" 2>/dev/null && ok || ko "pregond died: $(tail -20 "$dir/pregond.log")"
grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$dir/hooks.log" "$dir/pregond.log" \
  && ko "sanitizer: $(grep -hE -A5 'AddressSanitizer|runtime error' "$dir/hooks.log" "$dir/pregond.log" | head -20)" || ok
echo "review: $pass passed, $fail failed"
[ "$fail" = 0 ]
