#!/usr/bin/env bash
# run.sh BUILD_DIR — Messenger end to end, every part real: redis-server, pregond,
# pregon-messenger, pregon-sandbox (the Send API, its own 24-hour window, signed delivery, read
# and message webhooks) and pregon-hooks (the Messenger module) in between.
#   1. the subscription check (hub.challenge) answered; a wrong verify token refused (403);
#   2. outside the window a job is REJECTED messenger.window at admission and never attempted;
#   3. an inbound message of the PSID (the sandbox's, signed, through pregon-hooks) opens it:
#      the next job is sent, DELIVERED by the delivery webhook (its mid), and its read receipt
#      (a PSID and a watermark, no mid) is applied to it; with deliveries off, the read alone
#      makes a job DELIVERED;
#      a reply "ya pagué" is a PAYMENT_CLAIMED event, "STOP" suppresses the PSID;
#   4. each error class of the Send API through pregond: 551 FAILED and fallback-eligible (the
#      job goes on to its SMS fallback, e5002~sms), 100/2018001 FAILED (no fallback), 1200 and 2 retried then DELIVERED, 4/613 retried after the
#      rate-limit backoff, 190 halts the channel (the worker exits 69 with one clear line; the
#      job is handed back and sent by the next worker);
#   5. forged webhooks (a wrong app secret) are refused 403, counted, and change nothing: a
#      forged read leaves a SENT job SENT, a forged message opens no window;
#      an echo applies nothing, a postback's keyword counts, a tampered body is 403;
#   6. the re-check before sending: a worker 25 h ahead (--test-clock-offset-s) is given a job
#      whose window closed an hour ago by its clock: SKIPPED window-closed, no request.
# Free ports and private sockets. PG_REDIS_CLUSTER=1: on a cluster node.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin messenger
PAGE=104000000000777 SECRET=app-secret-$RANDOM VERIFY=verify-$RANDOM
export MESSENGER_PAGE_TOKEN=EAAG-page-token-$RANDOM
state() { rcli hget "$(rkey job acme "$1" "$2")" s; }
field() { rcli hget "$(rkey job acme "$1" "$2")" "$3"; }

pg_redis_start "$dir" || exit 1
: >"$dir/pregond.log"; : >"$dir/hooks.log"   # polled at once, before the programs open them
start_pregond() {
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
channels: "sms,messenger"
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pregond_pid=$!; pids+=($!)
  wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
}
start_pregond
MESSENGER_APP_SECRET=$SECRET MESSENGER_VERIFY_TOKEN=$VERIFY "$build/channels/hooks/pregon-hooks" --ops-listen 127.0.0.1:0 \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
# its /metrics is on the loopback ops port (the public listener answers 404)
hops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --messenger-page "$PAGE:$MESSENGER_PAGE_TOKEN" --messenger-app-secret "$SECRET" \
  --messenger-webhook-url "$hooks/messenger/webhook" --messenger-callback-delay-ms 100 \
  2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
start_worker() { # extra args
  "$build/channels/messenger/pregon-messenger" --broker "ipc://$dir/back" --base-url "$sb/messenger" \
    --page-id "$PAGE" --worker-id msgr-it --heartbeat-ms 200 --rate-limit-backoff-ms 3000 \
    --policy-dir "$src/tests/integration/e2e/policies" "$@" 2>>"$dir/messenger.log" &
  worker_pid=$!; pids+=($!)
}
start_worker --exit-on-halt
wait_for 10 grep -q "joined on messenger" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/messenger.log"; exit 1; }

