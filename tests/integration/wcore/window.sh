#!/usr/bin/env bash
# window.sh BUILD_DIR — the 24-hour service window of WhatsApp and Messenger, broker side, over
# real processes: redis-server, pregond, fake WhatsApp and Messenger workers on the backend
# socket, the hooks socket played by hooks_client.py. A free-form WhatsApp job and a Messenger
# job are REJECTED outside the window (whatsapp.window / messenger.window, window-closed) while
# a template WhatsApp job is admitted; a message from the debtor opens the window (the Messenger
# one attributed through the contact map the refusal wrote): the same jobs are then admitted
# and dispatched with Dispatch.window_until_ms 24 h ahead; a job queued inside the window but
# leased after it closed is REJECTED at dispatch; 24 h later (pregond's clock offset) free-form
# is refused again, the template still admitted.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/wcore/lib.sh"
wc_setup window
wc_pregond 0
wc_worker WHATSAPP
wc_worker MESSENGER
wait_for 10 sh -c "grep -q 'fake-whatsapp.*on whatsapp' '$dir/pregond.log' && grep -q 'fake-messenger.*on messenger' '$dir/pregond.log'" \
  || { echo "fake workers never joined"; cat "$dir/pregond.log"; exit 1; }
job() { # ID DEBTOR CHANNEL CONTACT TEMPLATE
  echo "{\"job_id\": \"$1\", \"tenant\": \"acme\", \"debtor_id\": \"$2\", \"channel\": \"$3\", \"contact\": \"$4\", \"template_id\": \"$5\", \"jurisdiction\": \"RC\", \"time_zone\": \"UTC\", \"variables\": {\"nombre\": \"Ana\", \"monto\": \"\$100\"}}"
}
wa=+573001110001 psid=7001
{ job w1 dw WHATSAPP $wa wa_libre; job w2 dw WHATSAPP $wa wa_aviso; job m1 dm MESSENGER $psid msgr_aviso; } | wc_submit >"$dir/v1" \
  || ko "submit: $(cat "$dir/v1")"
[ "$(verdict "$dir/v1" w1)" = "REJECTED whatsapp.window window-closed 0" ] && ok || ko "free-form outside the window: $(verdict "$dir/v1" w1)"
[ "$(verdict "$dir/v1" w2 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "template job: $(verdict "$dir/v1" w2)"
[ "$(verdict "$dir/v1" m1)" = "REJECTED messenger.window window-closed 0" ] && ok || ko "messenger outside the window: $(verdict "$dir/v1" m1)"
wait_for 10 dispatched WHATSAPP w2 || ko "w2 never dispatched"
grep '"job": "w2"' "$dir/WHATSAPP.out" | pipe_has '"window_until_ms": 0' && ok || ko "a template job carries a window: $(grep w2 "$dir/WHATSAPP.out")"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hlen '$(rkey contact messenger $psid)')\" = 1 ]" \
  || ko "the refused Messenger job wrote no contact map"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hlen '$(rkey contact whatsapp $wa)')\" = 1 ]" \
  || ko "w2's dispatch wrote no contact map"
[ "$(rcli exists "$(rkey window acme dw whatsapp $wa)")" = 0 ] && ok || ko "a window before any message"

# the debtor writes: on WhatsApp (w2's contact map) and on Messenger (m1's)
r=$(wc_event "{\"kind\": \"REPLY\", \"channel\": \"WHATSAPP\", \"provider\": \"whatsapp\", \"contact\": \"$wa\", \"text\": \"hola\", \"event_id\": \"wamid.in1\"}")
[ "${r%% *}" = applied ] && ok || ko "whatsapp reply: $r"
r=$(wc_event "{\"kind\": \"REPLY\", \"channel\": \"MESSENGER\", \"provider\": \"messenger\", \"contact\": \"$psid\", \"text\": \"hola\", \"event_id\": \"m_in1\"}")
[ "${r%% *}" = applied ] && ok || ko "messenger reply: $r"
now_ms=$(($(date +%s) * 1000))
wu=$(rcli get "$(rkey window acme dw whatsapp $wa)")
[ -n "$wu" ] && [ "$wu" -ge $((now_ms + 86400000 - 60000)) ] && [ "$wu" -le $((now_ms + 86400000 + 60000)) ] \
  && ok || ko "the WhatsApp window closes at '$wu', not 24 h from $now_ms"
