#!/usr/bin/env bash
# run.sh BUILD_DIR — the voice blaster end to end, every part real: redis-server, pregond,
# pregon-voice (Twilio Calls, caller-id pools), pregon-sandbox's Twilio Calls (fetches the
# TwiML over HTTP, parses it with libxml2, plays scripted callees, posts signed Gather/Dial
# actions and status callbacks) and pregon-hooks' voice module serving the IVR. Checks: every
# digit of the map does what it says (1 and 2 transfer to their queues with their caller id,
# 3 repeats, 8 wrong number, 9 opts the number out of voice), a completed transfer is a
# CONVERSATION, no input repeats once then says goodbye, the TwiML is valid XML and speaks the
# amount and the date in words, an answering machine hears the voicemail without debt details,
# busy is FAILED, a human answer DELIVERED; the caller id is local and sticky per debtor and a
# retired number (pregonctl voice numbers retire) is never used again, without a restart; a
# forged Gather (wrong Twilio signature, or a call token nobody minted) is refused with 403.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin voice
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token
py=/usr/bin/python3

pg_redis_start "$dir" || exit 1
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
channels: voice
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/url.key"; chmod 600 "$dir/url.key"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" --ops-listen 127.0.0.1:0 \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 \
  --voice-url-key-file "$dir/url.key" 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
# its /metrics is on the loopback ops port (the public listener answers 404)
hops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --account "$AC:$TOKEN" --calls-time-scale 0.02 --calls-seed 7 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
curl -sf "$sb/_sandbox/twilio-calls/callees" -d '[
  {"number": "+5730000000001", "answer": "human", "press": "1", "transfer": "answered", "talk_s": 30},
  {"number": "+5730000000002", "answer": "human", "press": "2", "transfer": "answered", "talk_s": 10},
  {"number": "+5730000000003", "answer": "human", "press": ["3", "9"]},
  {"number": "+5730000000008", "answer": "human", "press": "8"},
  {"number": "+5730000000009", "answer": "human", "press": "9"},
  {"number": "+5730000000005", "answer": "human", "press": ["", ""]},
  {"number": "+5730000000007", "answer": "machine", "greeting_s": 4},
  {"number": "+5730000000006", "answer": "busy"},
  {"number": "+1212", "answer": "human", "press": "", "times": 0}]' >/dev/null || ko "callee script refused"
cat >"$dir/pools.yaml" <<'YAML'
pools:
  - tenant: acme
    daily_cap: 1000
    machine_detection: DetectMessageEnd
    numbers:
      - {number: "+5716010001", area: "+57"}
      - {number: "+5716010002", area: "+57"}
      - {number: "+5746010003", area: "+57"}
      - {number: "+12125550101", area: "+1212"}
      - {number: "+12125550102", area: "+1212"}
      - {number: "+13055550100", area: "+1305"}
YAML
start_voice() {
  TWILIO_AUTH_TOKEN=$TOKEN PREGON_VOICE_URL_KEY=$(cat "$dir/url.key") "$build/channels/voice/pregon-voice" \
    --broker "ipc://$dir/back" --base-url "$sb" --account-sid $AC --hooks-url "$hooks" \
    --pools "$dir/pools.yaml" --worker-id voice-it --concurrency 40 --rate 20 --heartbeat-ms 200 \
    --ring-timeout-s 5 --max-call-s 120 --line-slack-s 0 \
    --policy-dir "$src/tests/integration/e2e/policies" 2>>"$dir/voice.log" &
  pids+=($!); voice_pid=$!
}
start_voice
wait_for 10 grep -q "joined on voice" "$dir/pregond.log" || { echo "voice worker never joined"; cat "$dir/voice.log"; exit 1; }