# jobs FILE PREFIX PSID... — one Messenger job per PSID, debtor d<PSID>, job PREFIX<PSID>
jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, prefix = sys.argv[1:3]
with open(path, "w") as f:
    for psid in sys.argv[3:]:
        job = {"job_id": f"{prefix}{psid}", "tenant": "acme", "campaign": "msgr",
            "debtor_id": f"d{psid}", "channel": "messenger", "contact": psid,
            "template_id": "recordatorio_messenger", "jurisdiction": "RC", "time_zone": "UTC",
            "variables": {"nombre": "Ana", "monto": "$100", "producto": "tarjeta",
                          "fecha": "30/12", "enlace": "x.co", "acreedor": "Acme", "telefono": "800"}}
        if prefix.startswith("e"):  # the error-class jobs may fall back to SMS
            job.update({"fallback_channels": ["sms"], "fallback_contacts": {"sms": "+57300555" + psid},
                        "fallback_templates": {"sms": "aviso_mora_sms"}})
        f.write(json.dumps(job) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
verdict() { grep "\"job_id\":\"$2\"" "$1" | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["verdict"], v["rule"] or "-")'; }
sent_to() { curl -s "$sb/_sandbox/requests?provider=messenger&limit=100000" | /usr/bin/python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get('to') == sys.argv[1]))" "$1"; }
inbound() { curl -sf "$sb/_sandbox/messenger/inbound" -d "{\"psid\": \"$1\", \"text\": \"${2:-hola, quiero pagar}\"}" >/dev/null || ko "sandbox inbound $1"; }
window_open() { [ -n "$(rcli get "$(rkey window acme "d$1" messenger "$1")")" ]; }
metric() { curl -s "$hops/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
script() { curl -sf "$sb/_sandbox/script" -d "$1" >/dev/null || ko "script $1"; }
# open PSID...: a first job refused (the contact map), the person writes, the window opens
open() {
  jobs "$dir/first.jsonl" first "$@"
  submit "$dir/first.jsonl" >"$dir/first.out"
  for p in "$@"; do
    [ "$(verdict "$dir/first.out" "first$p")" = "REJECTED messenger.window" ] || ko "first job to $p: $(verdict "$dir/first.out" "first$p")"
    inbound "$p"
  done
  for p in "$@"; do wait_for 15 window_open "$p" || ko "no window for $p after its message"; done
}

# 1. the subscription check
[ "$(curl -s "$hooks/messenger/webhook?hub.mode=subscribe&hub.verify_token=$VERIFY&hub.challenge=c-4242")" = c-4242 ] \
  && ok || ko "hub.challenge not answered"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$hooks/messenger/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")" = 403 ] \
  && ok || ko "a wrong verify token not refused"

# 2. outside the window: REJECTED messenger.window, never attempted
jobs "$dir/o.jsonl" o 5000
submit "$dir/o.jsonl" >"$dir/o.out"
[ "$(verdict "$dir/o.out" o5000)" = "REJECTED messenger.window" ] && ok || ko "outside the window: $(verdict "$dir/o.out" o5000)"
# 3. the PSID writes (the sandbox posts it signed to pregon-hooks): the window opens
inbound 5000 "hola, quiero pagar"
wait_for 15 window_open 5000 && ok || ko "the inbound message opened no window"
[ "$(sent_to 5000)" = 0 ] && ok || ko "the refused job was attempted: $(sent_to 5000) requests"
jobs "$dir/a.jsonl" a 5000
submit "$dir/a.jsonl" >"$dir/a.out"
[ "$(verdict "$dir/a.out" a5000)" = "ACCEPTED -" ] && ok || ko "inside the window: $(verdict "$dir/a.out" a5000)"
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5000 a5000 --redis-socket '$dir/redis.sock')\" s)\" = delivered ]" \
  && ok || ko "a5000 not DELIVERED: $(state d5000 a5000)"
[[ "$(field d5000 a5000 pid)" == m_* ]] && ok || ko "a5000's provider id: $(field d5000 a5000 pid)"
# its read receipt came too, and was applied to it (a duplicate of DELIVERED by then)
wait_for 10 sh -c "grep -q 'read:$PAGE:5000:' '$dir/pregond.log' || [ \"\$(curl -s '$sb/_sandbox/stats' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"modules\"][\"messenger\"][\"reads\"])')\" -ge 1 ]" \
  || ko "no read receipt posted"
wait_for 10 sh -c "[ \"\$(curl -s '$hops/metrics' | awk '\$1 == \"pregon_hooks_acks_total{result=\\\"duplicate\\\"}\" {print \$2}')\" -ge 1 ] 2>/dev/null" \
  && ok || ko "the read receipt was not applied to a5000: $(curl -s "$hops/metrics" | grep acks_total)"
