#!/usr/bin/env bash
# run.sh BUILD_DIR — WhatsApp end to end, every part real: redis-server, pregond, pregon-whatsapp,
# pregon-sandbox's WhatsApp Cloud (template list, pair-rate check, signed status webhooks,
# scripted outcomes and replies) and pregon-hooks in between. Checks:
#   1. a template campaign: every job SENT with Meta's components and our job reference, then
#      DELIVERED by the signed webhooks (sent, delivered, read all accepted);
#   2. each error class: 130429 and 80007 (retried, then delivered), 131056 (retried after the
#      pair interval), 131047 (FAILED needs-template), 131026 (FAILED, fallback-eligible, the
#      synchronous answer and the failed status webhook), 131049 (FAILED, counted for the
#      template), 132001 from the sandbox's template list (FAILED; the next job of that template
#      FAILED "template-halted" without a request while another template still goes out), 190
#      (the channel halts with one line naming the token; nothing more is sent);
#   3. pair-rate shaping: three jobs to each of two numbers, no pair twice within the sandbox's
#      interval (its recorded arrival times), no 131056 at all;
#   4. a forged webhook (wrong app secret) and an unsigned one are refused (403), counted, and
#      change nothing; the GET verification answers the challenge;
#   5. replies: "Baja" opts the number out of WhatsApp for the tenant (a new job REJECTED),
#      "ya pagué" and a question reach pregond as their own events;
#   6. the 24-hour window: a free-form answer to the number that wrote goes out as text, one to
#      a number that never wrote is REJECTED whatsapp.window.
# Free ports and private sockets: runs never collide.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin whatsapp
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
PHONE=1065550001 TOKEN=sandbox-wa-token SECRET=wa-test-secret VERIFY=wa-verify

pg_redis_start "$dir" || exit 1
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
channels: whatsapp
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
WHATSAPP_APP_SECRET=$SECRET WHATSAPP_VERIFY_TOKEN=$VERIFY "$build/channels/hooks/pregon-hooks" --ops-listen 127.0.0.1:0 \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
# its /metrics is on the loopback ops port (the public listener answers 404)
hops=http://127.0.0.1:$(grep -m1 -o "ops: .* on port [0-9]*" "$dir/hooks.log" | grep -o "[0-9]*$")
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
# the approved templates: recordatorio_pago only (acuerdo_pago_confirmado is not approved: 132001)
echo '[{"name": "recordatorio_pago", "language": "es_MX", "body_params": 4}]' >"$dir/templates.json"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --wa-app-secret $SECRET --wa-phone-number-id $PHONE --wa-templates "$dir/templates.json" \
  --wa-webhook-url "$hooks/whatsapp/webhook" --wa-callback-delay-ms 50 --wa-pair-interval-ms 1000 \
  2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
curl -sf "$sb/_sandbox/whatsapp/replies" -d '[{"number": "+5215570000201", "body": "ya pagué"},
  {"number": "+5215570000202", "body": "Baja"}, {"number": "+5215570000203", "body": "hola, ¿cuánto debo?"}]' >/dev/null \
  || ko "reply script refused"
# --rate 0.8: a pair at most every 1.25 s (the sandbox refuses within 1 s)
WHATSAPP_TOKEN=$TOKEN "$build/channels/whatsapp/pregon-whatsapp" --worker-id wa-it \
  --broker "ipc://$dir/back" --base-url "$sb" --phone-number-id $PHONE --heartbeat-ms 200 \
  --rate 0.8 --pair-interval-ms 1000 --policy-dir "$src/tests/integration/e2e/policies" \
  2>>"$dir/wa.log" &
pids+=($!); wa_pid=$!
wait_for 10 grep -q "joined on whatsapp" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/wa.log" "$dir/pregond.log"; exit 1; }