# jobs FILE PREFIX DEBTOR:CONTACT... — one voice job each
jobs() {
  $py - "$@" <<'PY'
import json, sys
path, prefix = sys.argv[1:3]
with open(path, "w") as f:
    for i, pair in enumerate(sys.argv[3:]):
        d, c = pair.split(":")
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "acme", "campaign": "voz",
            "debtor_id": d, "debt_id": "deuda-" + d, "channel": "voice", "contact": c,
            "template_id": "cobranza_voz", "jurisdiction": "RC", "time_zone": "UTC",
            "segment": {"amount_cents": 125000000, "currency": "COP"},
            "variables": {"acreedor": "Banco Acme", "nombre": "Ana", "monto": "$1.250.000",
                          "fecha": "30/11", "telefono": "6015551234"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
calls() { curl -s "$sb/_sandbox/twilio-calls/calls"; }
# call NUMBER FIELD — a field of the (last) call to NUMBER, as JSON
call() { calls | $py -c "import json,sys; c=[x for x in json.load(sys.stdin)['calls'] if x['to']==sys.argv[1]]; print(json.dumps(c[-1].get(sys.argv[2]) if c else None, ensure_ascii=False))" "$1" "$2"; }
finished() { curl -sf "$sb/_sandbox/twilio-calls/wait?finished=$1&timeout_ms=30000" >/dev/null; }

# 1. a campaign: one call per behaviour
jobs "$dir/a.jsonl" a d1:+5730000000001 d2:+5730000000002 d3:+5730000000003 d8:+5730000000008 \
  d9:+5730000000009 d5:+5730000000005 d7:+5730000000007 d6:+5730000000006
submit "$dir/a.jsonl" >"$dir/a.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/a.out")" = 8 ] && ok || ko "campaign: $(cat "$dir/a.out")"
finished 8 || ko "the 8 calls did not finish: $(calls | head -c 2000)"
said1=$(call +5730000000001 said)
echo "$said1" | pipe_has "un millón doscientos cincuenta mil pesos" && ok || ko "amount not in words: $said1"
echo "$said1" | pipe_has "30 de noviembre" && ok || ko "date not in words: $said1"
echo "$said1" | pipe_has '\$1.250.000\|30/11' && ko "symbols read aloud: $said1" || ok
[ "$(call +5730000000001 transfer)" = '"+5716000001"' ] && ok || ko "digit 1 transfer: $(call +5730000000001 transfer)"
[ "$(call +5730000000002 transfer)" = '"sip:soporte@cc.example.com"' ] && ok || ko "digit 2 transfer: $(call +5730000000002 transfer)"
echo "$(call +5730000000001 said)" | pipe_has "Le comunicamos con un asesor" && ok || ko "digit 1 say"
[ "$(echo "$(call +5730000000003 said)" | grep -o "Su saldo pendiente" | wc -l)" -ge 2 ] && ok || ko "digit 3 did not repeat: $(call +5730000000003 said)"
echo "$(call +5730000000008 said)" | pipe_has "Gracias por avisarnos" && ok || ko "digit 8 say: $(call +5730000000008 said)"
echo "$(call +5730000000009 said)" | pipe_has "No volveremos a llamarle" && ok || ko "digit 9 say: $(call +5730000000009 said)"
said5=$(call +5730000000005 said)
[ "$(echo "$said5" | grep -o "Su saldo pendiente" | wc -l)" = 2 ] && echo "$said5" | pipe_has "No recibimos respuesta" && ok \
  || ko "no input: said twice then goodbye: $said5"
said7=$(call +5730000000007 said)
echo "$said7" | pipe_has "Este es un mensaje de Banco Acme para Ana" && ok || ko "voicemail: $said7"
echo "$said7" | pipe_has -i "saldo\|millón\|noviembre\|1.250" && ko "the voicemail mentions the debt: $said7" || ok
echo "$said7" | pipe_has "6 0 1 5 5 5 1 2 3 4" && ok || ko "the phone number not read digit by digit: $said7"
# 2. outcomes in pregond
wait_for 15 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d6 a7 --redis-socket '$dir/redis.sock')\" s)\" = failed ]" \
  && ok || ko "busy call not FAILED: $(state acme d6 a7)"
wait_for 15 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d1 a0 --redis-socket '$dir/redis.sock')\" s)\" = delivered ]" \
  && ok || ko "answered call not DELIVERED: $(state acme d1 a0)"
[ "$(state acme d7 a6)" = sent ] && ok || ko "a machine answer is an attempt, not a contact: $(state acme d7 a6)"
# the campaign's retry rule (retries: 2, retry_gap_s: 7200): a new job through admission, 2 h on
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget \"\$($ctl redis key job acme d6 a7~r1 --redis-socket '$dir/redis.sock')\" s)\" = deferred ]" \
  && ok || ko "no retry of the busy call: $(state acme d6 a7~r1); $(grep retry "$dir/pregond.log")"
until=$(rcli hget "$(rkey job acme d6 a7~r1)" u)
now=$(date +%s)
[ -n "$until" ] && [ "$until" -ge $((now + 7100)) ] && [ "$until" -le $((now + 7300)) ] && ok || ko "retry due at $until, now $now"
[ -z "$(state acme d6 a7~r2)" ] && ok || ko "a second retry before the first was tried"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
wait_for 10 sh -c "$ctl redis audit --redis-socket '$dir/redis.sock' 2>/dev/null | grep '\"job\":\"a0\"' | grep -q '\"to\":\"CONVERSATION\"'" \
  && ok || ko "the completed transfer is no CONVERSATION: $(grep '"job":"a0"' "$dir/audit.out")"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep '"job":"a3"' "$dir/audit.out" | grep '"to":"DIGITS"' | pipe_has '"detail":"8"' && ok || ko "digit 8 not recorded: $(grep '"job":"a3"' "$dir/audit.out")"