[ -n "$(rcli get "$(rkey window acme dm messenger $psid)")" ] && ok || ko "no Messenger window"
# the reply twice: nothing more
r=$(wc_event "{\"kind\": \"REPLY\", \"channel\": \"WHATSAPP\", \"provider\": \"whatsapp\", \"contact\": \"$wa\", \"text\": \"hola\", \"event_id\": \"wamid.in1\"}")
[ "${r%% *}" = duplicate ] && ok || ko "the same reply twice: $r"

{ job w3 dw WHATSAPP $wa wa_libre; job m2 dm MESSENGER $psid msgr_aviso; job w3b other WHATSAPP $wa wa_libre; } | wc_submit >"$dir/v2"
[ "$(verdict "$dir/v2" w3 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "free-form inside the window: $(verdict "$dir/v2" w3)"
[ "$(verdict "$dir/v2" m2 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "messenger inside the window: $(verdict "$dir/v2" m2)"
# the window is the debtor's the message was attributed to: another debtor of the tenant at the
# same number has none (the safe side)
[ "$(verdict "$dir/v2" w3b | cut -d' ' -f2)" = whatsapp.window ] && ok || ko "another debtor's free-form: $(verdict "$dir/v2" w3b)"
wait_for 10 dispatched WHATSAPP w3 || ko "w3 never dispatched"
wait_for 10 dispatched MESSENGER m2 || ko "m2 never dispatched"
grep '"job": "w3"' "$dir/WHATSAPP.out" | pipe_has "\"window_until_ms\": $wu" && ok || ko "w3's Dispatch.window_until_ms is not $wu: $(grep w3 "$dir/WHATSAPP.out")"
grep '"job": "m2"' "$dir/MESSENGER.out" | pipe_has '"window_until_ms": 1[0-9]\{12\}' && ok || ko "m2's Dispatch has no window: $(grep m2 "$dir/MESSENGER.out")"

# queued inside the window, leased after it closed: REJECTED at dispatch, audited
kill -TERM "$worker_WHATSAPP"; wait "$worker_WHATSAPP" 2>/dev/null
wait_for 10 grep -q "fake-whatsapp on whatsapp left" "$dir/pregond.log" || ko "the WhatsApp worker did not leave: $(grep fake-whatsapp "$dir/pregond.log" | tail -3)"
job w4 dw WHATSAPP $wa wa_libre | wc_submit >"$dir/v3"
[ "$(verdict "$dir/v3" w4 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "w4 inside the window: $(verdict "$dir/v3" w4)"
[ "$(state acme dw w4)" = queued ] && ok || ko "w4 not queued: $(state acme dw w4)"

# 24 h and 2 minutes later, by pregond's clock
wc_pregond $((86400 + 120))
wc_worker WHATSAPP
wait_for 10 sh -c "[ \"\$(redis-cli -s '$dir/redis.sock' hget '$(rkey job acme dw w4)' s)\" = rejected ]" \
  || ko "w4 leased after its window closed: $(state acme dw w4)"
dispatched WHATSAPP w4 && ko "w4 was dispatched after its window closed" || ok
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep '"job":"w4"' "$dir/audit.out" | grep '"to":"REJECTED"' | pipe_has 'whatsapp.window.*window-closed.*dispatch re-check' \
  && ok || ko "w4's dispatch refusal not audited: $(grep '"job":"w4"' "$dir/audit.out")"
grep '"job":"w1"' "$dir/audit.out" | pipe_has '"rule":"whatsapp.window","reason":"window-closed"' \
  && ok || ko "w1's refusal not audited: $(grep '"job":"w1"' "$dir/audit.out")"
{ job w5 dw WHATSAPP $wa wa_libre; job w6 dw WHATSAPP $wa wa_aviso; job m3 dm MESSENGER $psid msgr_aviso; } | wc_submit >"$dir/v4"
[ "$(verdict "$dir/v4" w5)" = "REJECTED whatsapp.window window-closed 0" ] && ok || ko "free-form 24 h later: $(verdict "$dir/v4" w5)"
[ "$(verdict "$dir/v4" w6 | cut -d' ' -f1)" = ACCEPTED ] && ok || ko "template 24 h later: $(verdict "$dir/v4" w6)"
[ "$(verdict "$dir/v4" m3)" = "REJECTED messenger.window window-closed 0" ] && ok || ko "messenger 24 h later: $(verdict "$dir/v4" m3)"
kill -0 "$pregond_pid" 2>/dev/null && ok || ko "pregond died"

echo "window: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