# jobs FILE PREFIX TEMPLATE DEBTOR:CONTACT... — one WhatsApp job each, tenant acme
jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, prefix, template = sys.argv[1:4]
with open(path, "w") as f:
    for i, pair in enumerate(sys.argv[4:]):
        d, c = pair.split(":")
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "acme", "campaign": "wa",
            "debtor_id": d, "channel": "whatsapp", "contact": c, "template_id": template,
            "jurisdiction": "RC", "time_zone": "UTC", "variables": {"nombre": "Ana",
            "monto": "$100", "producto": "tarjeta", "fecha": "5 de mayo", "enlace": "x.co",
            "referencia": f"ref-{i}", "acreedor": "Acme", "cuotas": "3", "monto_cuota": "$40"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
verdict() { grep "\"job_id\":\"$2\"" "$1" | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["verdict"], v["rule"] or "-")'; }
requests() { curl -s "$sb/_sandbox/requests?provider=whatsapp&limit=100000"; }
# all_state STATE TENANT:DEBTOR:JOB... — every job in STATE
all_state() { local s=$1; shift; for j in "$@"; do IFS=: read -r t d id <<<"$j"; [ "$(state "$t" "$d" "$id")" = "$s" ] || return 1; done; }
states() { for j in "$@"; do IFS=: read -r t d id <<<"$j"; echo -n "$id=$(state "$t" "$d" "$id") "; done; }
audit() { "$ctl" redis audit --redis-socket "$dir/redis.sock" 2>/dev/null; }
reason_of() { audit | grep "\"job\":\"$1\"" | grep "\"to\":\"$2\"" | tail -1; }
stat() { curl -s "$sb/_sandbox/stats" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['modules']['whatsapp'][sys.argv[1]])" "$1"; }
metric() { curl -s "$hops/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# 1. a template campaign: 6 debtors, 6 numbers, every job DELIVERED by the webhooks
args=(); want=(); for i in $(seq 1 6); do args+=("d$i:+521557000000$i"); want+=("acme:d$i:t$((i - 1))"); done
jobs "$dir/t.jsonl" t recordatorio_pago "${args[@]}"
submit "$dir/t.jsonl" >"$dir/t.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/t.out")" = 6 ] && ok || ko "campaign: $(cat "$dir/t.out")"
wait_for 30 all_state delivered "${want[@]}" && ok || ko "not all DELIVERED: $(states "${want[@]}")"
requests | /usr/bin/python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x["to"] == "+5215570000001"][0]
p = r["params"]; t = p["template"]; c = {x["type"]: x for x in t["components"]}
assert r["status"] == 200 and r["path"] == "/v21.0/1065550001/messages", r
assert p["to"] == "5215570000001" and p["type"] == "template", p
assert t["name"] == "recordatorio_pago" and t["language"]["code"] == "es_MX", t
assert [x["text"] for x in c["body"]["parameters"]] == ["Ana", "$100", "tarjeta", "5 de mayo"], c
assert c["header"]["parameters"][0]["text"] == "tarjeta" and c["button"]["parameters"][0]["text"] == "ref-0", c
assert p["biz_opaque_callback_data"] == "pg1 acme d1 t0", p
' && ok || ko "the template request: $(requests | head -c 1500)"
statuses_posted() { [ "$(stat statuses)" -ge 18 ]; }
wait_for 10 statuses_posted && ok || ko "sent, delivered and read not all posted: $(stat statuses) of 18"
[ "$(audit | grep -c '"to":"DELIVERED"')" = 6 ] && ok || ko "DELIVERED records: $(audit | grep -c '"to":"DELIVERED"'), want 6"
refused_forged() { metric 'pregon_hooks_refused_total{provider="whatsapp",reason="forged"}'; }
[ -z "$(refused_forged)" ] || [ "$(refused_forged)" = 0 ] && ok || ko "the sandbox's webhooks were refused as forged: $(refused_forged)"