# the read alone (no delivery webhook) makes a job DELIVERED: by its PSID and watermark
curl -sf "$sb/_sandbox/messenger/config" -d '{"deliveries": false}' >/dev/null || ko "config"
open 5001
jobs "$dir/r.jsonl" r 5001
submit "$dir/r.jsonl" >/dev/null
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5001 r5001 --redis-socket '$dir/redis.sock')\" s)\" = delivered ]" \
  && ok || ko "a read receipt alone did not deliver r5001: $(state d5001 r5001)"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep '"job":"r5001"' "$dir/audit.out" | grep '"to":"DELIVERED"' | pipe_has 'webhook: read' && ok || ko "r5001's DELIVERED record: $(grep '"job":"r5001"' "$dir/audit.out")"
curl -sf "$sb/_sandbox/messenger/config" -d '{"deliveries": true}' >/dev/null || ko "config"

# replies and keywords: "ya pagué" is a payment claim, "STOP" opts the PSID out of Messenger
inbound 5001 "Ya pagué"
inbound 5000 "STOP"
audit_to() { "$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null | grep "\"contact\":\"$1\"" | pipe_has "\"to\":\"$2\""; }
wait_for 15 audit_to 5001 PAYMENT_CLAIMED && ok || ko "ya pagué: no PAYMENT_CLAIMED record"
wait_for 15 sh -c "$ctl suppress list --tenant acme --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q '5000'" \
  && ok || ko "STOP from 5000 not suppressed: $("$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock")"
jobs "$dir/x.jsonl" x 5000
submit "$dir/x.jsonl" >"$dir/x.out"
[ "$(verdict "$dir/x.out" x5000)" = "REJECTED suppressed.contact:opt-out" ] && ok || ko "after STOP: $(verdict "$dir/x.out" x5000)"

# 4. the error classes, scripted per PSID in the sandbox
open 5002 5003 5004 5005 5006 5007
script '{"provider": "messenger", "to": "5002", "status": 400, "error_code": 551}'
script '{"provider": "messenger", "to": "5003", "status": 400, "error_code": 100}'
script '{"provider": "messenger", "to": "5004", "status": 500, "error_code": 1200}'
script '{"provider": "messenger", "to": "5005", "status": 500, "error_code": 2}'
script '{"provider": "messenger", "to": "5006", "status": 400, "error_code": 613}'
jobs "$dir/e.jsonl" e 5002 5003 5004 5005 5006
submit "$dir/e.jsonl" >"$dir/e.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/e.out")" = 5 ] && ok || ko "error-class jobs: $(cat "$dir/e.out")"
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5002 e5002 --redis-socket '$dir/redis.sock')\" s)\" = failed ]" \
  && ok || ko "551: $(state d5002 e5002)"
[ "$(field d5002 e5002 pcode)" = 551/1545041 ] && ok || ko "551's code: $(field d5002 e5002 pcode)"
# 551 is fallback-eligible: the job goes on to SMS (its fallback), through SMS's admission
wait_for 10 sh -c "[ -n \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5002 'e5002~sms' --redis-socket '$dir/redis.sock')\" s)\" ]" \
  && ok || ko "551: no SMS fallback job e5002~sms"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep '"job":"e5002"' "$dir/audit.out" | pipe_has '"to":"FALLBACK"' && ok || ko "551: no FALLBACK record on e5002: $(grep '"job":"e5002"' "$dir/audit.out")"
grep '"job":"e5002~sms"' "$dir/audit.out" | grep '"to":"ACCEPTED"' | pipe_has '+573005555002' && ok || ko "e5002~sms: $(grep 'e5002~sms' "$dir/audit.out")"
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5003 e5003 --redis-socket '$dir/redis.sock')\" s)\" = failed ]" \
  && ok || ko "100/2018001: $(state d5003 e5003)"
"$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null | pipe_has '"job":"e5003~sms"' && ko "100/2018001 fell back (not eligible)" || ok
for p in 5004 5005 5006; do
  wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d$p e$p --redis-socket '$dir/redis.sock')\" s)\" = delivered ]" \
    && ok || ko "e$p not DELIVERED after its retry: $(state "d$p" "e$p")"
  [ "$(sent_to $p)" = 2 ] && ok || ko "requests to $p: $(sent_to $p), want 2"