wait_for 10 sh -c "$ctl suppress list --tenant acme --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q 5730000000009" \
  && ok || ko "digit 9: no suppression: $("$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock")"
"$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" 2>/dev/null | grep 5730000000009 | pipe_has voice \
  && ok || ko "the opt-out is not for voice"
metrics() { curl -s "$hops/metrics"; }
metrics >"$dir/m1.txt"; grep -q 'route="voice-gather",result="ok"' "$dir/m1.txt" && ok || ko "no voice-gather metrics: $(grep voice "$dir/m1.txt")"
# 3. caller ids: local presence, sticky per debtor, a retired number never used again
[ "$(call +5730000000001 from | cut -c1-4)" = '"+57' ] && ok || ko "a CO debtor called from $(call +5730000000001 from)"
jobs "$dir/s.jsonl" s u1:+12125550900 u1:+12125550900 u2:+12125550901
submit "$dir/s.jsonl" >/dev/null
finished 11 || ko "sticky calls did not finish"
froms() { calls | $py -c "import json,sys; print(' '.join(x['from'] for x in json.load(sys.stdin)['calls'] if x['to']==sys.argv[1]))" "$1"; }
f=$(froms +12125550900)
set -- $f
[ "$#" = 2 ] && [ "$1" = "$2" ] && ok || ko "the same debtor got different numbers: $f"
case "$1" in +1212*) ok ;; *) ko "a 212 debtor called from $1" ;; esac
"$ctl" voice numbers retire "$1" --pools "$dir/pools.yaml" --reason flagged >/dev/null && ok || ko "retire"
"$ctl" voice numbers list --pools "$dir/pools.yaml" | grep "$1" | pipe_has retired && ok || ko "list: $("$ctl" voice numbers list --pools "$dir/pools.yaml")"
sleep 1.1 # the worker looks at the file at most once a second (its own clock): not a sync point
jobs "$dir/r.jsonl" r u1:+12125550900 u1:+12125550900
submit "$dir/r.jsonl" >/dev/null
finished 13 || ko "calls after the retirement did not finish"
f2=$(froms +12125550900)
set -- $f2
[ "$#" = 4 ] && [ "$3" != "$1" ] && [ "$4" = "$3" ] && ok || ko "after retiring $1: $f2"
case "$3" in +1212*) ok ;; *) ko "the replacement is not local: $3" ;; esac
# 4. a forged Gather: a wrong Twilio signature, then a good one over a URL nobody minted
url0=$(call +5730000000001 url | tr -d '"')
gather=${url0/\/twiml?/\/gather?}
code=$(curl -s -o /dev/null -w '%{http_code}' "$sb/_sandbox/twilio-calls/forge" -d "{\"url\": \"$gather\", \"kind\": \"gather\", \"digits\": \"9\"}")
[ "$code" = 200 ] || ko "forge route: $code"
wait_for 5 sh -c "curl -s '$hops/metrics' >'$dir/m2.txt'; grep -q 'provider=\"twilio-voice\",reason=\"forged\"} 1' '$dir/m2.txt'" && ok || ko "forged gather not refused: $(metrics | grep refused)"
bad=$($py - "$hooks" "$TOKEN" "$AC" <<'PY'
import base64, hashlib, hmac, sys, urllib.request, urllib.parse, urllib.error
hooks, token, ac = sys.argv[1:4]
url = hooks + "/twilio/voice/gather?t=acme&j=a4&l=1.0123456789abcdef%2Fx&s=" + "0" * 64
fields = {"CallSid": "CA" + "1" * 32, "AccountSid": ac, "Digits": "9", "From": "+5716010001", "To": "+5730000000001"}
sig = base64.b64encode(hmac.new(token.encode(), (url + "".join(k + v for k, v in sorted(fields.items()))).encode(), hashlib.sha1).digest()).decode()
req = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), headers={"X-Twilio-Signature": sig})
try:
    print(urllib.request.urlopen(req).status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
)
[ "$bad" = 403 ] && ok || ko "a Twilio-signed Gather with a made-up call token: $bad"
metrics >"$dir/m3.txt"; grep -q 'provider="twilio-voice",reason="bad-call-token"} 1' "$dir/m3.txt" && ok || ko "bad-call-token not counted: $(grep refused "$dir/m3.txt")"
kill -0 "$pregond_pid" && ok || ko "pregond died"
kill -0 "$voice_pid" && ok || ko "pregon-voice died: $(tail -5 "$dir/voice.log")"

echo "voice: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
