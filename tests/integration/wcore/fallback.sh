#!/usr/bin/env bash
# fallback.sh BUILD_DIR — fallback to another channel, wrong numbers, payment claims and the
# events feed, broker side, over real processes: redis-server, pregond, fake WhatsApp, SMS and
# e-mail workers on the backend socket (fake_worker.py), the hooks socket played by
# hooks_client.py, the events feed read by events_sub.py.
#   1. a WhatsApp job FAILED fallback-eligible (131026), the report sent twice: one SMS job
#      (f1~sms, to the same number), dispatched once; the audit links the two;
#   2. a fallback whose SMS number is suppressed goes on to e-mail (fallback_contacts and
#      fallback_templates); suppress_contact suppresses the WhatsApp number (undeliverable);
#   3. fallback_of given by a submitter, a bad fallback contact or template (also through
#      pregonctl submit --json): REJECTED job.fields; an SMS fallback for a debtor who had an
#      SMS today is DEFERRED by the SMS cap (FB.yaml: one SMS a day) to tomorrow;
#   4. CO policy: a WhatsApp job sent at 18:50 Bogotá whose status webhook says failed at 19:30
#      (pregond's clock offset): the SMS fallback is DEFERRED to 07:00 the next morning, never
#      sent; the webhook again: DUPLICATE, one job;
#   5. WRONG_NUMBER: the number suppressed on every channel for the tenant (rule wrong-number),
#      the job's fallback_on_wrong_number sends it to e-mail, never to SMS at the wrong number;
#   6. PAYMENT_CLAIMED recorded (audit) and published; every applied event published with
#      Event.inbound naming the job and debtor it answers.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/wcore/lib.sh"
wc_setup fallback
mkdir -p "$dir/policies"
cp "$src/tests/integration/e2e/policies/RC.yaml" "$src/deploy/policies/CO.yaml" "$here/FB.yaml" "$dir/policies/"
export WC_POLICIES="$dir/policies"
wc_pregond 0
"$py" "$here/events_sub.py" "ipc://$dir/events" "$dir" "$dir/events.jsonl" 2>"$dir/sub.log" &
pids+=($!)
for c in WHATSAPP SMS EMAIL; do wc_worker $c; done
wait_for 10 sh -c "grep -q 'fake-whatsapp.*on whatsapp' '$dir/pregond.log' && grep -q 'fake-sms.*on sms' '$dir/pregond.log' && grep -q 'fake-email.*on email' '$dir/pregond.log'" \
  || { echo "fake workers never joined"; cat "$dir/pregond.log"; exit 1; }