# 2. each error class, scripted for one recipient each (the fault script of the sandbox)
script() { curl -sf "$sb/_sandbox/script" -d "{\"provider\": \"whatsapp\", \"to\": \"$1\", \"error_code\": $2, \"count\": ${3:-1}}" >/dev/null || ko "script $1 $2"; }
script +5215570000011 130429
script +5215570000012 80007
script +5215570000013 131056
script +5215570000014 131047
script +5215570000015 131026
script +5215570000016 131049
curl -sf "$sb/_sandbox/whatsapp/outcomes" -d '{"number": "+5215570000017", "status": "failed", "error_code": 131026}' >/dev/null || ko "outcome script"
jobs "$dir/e.jsonl" e recordatorio_pago e1:+5215570000011 e2:+5215570000012 e3:+5215570000013 \
  e4:+5215570000014 e5:+5215570000015 e6:+5215570000016 e7:+5215570000017
submit "$dir/e.jsonl" >"$dir/e.out"
wait_for 30 all_state delivered acme:e1:e0 acme:e2:e1 acme:e3:e2 && ok || ko "retried classes not delivered: $(states acme:e1:e0 acme:e2:e1 acme:e3:e2)"
wait_for 30 all_state failed acme:e4:e3 acme:e5:e4 acme:e6:e5 acme:e7:e6 && ok || ko "permanent classes not FAILED: $(states acme:e4:e3 acme:e5:e4 acme:e6:e5 acme:e7:e6)"
[ "$(requests | /usr/bin/python3 -c "import json,sys; print(sum(1 for r in json.load(sys.stdin) if r['to'] in ('+5215570000011', '+5215570000012', '+5215570000013')))")" = 6 ] \
  && ok || ko "the retried jobs were not tried exactly twice each"
audit >"$dir/audit-e.out"
grep '"job":"e1"' "$dir/audit-e.out" | pipe_has '"to":"RETRY"' && ok || ko "80007 not a RETRY: $(grep '"job":"e1"' "$dir/audit-e.out")"
grep '"job":"e3"' "$dir/audit-e.out" | grep '"to":"FAILED"' | pipe_has 'needs-template' && ok || ko "131047: $(grep '"job":"e3"' "$dir/audit-e.out")"
grep '"job":"e4"' "$dir/audit-e.out" | grep '"to":"FAILED"' | pipe_has 'undeliverable' && ok || ko "131026: $(grep '"job":"e4"' "$dir/audit-e.out")"
grep '"job":"e5"' "$dir/audit-e.out" | grep '"to":"FAILED"' | pipe_has 'marketing-limit: template recordatorio_pago, 1 so far' && ok || ko "131049: $(grep '"job":"e5"' "$dir/audit-e.out")"
grep '"job":"e6"' "$dir/audit-e.out" | pipe_has '"to":"SENT"' && grep '"job":"e6"' "$dir/audit-e.out" | grep '"to":"FAILED"' | pipe_has '131026' \
  && ok || ko "131026 by webhook: $(grep '"job":"e6"' "$dir/audit-e.out")"
# 131056: the retry waited for the pair interval (1 s here) after the refusal
requests | /usr/bin/python3 -c '
import json, sys
r = sorted((x["arrival_ms"], x["status"]) for x in json.load(sys.stdin) if x["to"] == "+5215570000013")
assert len(r) == 2 and r[0][1] == 400 and r[1][1] == 200 and r[1][0] - r[0][0] >= 1000, r
' && ok || ko "131056 retried too early: $(requests | grep -o '"to":"+5215570000013"[^}]*' | head)"
# 132001: a template the sandbox does not know; the next job of it is refused by the worker alone
jobs "$dir/h1.jsonl" h acuerdo_pago_confirmado h1:+5215570000021
submit "$dir/h1.jsonl" >/dev/null
wait_for 15 all_state failed acme:h1:h0 && ok || ko "132001 not FAILED: $(states acme:h1:h0)"
jobs "$dir/h2.jsonl" k acuerdo_pago_confirmado h2:+5215570000022
jobs "$dir/h3.jsonl" m recordatorio_pago h3:+5215570000023
submit "$dir/h2.jsonl" >/dev/null; submit "$dir/h3.jsonl" >/dev/null
wait_for 15 all_state failed acme:h2:k0 && ok || ko "the halted template's next job: $(states acme:h2:k0)"
wait_for 15 all_state delivered acme:h3:m0 && ok || ko "another template after a template halt: $(states acme:h3:m0)"
reason_of k0 FAILED | pipe_has 'template-halted' && ok || ko "k0's record: $(reason_of k0 FAILED)"
[ "$(requests | grep -c '+5215570000022')" = 0 ] && ok || ko "a halted template's job reached the API"
grep -q "channel halted" "$dir/wa.log" && ko "a template halt halted the channel: $(grep halted "$dir/wa.log")" || ok