done
gap=$(curl -s "$sb/_sandbox/requests?provider=messenger&limit=100000" | /usr/bin/python3 -c '
import json,sys; t=[r["arrival_ms"] for r in json.load(sys.stdin) if r.get("to") == "5006"]; print(t[1]-t[0] if len(t) > 1 else -1)')
[ "$gap" -ge 2000 ] && ok || ko "613 retried after $gap ms, want >= the 3000 ms backoff (pregond keeps retry times in whole seconds)"
# 190: the channel halts; one clear line; the job goes back and the next worker sends it
script '{"provider": "messenger", "to": "5007", "status": 400, "error_code": 190}'
jobs "$dir/h.jsonl" h 5007
submit "$dir/h.jsonl" >/dev/null
wait "$worker_pid"; rc=$?
[ "$rc" = 69 ] && ok || ko "190: the worker exited $rc, want 69 (halted)"
grep -c "channel halted" "$dir/messenger.log" | pipe_has -x 1 && grep "channel halted" "$dir/messenger.log" | pipe_has MESSENGER_PAGE_TOKEN \
  && ok || ko "190: the halt line: $(cat "$dir/messenger.log")"
grep -q "$MESSENGER_PAGE_TOKEN" "$dir/messenger.log" && ko "the token is in the log"
start_worker
wait_for 30 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5007 h5007 --redis-socket '$dir/redis.sock')\" s)\" = delivered ]" \
  && ok || ko "h5007 not sent by the next worker: $(state d5007 h5007)"

# 5. forged webhooks: refused, counted, nothing applied
forged() { metric 'pregon_hooks_refused_total{provider="messenger",reason="forged"}'; }
f0=$(forged)
curl -sf "$sb/_sandbox/messenger/config" -d '{"deliveries": false, "reads": false}' >/dev/null || ko "config"
open 5008
jobs "$dir/f.jsonl" f 5008
submit "$dir/f.jsonl" >/dev/null
wait_for 20 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d5008 f5008 --redis-socket '$dir/redis.sock')\" s)\" = sent ]" \
  || ko "f5008 not SENT: $(state d5008 f5008)"
curl -sf "$sb/_sandbox/messenger/forge" -d '{"kind": "read", "psid": "5008"}' >/dev/null || ko "forge read"
curl -sf "$sb/_sandbox/messenger/forge" -d "{\"kind\": \"delivery\", \"psid\": \"5008\", \"mid\": \"$(field d5008 f5008 pid)\"}" >/dev/null || ko "forge delivery"
jobs "$dir/g.jsonl" g 5009
submit "$dir/g.jsonl" >"$dir/g.out"
[ "$(verdict "$dir/g.out" g5009)" = "REJECTED messenger.window" ] || ko "g5009: $(verdict "$dir/g.out" g5009)"
curl -sf "$sb/_sandbox/messenger/forge" -d '{"kind": "message", "psid": "5009", "text": "hola"}' >/dev/null || ko "forge message"
wait_for 10 sh -c "[ \"\$(curl -s '$hops/metrics' | awk '\$1 == \"pregon_hooks_refused_total{provider=\\\"messenger\\\",reason=\\\"forged\\\"}\" {print \$2}')\" = $(( ${f0:-0} + 3 )) ]" \
  && ok || ko "forged webhooks not counted: $(curl -s "$hops/metrics" | grep refused_total)"
[ "$(state d5008 f5008)" = sent ] && ok || ko "a forged receipt changed f5008: $(state d5008 f5008)"
window_open 5009 && ko "a forged message opened a window" || ok
jobs "$dir/g2.jsonl" g2x 5009
submit "$dir/g2.jsonl" >"$dir/g2.out"
[ "$(verdict "$dir/g2.out" g2x5009)" = "REJECTED messenger.window" ] && ok || ko "after a forged message: $(verdict "$dir/g2.out" g2x5009)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Hub-Signature-256: sha256=00' -d '{"object":"page","entry":[]}' "$hooks/messenger/webhook")
[ "$code" = 403 ] && ok || ko "a forged POST answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"object":"page","entry":[]}' "$hooks/messenger/webhook")
[ "$code" = 403 ] && ok || ko "an unsigned POST answered $code"
curl -sf "$sb/_sandbox/messenger/config" -d '{"deliveries": true, "reads": true}' >/dev/null || ko "config"