audit() { "$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1; }
vars='"variables": {"nombre": "Ana", "monto": "$100"}'

# 1 and 2: the report path
cat >"$dir/script.json" <<'EOF'
{"WHATSAPP:+573002220001": {"outcome": "FAILED", "code": "131026", "detail": "undeliverable", "fallback_eligible": true, "repeat": 2},
 "WHATSAPP:+573002220002": {"outcome": "FAILED", "code": "131026", "detail": "undeliverable", "fallback_eligible": true, "suppress_contact": true}}
EOF
"$ctl" suppress add --tenant acme --contact +573002229999 --channel sms --rule operator --who ops:test --why "asked by phone" \
  --redis-socket "$dir/redis.sock" >/dev/null || ko "suppress add"
wc_submit >"$dir/v1" <<EOF
{"job_id": "f1", "tenant": "acme", "debtor_id": "d1", "channel": "WHATSAPP", "contact": "+573002220001", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["SMS"]}
{"job_id": "f2", "tenant": "acme", "debtor_id": "d2", "channel": "WHATSAPP", "contact": "+573002220002", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["SMS", "EMAIL"], "fallback_contacts": {"sms": "+573002229999", "email": "ana@example.com"}, "fallback_templates": {"email": "correo_aviso"}}
{"job_id": "f3", "tenant": "acme", "debtor_id": "d3", "channel": "SMS", "contact": "+573002220003", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_of": "f0"}
{"job_id": "f4", "tenant": "acme", "debtor_id": "d4", "channel": "WHATSAPP", "contact": "+573002220004", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["EMAIL"], "fallback_contacts": {"email": "not-an-address"}}
EOF
[ "$(verdict "$dir/v1" f1 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "f1: $(verdict "$dir/v1" f1)"
[ "$(verdict "$dir/v1" f2 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "f2: $(verdict "$dir/v1" f2)"
[ "$(verdict "$dir/v1" f3)" = "REJECTED job.fields fallback-of-given 0" ] && ok || ko "a submitter's fallback_of: $(verdict "$dir/v1" f3)"
[ "$(verdict "$dir/v1" f4)" = "REJECTED job.fields bad-fallback-contact 0" ] && ok || ko "a bad fallback contact: $(verdict "$dir/v1" f4)"
wait_for 10 dispatched SMS 'f1~sms' || ko "f1's fallback never dispatched on SMS: $(cat "$dir/SMS.out")"
[ "$(state acme d1 f1)" = failed ] && ok || ko "f1 not FAILED: $(state acme d1 f1)"
grep '"job": "f1~sms"' "$dir/SMS.out" | pipe_has '"contact": "+573002220001".*"fallback_of": "f1"' && ok || ko "f1~sms: $(grep f1 "$dir/SMS.out")"
wait_for 10 dispatched EMAIL 'f2~email' || ko "f2's fallback never reached e-mail: $(cat "$dir/EMAIL.out")"
grep '"job": "f2~email"' "$dir/EMAIL.out" | pipe_has '"contact": "ana@example.com".*"content": "email"' && ok || ko "f2~email: $(grep f2 "$dir/EMAIL.out")"
[ "$(state acme d2 'f2~sms')" = rejected ] && ok || ko "f2's SMS candidate (suppressed number): $(state acme d2 'f2~sms')"
"$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" >"$dir/sup.out"
grep -q '+573002220002.*whatsapp.*undeliverable' "$dir/sup.out" && ok || ko "suppress_contact: $(cat "$dir/sup.out")"
audit
[ "$(grep '"job":"f1"' "$dir/audit.out" | grep -c '"to":"FALLBACK"')" = 1 ] && ok || ko "f1's FALLBACK records: $(grep '"job":"f1"' "$dir/audit.out")"
grep '"job":"f1"' "$dir/audit.out" | grep '"to":"FALLBACK"' | pipe_has '"reason":"fallback-eligible".*"detail":"f1~sms on sms: ACCEPTED"' \
  && ok || ko "f1's FALLBACK record: $(grep '"job":"f1"' "$dir/audit.out" | grep FALLBACK)"
grep '"job":"f1~sms"' "$dir/audit.out" | grep '"to":"ACCEPTED"' | pipe_has '"detail":"fallback-of:f1"' \
  && ok || ko "f1~sms's admission record: $(grep 'f1~sms' "$dir/audit.out")"
grep '"job":"f1~sms"' "$dir/audit.out" | pipe_has '"to":"DUPLICATE"' && ok || ko "the report twice: no DUPLICATE of f1~sms"
[ "$(grep -c '"job": "f1~sms"' "$dir/SMS.out")" = 1 ] && ok || ko "f1~sms dispatched $(grep -c 'f1~sms' "$dir/SMS.out") times"
grep '"job":"f2"' "$dir/audit.out" | grep '"to":"FALLBACK"' | pipe_has 'f2~sms on sms: REJECTED' && ok || ko "f2's rejected candidate not linked"
grep '"job":"f2"' "$dir/audit.out" | grep '"to":"FALLBACK"' | pipe_has 'f2~email on email: ACCEPTED' && ok || ko "f2's e-mail fallback not linked"

# the SMS fallback goes through SMS's own caps: debtor c had an SMS today (FB: one a day)
wc_submit >"$dir/v1c" <<EOF
{"job_id": "c0", "tenant": "acme", "debtor_id": "c", "channel": "SMS", "contact": "+573002220005", "template_id": "wa_aviso", "jurisdiction": "FB", "time_zone": "UTC", $vars}
EOF
wait_for 10 dispatched SMS c0 || ko "c0 never sent"
"$py" - "$dir/script.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["WHATSAPP:+573002220005"] = {"outcome": "FAILED", "code": "131026", "fallback_eligible": True}
json.dump(s, open(sys.argv[1], "w"))
EOF
wc_submit >"$dir/v1d" <<EOF
{"job_id": "c1", "tenant": "acme", "debtor_id": "c", "channel": "WHATSAPP", "contact": "+573002220005", "template_id": "wa_aviso", "jurisdiction": "FB", "time_zone": "UTC", $vars, "fallback_channels": ["SMS"]}
EOF
[ "$(verdict "$dir/v1d" c1 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "c1 (WhatsApp, not capped): $(verdict "$dir/v1d" c1)"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme c 'c1~sms')' s)\" = deferred ]" \
  || ko "c1's SMS fallback not DEFERRED by the SMS cap: $(state acme c 'c1~sms')"
[ "$(rcli hget "$(rkey job acme c 'c1~sms')" r)" = fb.sms.daily ] && ok || ko "c1~sms deferred by '$(rcli hget "$(rkey job acme c 'c1~sms')" r)', not fb.sms.daily"
tomorrow=$(( ($(date +%s) / 86400 + 1) * 86400 ))
[ "$(rcli hget "$(rkey job acme c 'c1~sms')" u)" = "$tomorrow" ] && ok || ko "c1~sms deferred until $(rcli hget "$(rkey job acme c 'c1~sms')" u), not $tomorrow"

# a Messenger fallback outside the window: REJECTED messenger.window, its contact map written,
# so the debtor's message on Messenger is attributed and opens the window
"$py" - "$dir/script.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["WHATSAPP:+573002220006"] = {"outcome": "FAILED", "code": "131026", "fallback_eligible": True}
json.dump(s, open(sys.argv[1], "w"))
EOF
wc_submit >"$dir/v1e" <<EOF
{"job_id": "q1", "tenant": "acme", "debtor_id": "q", "channel": "WHATSAPP", "contact": "+573002220006", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["MESSENGER"], "fallback_contacts": {"messenger": "9001"}, "fallback_templates": {"messenger": "msgr_aviso"}}
EOF
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme q 'q1~messenger')' s)\" = rejected ]" \
  || ko "q1's Messenger fallback: $(state acme q 'q1~messenger')"
[ "$(rcli hget "$(rkey job acme q 'q1~messenger')" r)" = messenger.window ] && ok || ko "q1~messenger rule: $(rcli hget "$(rkey job acme q 'q1~messenger')" r)"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hlen '$(rkey contact messenger 9001)')\" = 1 ]" || ko "q1~messenger wrote no contact map"
r=$(wc_event '{"kind": "REPLY", "channel": "MESSENGER", "provider": "messenger", "contact": "9001", "text": "hola", "event_id": "m_q1"}')
[ "${r%% *}" = applied ] && ok || ko "q's Messenger message: $r"
[ -n "$(rcli get "$(rkey window acme q messenger 9001)")" ] && ok || ko "q's Messenger window not opened"

# pregonctl submit --json carries the fallback fields too
cat >"$dir/ctl.jsonl" <<EOF
{"job_id": "p1", "tenant": "acme", "debtor_id": "p", "channel": "whatsapp", "contact": "+573005550001", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["email"], "fallback_contacts": {"email": "no-address"}, "fallback_on_wrong_number": true}
{"job_id": "p2", "tenant": "acme", "debtor_id": "p", "channel": "whatsapp", "contact": "+573005550001", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["email"], "fallback_templates": {"mail": "correo_aviso"}}
EOF
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/ctl.jsonl" >"$dir/ctl.out" 2>&1
grep '"job_id":"p1"' "$dir/ctl.out" | pipe_has 'bad-fallback-contact' && ok || ko "pregonctl's fallback_contacts: $(cat "$dir/ctl.out")"
grep '"job_id":"p2"' "$dir/ctl.out" | pipe_has 'bad-fallback-template' && ok || ko "pregonctl's fallback_templates: $(cat "$dir/ctl.out")"

# 4: CO, 18:50 Bogotá on Wednesday 2027-02-10, then 19:30 (UTC-5: 23:50 and 00:30 UTC)
off1=$(($(date -ud 2027-02-10T23:50:00Z +%s) - $(date +%s)))
wc_pregond $off1
wait_for 10 grep -q 'fake-whatsapp.*on whatsapp' "$dir/pregond.log" || ko "the WhatsApp worker did not come back"
wc_submit >"$dir/v2" <<EOF
{"job_id": "g1", "tenant": "acme", "debtor_id": "g", "channel": "WHATSAPP", "contact": "+573004440001", "template_id": "wa_aviso", "jurisdiction": "CO", "time_zone": "America/Bogota", $vars, "fallback_channels": ["SMS"]}
EOF
[ "$(verdict "$dir/v2" g1 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "g1 at 18:50 Bogotá: $(verdict "$dir/v2" g1)"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme g g1)' s)\" = sent ]" || ko "g1 not SENT: $(state acme g g1)"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey provider whatsapp wamid.g1)' j)\" != '' ]" || ko "g1's provider id not mapped"
wc_pregond $((off1 + 40 * 60))
failed_g1='{"kind": "DELIVERY_STATUS", "channel": "WHATSAPP", "provider": "whatsapp", "provider_id": "wamid.g1", "status": "failed", "error_code": "131026", "fallback_eligible": true, "event_id": "wamid.g1:failed"}'
r=$(wc_event "$failed_g1")
[ "${r%% *}" = applied ] && ok || ko "g1's failed status: $r"
echo "$r" | pipe_has 'fallback g1~sms on sms: DEFERRED co.hours' && ok || ko "g1's fallback at 19:30: $r"
seven=$(date -ud 2027-02-11T12:00:00Z +%s)
[ "$(state acme g 'g1~sms')" = deferred ] && ok || ko "g1~sms not DEFERRED: $(state acme g 'g1~sms')"
[ "$(rcli hget "$(rkey job acme g 'g1~sms')" u)" = "$seven" ] && ok || ko "g1~sms deferred until $(rcli hget "$(rkey job acme g 'g1~sms')" u), not 07:00 Bogotá ($seven)"
r=$(wc_event "$failed_g1")
[ "${r%% *}" = duplicate ] && ok || ko "g1's failed status again: $r"
echo "$r" | pipe_has 'fallback g1~sms on sms: DUPLICATE' && ok || ko "g1's fallback again: $r"
sleep 0.5 # a dispatch would take one loop turn: give it a few hundred of them
dispatched SMS 'g1~sms' && ko "g1~sms was sent at 19:30 Bogotá" || ok

# 5 and 6: wrong number, payment claimed, the events feed (back to today's clock)
wc_pregond 0
wait_for 10 grep -q 'fake-whatsapp.*on whatsapp' "$dir/pregond.log" || ko "the WhatsApp worker did not come back"
wc_submit >"$dir/v3" <<EOF
{"job_id": "h1", "tenant": "acme", "debtor_id": "h", "channel": "WHATSAPP", "contact": "+573003330001", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["SMS", "EMAIL"], "fallback_on_wrong_number": true, "fallback_contacts": {"email": "h@example.com"}, "fallback_templates": {"email": "correo_aviso"}}
{"job_id": "k1", "tenant": "acme", "debtor_id": "k", "channel": "WHATSAPP", "contact": "+573003330002", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars, "fallback_channels": ["EMAIL"], "fallback_contacts": {"email": "k@example.com"}, "fallback_templates": {"email": "correo_aviso"}}
EOF
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme h h1)' s)\" = sent ] && [ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme k k1)' s)\" = sent ]" || ko "h1, k1 not SENT"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hlen '$(rkey contact whatsapp +573003330002)')\" = 1 ]" || ko "contact maps not written"
r=$(wc_event '{"kind": "WRONG_NUMBER", "channel": "WHATSAPP", "provider": "whatsapp", "contact": "+573003330001", "text": "número equivocado", "keyword": "numero equivocado", "event_id": "wamid.wn1"}')
[ "${r%% *}" = applied ] && ok || ko "wrong number: $r"
echo "$r" | pipe_has 'fallback h1~email on email: ACCEPTED' && ok || ko "wrong number's fallback: $r"
wait_for 10 dispatched EMAIL 'h1~email' || ko "h1~email never dispatched"
[ -z "$(state acme h 'h1~sms')" ] && ok || ko "a fallback to SMS at the wrong number: $(state acme h 'h1~sms')"
# k1 asks for no fallback on a wrong number: suppressed, nothing more
r=$(wc_event '{"kind": "WRONG_NUMBER", "channel": "WHATSAPP", "provider": "whatsapp", "contact": "+573003330002", "text": "8", "event_id": "wamid.wn2"}')
echo "$r" | pipe_has '^applied.*no fallback asked for a wrong number' && ok || ko "wrong number without fallback_on_wrong_number: $r"
[ -z "$(state acme k 'k1~email')" ] && ok || ko "k1 fell back"
"$ctl" suppress list --tenant acme --redis-socket "$dir/redis.sock" >"$dir/sup2.out"
grep -q '+573003330001.*\*.*wrong-number' "$dir/sup2.out" && ok || ko "the wrong number not suppressed on every channel: $(cat "$dir/sup2.out")"
wc_submit >"$dir/v4" <<EOF
{"job_id": "h2", "tenant": "acme", "debtor_id": "h9", "channel": "SMS", "contact": "+573003330001", "template_id": "wa_aviso", "jurisdiction": "RC", "time_zone": "UTC", $vars}
EOF
[ "$(verdict "$dir/v4" h2 | cut -d' ' -f2)" = suppressed.contact:wrong-number ] && ok || ko "an SMS to the wrong number: $(verdict "$dir/v4" h2)"
r=$(wc_event '{"kind": "PAYMENT_CLAIMED", "channel": "WHATSAPP", "provider": "whatsapp", "contact": "+573002220001", "text": "ya pagué", "keyword": "ya pague", "event_id": "wamid.pc1"}')
[ "${r%% *}" = applied ] && ok || ko "payment claimed: $r"
r=$(wc_event '{"kind": "REPLY", "channel": "WHATSAPP", "provider": "whatsapp", "contact": "+573002220001", "text": "¿cuánto debo?", "event_id": "wamid.re1"}')
[ "${r%% *}" = applied ] && ok || ko "reply: $r"
audit
grep '"to":"PAYMENT_CLAIMED"' "$dir/audit.out" | pipe_has '"job":"f1".*ya pagu' && ok || ko "no PAYMENT_CLAIMED record: $(grep PAYMENT "$dir/audit.out")"
grep '"to":"WRONG_NUMBER"' "$dir/audit.out" | pipe_has '"job":"h1"' && ok || ko "no WRONG_NUMBER record"
ev() { "$py" - "$dir/events.jsonl" "$@" <<'PY'
import json, sys
kind, job = sys.argv[2], sys.argv[3]
for line in open(sys.argv[1]):
    e = json.loads(line)
    i = e.get("inbound")
    if e["type"] == "inbound" and i and i["kind"] == kind and i["job_id"] == job:
        print(e["topic"].split("\x1f")[0], i["tenant"], i["debtor_id"], i["contact"], i["text"])
        break
PY
}
wait_for 5 sh -c "grep -q 'cu' '$dir/events.jsonl'" # the last event published
[ "$(ev PAYMENT_CLAIMED f1)" = "acme acme d1 +573002220001 ya pagué" ] && ok || ko "payment claimed on the feed: '$(ev PAYMENT_CLAIMED f1)'"
[ "$(ev REPLY f1)" = "acme acme d1 +573002220001 ¿cuánto debo?" ] && ok || ko "reply on the feed: '$(ev REPLY f1)'"
[ "$(ev WRONG_NUMBER h1 | cut -d' ' -f1-4)" = "acme acme h +573003330001" ] && ok || ko "wrong number on the feed: '$(ev WRONG_NUMBER h1)'"
[ "$(ev DELIVERY_STATUS g1 | cut -d' ' -f1-3)" = "acme acme g" ] && ok || ko "g1's failed status on the feed: '$(ev DELIVERY_STATUS g1)'"
grep '"type": "verdict"' "$dir/events.jsonl" | pipe_has '"job_id": "h1~email".*"detail": "fallback-of:h1"' && ok || ko "the fallback's verdict not on the feed"
kill -0 "$pregond_pid" 2>/dev/null && ok || ko "pregond died"
kill -TERM "$pregond_pid"; wait "$pregond_pid" 2>/dev/null
grep -q "stopping: fallbacks: 1 accepted, 0 deferred, 0 rejected, 0 expired, 0 duplicate; 0 dead contact points suppressed" "$dir/pregond.log" \
  && ok || ko "fallback counters: $(grep 'stopping: fallbacks' "$dir/pregond.log")"

echo "fallback: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