# 3. pair-rate shaping: 3 jobs to each of 2 numbers (other debtors): 1.25 s apart per pair
pair_refused0=$(stat pair_refused)
jobs "$dir/p.jsonl" p recordatorio_pago p1:+5215570000100 p2:+5215570000100 p3:+5215570000100 \
  p4:+5215570000101 p5:+5215570000101 p6:+5215570000101
submit "$dir/p.jsonl" >"$dir/p.out"
want=(); for i in 0 1 2 3 4 5; do want+=("acme:p$((i + 1)):p$i"); done
wait_for 30 all_state delivered "${want[@]}" && ok || ko "pair jobs: $(states "${want[@]}")"
requests | /usr/bin/python3 -c '
import json, sys
by, ok = {}, {}
for r in json.load(sys.stdin):  # every request that reached the API, refused or not
    if r["to"] in ("+5215570000100", "+5215570000101"):
        by.setdefault(r["to"], []).append(r["arrival_ms"])
        ok[r["to"]] = ok.get(r["to"], 0) + (r["status"] == 200)
gaps = [b - a for t in by.values() for a, b in zip(sorted(t), sorted(t)[1:])]
assert sorted(ok.values()) == [3, 3], ok
assert min(gaps) >= 1000, gaps
print("pair gaps ms:", gaps)
' >"$dir/gaps.out" && ok || ko "a pair got two messages within 1 s: $(cat "$dir/gaps.out")"
[ "$(stat pair_refused)" = "$pair_refused0" ] && ok || ko "the sandbox refused $(( $(stat pair_refused) - pair_refused0 )) for the pair rate"

# 4. forged and unsigned webhooks: 403, counted, nothing changes
pid0=$(rcli hget "$(rkey job acme d1 t0)" pid)
before=$(refused_forged); before=${before:-0}
curl -sf "$sb/_sandbox/whatsapp/forge" -d "{\"kind\": \"status\", \"id\": \"$pid0\", \"status\": \"failed\", \"to\": \"+5215570000001\"}" >/dev/null || ko "forge route"
wait_for 10 sh -c "[ \"\$(curl -s '$hops/metrics' | awk '\$1 == \"pregon_hooks_refused_total{provider=\\\"whatsapp\\\",reason=\\\"forged\\\"}\" {print \$2}')\" = $((before + 1)) ]" \
  && ok || ko "forged webhook not counted: $(curl -s "$hops/metrics" | grep refused_total)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$hooks/whatsapp/webhook" -H 'Content-Type: application/json' \
  -d "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"$pid0\",\"status\":\"failed\"}]}}]}]}")
[ "$code" = 403 ] && ok || ko "unsigned webhook answered $code"
[ "$(state acme d1 t0)" = delivered ] && ok || ko "a forged webhook changed t0: $(state acme d1 t0)"
[ "$(curl -s "$hooks/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=$VERIFY&hub.challenge=42")" = 42 ] && ok || ko "GET verification"