# 5b. webhooks signed here (HMAC-SHA256 with the app secret): an echo of our own message is
#     answered and applies nothing; a postback's payload is read as a keyword; a signed body
#     that is not a page object is 400; a tampered body (signature of another) is 403
signed_post() { # BODY -> HTTP status
  /usr/bin/python3 - "$SECRET" "$1" "$hooks/messenger/webhook" <<'PY'
import hashlib, hmac, sys, urllib.request, urllib.error
secret, body, url = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
req = urllib.request.Request(url, data=body, headers={"X-Hub-Signature-256": sig, "Content-Type": "application/json"})
try: print(urllib.request.urlopen(req).status)
except urllib.error.HTTPError as e: print(e.code)
PY
}
now=$(date +%s%3N)
echo_body="{\"object\":\"page\",\"entry\":[{\"id\":\"$PAGE\",\"time\":$now,\"messaging\":[{\"sender\":{\"id\":\"$PAGE\"},\"recipient\":{\"id\":\"5004\"},\"timestamp\":$now,\"message\":{\"mid\":\"m_echo1\",\"is_echo\":true,\"text\":\"STOP\"}}]}]}"
[ "$(signed_post "$echo_body")" = 200 ] && ok || ko "a signed echo not answered 200"
"$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" 2>/dev/null | pipe_has "$PAGE" && ko "an echo was applied as the page's STOP" || ok
pb_body="{\"object\":\"page\",\"entry\":[{\"id\":\"$PAGE\",\"time\":$now,\"messaging\":[{\"sender\":{\"id\":\"5004\"},\"recipient\":{\"id\":\"$PAGE\"},\"timestamp\":$now,\"postback\":{\"mid\":\"m_pb1\",\"title\":\"Ya pagué\",\"payload\":\"PAGO_REALIZADO\"}}]}]}"
[ "$(signed_post "$pb_body")" = 200 ] && ok || ko "a signed postback not answered 200"
wait_for 15 audit_to 5004 PAYMENT_CLAIMED && ok || ko "the postback \"Ya pagué\" was no PAYMENT_CLAIMED"
[ "$(signed_post '{"object":"user","entry":[]}')" = 400 ] && ok || ko "a signed non-page object not 400"
tampered=$(/usr/bin/python3 - "$SECRET" "$pb_body" "$hooks/messenger/webhook" <<'PY'
import hashlib, hmac, sys, urllib.request, urllib.error
secret, body, url = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
req = urllib.request.Request(url, data=body.replace(b"5004", b"5005"), headers={"X-Hub-Signature-256": sig})
try: print(urllib.request.urlopen(req).status)
except urllib.error.HTTPError as e: print(e.code)
PY
)
[ "$tampered" = 403 ] && ok || ko "a tampered body answered $tampered"

# 6. the re-check before sending: a worker whose clock is 25 h ahead of pregond's
#    (--test-clock-offset-s) gets a job whose window, by its clock, closed an hour ago: SKIPPED
#    window-closed, and no request reaches the sandbox
kill -TERM "$worker_pid"; wait "$worker_pid"
start_worker --test-clock-offset-s 90000
open 5100
jobs "$dir/s.jsonl" s 5100
submit "$dir/s.jsonl" >"$dir/s.out"
[ "$(verdict "$dir/s.out" s5100)" = "ACCEPTED -" ] || ko "s5100: $(verdict "$dir/s.out" s5100)"
skipped() { "$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null | grep '"job":"s5100"' | grep '"to":"SKIPPED"' | pipe_has window-closed; }
wait_for 20 skipped && ok || ko "s5100 not SKIPPED window-closed: $("$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null | grep '"job":"s5100"')"
[ "$(sent_to 5100)" = 0 ] && ok || ko "s5100 reached the sandbox: $(sent_to 5100)"
kill -0 "$pregond_pid" && ok || ko "pregond died"

echo "messenger: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