# 5. replies: Baja opts out (WhatsApp, the tenant), the others are events pregond records
jobs "$dir/r.jsonl" r recordatorio_pago r1:+5215570000201 r2:+5215570000202 r3:+5215570000203
submit "$dir/r.jsonl" >/dev/null
sups() { "$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" 2>/dev/null; }
wait_for 15 sh -c "$ctl suppress list --tenant acme --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q 5215570000202" \
  && ok || ko "Baja not applied: $(sups)"
sups | grep 5215570000202 | pipe_has whatsapp && ok || ko "the opt-out is not WhatsApp's: $(sups)"
jobs "$dir/r2.jsonl" s recordatorio_pago x2:+5215570000202 x3:+5215570000203
submit "$dir/r2.jsonl" >"$dir/r2.out"
[ "$(verdict "$dir/r2.out" s0)" = "REJECTED suppressed.contact:opt-out" ] && ok || ko "a job to the opted-out number: $(verdict "$dir/r2.out" s0)"
[ "$(verdict "$dir/r2.out" s1)" = "ACCEPTED -" ] && ok || ko "a number that only asked: $(verdict "$dir/r2.out" s1)"
replies_posted() { [ "$(stat inbound)" -ge 3 ]; }
wait_for 15 replies_posted && ok || ko "the sandbox posted $(stat inbound) replies, want 3"
# 6. the 24-hour window: a free-form answer (respuesta_whatsapp) to the number that asked is
#    admitted and goes out as text (the sandbox, enforcing the window, accepts it); to a number
#    that never wrote it is REJECTED whatsapp.window and never sent
curl -sf "$sb/_sandbox/whatsapp/config" -d '{"enforce_window": true}' >/dev/null || ko "config"
jobs "$dir/w.jsonl" w respuesta_whatsapp r3:+5215570000203 t2:+5215570000002
submit "$dir/w.jsonl" >"$dir/w.out"
[ "$(verdict "$dir/w.out" w0)" = "ACCEPTED -" ] && ok || ko "free-form inside the window: $(verdict "$dir/w.out" w0)"
[ "$(verdict "$dir/w.out" w1)" = "REJECTED whatsapp.window" ] && ok || ko "free-form outside the window: $(verdict "$dir/w.out" w1)"
wait_for 15 all_state delivered acme:r3:w0 && ok || ko "the free-form answer: $(states acme:r3:w0)"
requests | /usr/bin/python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x["to"] == "+5215570000203" and x["params"].get("type") == "text"]
assert len(r) == 1 and r[0]["status"] == 200 and r[0]["params"]["text"]["body"].startswith("Hola Ana, gracias por escribirnos"), r
' && ok || ko "the free-form request: $(requests | grep -o '"to":"+5215570000203"[^}]*' | tail -2)"
[ "$(stat window_refused)" = 0 ] && ok || ko "the sandbox refused $(stat window_refused) outside its window"

# 7. 190: the channel halts with one line naming the token; a later job is not sent
script +5215570000301 190
jobs "$dir/z1.jsonl" z recordatorio_pago z1:+5215570000301
jobs "$dir/z2.jsonl" y recordatorio_pago z2:+5215570000302
submit "$dir/z1.jsonl" >/dev/null
wait_for 15 grep -q "channel halted" "$dir/wa.log" && ok || ko "190 did not halt: $(tail -5 "$dir/wa.log")"
submit "$dir/z2.jsonl" >/dev/null
[ "$(grep -c 'channel halted' "$dir/wa.log")" = 1 ] && grep 'channel halted' "$dir/wa.log" | pipe_has 'WHATSAPP_TOKEN' \
  && ok || ko "the halt line: $(grep 'channel halted' "$dir/wa.log")"
sleep 1 # nothing to poll for: a request that must not come
[ "$(requests | grep -c '+5215570000302')" = 0 ] && ok || ko "a job went out after the halt"
kill -0 "$pregond_pid" && ok || ko "pregond died"
kill -0 "$wa_pid" && ok || ko "pregon-whatsapp died on a halt (it should stay and hand back)"

echo "whatsapp: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
