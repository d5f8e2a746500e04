#!/usr/bin/env bash
# run.sh BUILD_DIR — the operator's levers over real processes: redis-server, pregond,
# pregon-sandbox, pregon-sms, pregonctl.
#   1. pause a campaign: its jobs are ACCEPTED and parked at dispatch (never sent, audited
#      PAUSED, their reservations given back: a second job of the same debtor is ACCEPTED
#      although the policy allows one a day), another campaign's go out meanwhile; `pauses`
#      lists it with who and why, and the PAUSE record is in the audit;
#   2. resume: every parked job is admitted again and sent exactly once;
#   3. cancel a campaign while no worker runs: every queued job CANCELLED, none sent once the
#      worker is back, reservations given back (the same debtors' next jobs ACCEPTED);
#      `jobs show` prints the state and the history with who cancelled and why;
#   4. cancel one job by id; usage errors exit 2;
#   5. submit --dry-run answers what admission would (ACCEPTED, DEFERRED by the cap, REJECTED
#      suppressed, DUPLICATE) and stores nothing: Redis' key count and the audit unchanged, and
#      the same jobs submitted for real afterwards are ACCEPTED, not DUPLICATE;
#   6. budgets: two concurrent submitters never exceed a campaign's budget; the refused are
#      REJECTED budget.campaign.total and audited; duplicates give their reservation back;
#      with on_exceed: defer a job past a daily budget is DEFERRED to 00:00 UTC, not charged,
#      and a total budget still rejects.
# Free ports and private sockets: runs never collide.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin levers
py=/usr/bin/python3
pol="$src/tests/integration/levers/policies"
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token FROM=+15005550006
R=(--redis-socket "$dir/redis.sock")

pg_redis_start "$dir" || exit 1
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: ""}
security: {curve: 0}   # plaintext: loopback endpoints only
policies: $pol
templates: $src/deploy/templates.yaml
budgets: $dir/budgets.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
ops: {listen: "127.0.0.1:0"}
YAML
cat >"$dir/budgets.yaml" <<YAML
costs: {sms: 0.5}
tenants:
  acme:
    costs: {sms: 1}
    campaigns:
      bud: {total: 50}
      bud2: {daily: 3}
  beta:
    costs: {sms: 1}
    on_exceed: defer
    campaigns:
      bud3: {daily: 2}
      bud4: {total: 1}
      bud5: {daily: 0.5}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pregond_pid=$!; pids+=($pregond_pid)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
start_sms() {
  TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" --worker-id sms-levers \
    --broker "ipc://$dir/back" --base-url "$sb" --from $FROM --heartbeat-ms 200 \
    --policy-dir "$pol" 2>>"$dir/sms.log" &
  sms_pid=$!; pids+=($sms_pid)
  wait_for 10 sh -c "[ \$(grep -c 'joined on sms' '$dir/pregond.log') -ge $1 ]" || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }
}
start_sms 1
# jobs FILE CAMPAIGN PREFIX FIRST COUNT: one job each for debtors dFIRST.., numbers +5215570NNNNN
jobs() {
  $py - "$@" <<'PY'
import json, os, sys
path, campaign, prefix, first, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with open(path, "w") as f:
    for i in range(first, first + count):
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": os.environ.get("TENANT", "acme"), "campaign": campaign,
            "debtor_id": f"d{i}", "channel": "sms", "contact": f"+5215570{i:05d}",
            "template_id": "aviso_mora_sms", "jurisdiction": "LV", "time_zone": "UTC",
            "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta",
            "monto": "$100", "telefono": "800", "enlace": "x.co"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
count() { grep -c "\"verdict\":\"$2\"" "$1"; }
state() { rcli hget "$(rkey job acme "$1" "$2")" s; }
# sent_to FIRST COUNT: messages the sandbox received for those debtors' numbers
sent_to() {
  curl -s "$sb/_sandbox/requests?limit=100000" | $py -c '
import json, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
want = {"+5215570%05d" % i for i in range(first, first + count)}
reqs = json.load(sys.stdin)
reqs = reqs.get("requests", reqs) if isinstance(reqs, dict) else reqs
n = 0
for r in reqs:
    if any(w in json.dumps(r) for w in want): n += 1
print(n)' "$1" "$2"
}
# the sunrise wave's tally (pg:{sN}:due, by channel and hour) agrees with the deferred sets
wave_ok() {
  local s z w
  for s in $(seq 0 15); do
    z=$(rcli zcard "pg:{s$s}:deferred"); w=$(rcli hvals "pg:{s$s}:due" | awk '{t += $1} END {print t + 0}')
    [ "$z" = "$w" ] || { echo "shard $s: $z deferred, $w in the wave ($(rcli hgetall "pg:{s$s}:due" | tr '\n' ' '))"; return 1; }
  done
}
parked() { local n=0; for s in $(seq 0 15); do n=$((n + $(rcli zcard "pg:{s$s}:paused"))); done; echo $n; }
op=("$ctl")

# 1. pause campaign c1; c1's jobs park, c2's go out
"$ctl" pause --tenant acme --campaign c1 --who ops@acme --why "wrong template" "${R[@]}" >"$dir/p.out" 2>&1 \
  && grep -q "paused tenant acme, campaign c1" "$dir/p.out" && ok || ko "pause: $(cat "$dir/p.out")"
"$ctl" pauses "${R[@]}" | grep "acme" | grep "c1" | pipe_has "wrong template" && ok || ko "pauses: $("$ctl" pauses "${R[@]}")"
jobs "$dir/c1.jsonl" c1 a 0 20; jobs "$dir/c2.jsonl" c2 b 100 5
submit "$dir/c1.jsonl" >"$dir/c1.out"; submit "$dir/c2.jsonl" >"$dir/c2.out"
[ "$(count "$dir/c1.out" ACCEPTED)" = 20 ] && [ "$(count "$dir/c2.out" ACCEPTED)" = 5 ] && ok || ko "submit: $(head -2 "$dir/c1.out")"
c2_sent() { [ "$(sent_to 100 5)" = 5 ]; }
wait_for 20 c2_sent && ok || ko "c2 not sent while c1 paused: $(sent_to 100 5)"
all_parked() { [ "$(parked)" = 20 ]; }
wait_for 20 all_parked && ok || ko "parked: $(parked) of 20"
[ "$(sent_to 0 20)" = 0 ] && ok || ko "a paused job was sent: $(sent_to 0 20)"
[ "$(state d3 a3)" = deferred ] && ok || ko "parked job state: $(state d3 a3)"
rcli xrange "pg:{s$(( $(st=$("$ctl" redis key job acme d3 a3 "${R[@]}"); echo "$st" | grep -o '{s[0-9]*}' | tr -dc 0-9) ))}:audit" - + \
  | pipe_has PAUSED && ok || ko "no PAUSED record for a3"
n_pause=0; for s in $(seq 0 15); do n_pause=$((n_pause + $(rcli xrange "pg:{s$s}:audit" - + | grep -c '^PAUSE$'))); done
[ $n_pause = 1 ] && ok || ko "PAUSE records: $n_pause, want 1 (the home shard's)"
# the reservation was given back: the same debtor's second job is ACCEPTED (cap 1 a day)
jobs "$dir/c1b.jsonl" c9 e 0 1
submit "$dir/c1b.jsonl" >"$dir/c1b.out"
[ "$(count "$dir/c1b.out" ACCEPTED)" = 1 ] && ok || ko "reservation of a parked job held: $(cat "$dir/c1b.out")"

# 2. resume: every parked job admitted again and sent once (d0's second job took d0's day:
#    a0 is DEFERRED to tomorrow, the other 19 go)
"$ctl" resume --tenant acme --campaign c1 --who ops@acme --why "template fixed" "${R[@]}" >"$dir/r.out" 2>&1 \
  && ok || ko "resume: $(cat "$dir/r.out")"
[ -z "$("$ctl" pauses "${R[@]}" | grep acme)" ] && ok || ko "pause still listed after resume"
c1_sent() { [ "$(sent_to 1 19)" = 19 ]; }
wait_for 30 c1_sent && ok || ko "resumed jobs sent: $(sent_to 1 19) of 19"
[ "$(state d0 a0)" = deferred ] && [ "$(parked)" = 0 ] && ok || ko "a0 after resume: $(state d0 a0), parked $(parked)"
[ "$(sent_to 0 1)" = 1 ] && ok || ko "d0: $(sent_to 0 1) messages, want 1 (e0)"
# parked, unparked (due now), admitted again and deferred to tomorrow: the wave moved with it
w=$(wave_ok) && [ "$(rcli hget "$(rkey job acme d0 a0 | sed 's/:j:.*/:due/')" "sms|$(( $(rcli hget "$(rkey job acme d0 a0)" u) / 3600 ))")" -ge 1 ] \
  && ok || ko "wave after resume: $w"

# 3. cancel a campaign while no worker runs
kill -TERM $sms_pid; wait $sms_pid 2>/dev/null
jobs "$dir/c3.jsonl" c3 c 200 10
submit "$dir/c3.jsonl" >"$dir/c3.out"
[ "$(count "$dir/c3.out" ACCEPTED)" = 10 ] && ok || ko "c3 submit: $(head -2 "$dir/c3.out")"
"$ctl" jobs cancel --tenant acme --campaign c3 --who ops@acme --why "campaign withdrawn" "${R[@]}" >"$dir/x.out" 2>&1 \
  && grep -q "cancelled 10," "$dir/x.out" && ok || ko "cancel campaign: $(cat "$dir/x.out")"
[ "$(state d204 c204)" = cancelled ] && ok || ko "cancelled job state: $(state d204 c204)"
start_sms 2
jobs "$dir/c4.jsonl" c4 f 200 10   # the same debtors: their reservations were given back
# (submitted with the endpoint read from pregond's own configuration file)
"$ctl" submit --config "$dir/pregon.yaml" --json "$dir/c4.jsonl" >"$dir/c4.out" 2>/dev/null
[ "$(count "$dir/c4.out" ACCEPTED)" = 10 ] && ok || ko "reservations of cancelled jobs held: $(grep -v ACCEPTED "$dir/c4.out" | head -2)"
c4_sent() { [ "$(sent_to 200 10)" = 10 ]; }
wait_for 20 c4_sent && ok || ko "c4: $(sent_to 200 10) sent, want 10 (and none of c3)"
"$ctl" jobs show --tenant acme --debtor d204 --job c204 "${R[@]}" >"$dir/show.out" 2>&1
grep -q "s    cancelled" "$dir/show.out" && grep -q "to=CANCELLED" "$dir/show.out" && grep -q "to=ACCEPTED" "$dir/show.out" \
  && grep -q "campaign withdrawn" "$dir/show.out" && ok || ko "jobs show: $(cat "$dir/show.out")"

# 4. one job by id; a dispatched or finished one is refused; usage
jobs "$dir/c5.jsonl" c5 g 300 1
kill -TERM $sms_pid; wait $sms_pid 2>/dev/null
submit "$dir/c5.jsonl" >/dev/null
"$ctl" jobs cancel --tenant acme --debtor d300 --job g300 --who ops --why test "${R[@]}" | pipe_has "cancelled 1," && ok || ko "cancel one job"
"$ctl" jobs cancel --tenant acme --debtor d201 --job f201 --who ops --why test "${R[@]}" >"$dir/y.out"; rc=$?
[ $rc = 1 ] && grep -q "refused 1" "$dir/y.out" && ok || ko "cancel of a sent job: exit $rc $(cat "$dir/y.out")"
# a deferred job cancelled: out of the deferred set and out of the wave
"$ctl" jobs cancel --tenant acme --debtor d0 --job a0 --who ops --why test "${R[@]}" | pipe_has "cancelled 1," && ok || ko "cancel a deferred job"
w=$(wave_ok) && [ "$(state d0 a0)" = cancelled ] && ok || ko "wave after cancelling a deferred job: $w"
"$ctl" jobs cancel --tenant acme --campaign c3 "${R[@]}" >/dev/null 2>&1; [ $? = 2 ] && ok || ko "cancel without --who/--why is not a usage error"
"$ctl" pause --campaign c3 --who a --why b "${R[@]}" >/dev/null 2>&1; [ $? = 2 ] && ok || ko "pause without --tenant is not a usage error"
"$ctl" pause --tenant acme --who a --why "$(head -c 2000 /dev/zero | tr '\0' x)" "${R[@]}" >"$dir/long.out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "up to 1024" "$dir/long.out" && [ -z "$("$ctl" pauses "${R[@]}" | grep acme)" ] && ok || ko "an oversized --why: exit $rc $(cat "$dir/long.out")"

# 5. dry run: the verdicts of now, nothing stored (key count and audit length unchanged)
audit_len() { local n=0; for s in $(seq 0 15); do n=$((n + $(rcli xlen "pg:{s$s}:audit"))); done; echo $n; }
"$ctl" suppress add --tenant acme --contact +521557000402 --who ops --why "asked by phone" "${R[@]}" >/dev/null 2>&1 || ko "suppress add"
jobs "$dir/d1.jsonl" c6 h 400 3            # new debtors; the third's number is suppressed
jobs "$dir/d2.jsonl" c4 f 201 1            # d201 was contacted today (cap 1): DEFERRED; id f201 known: DUPLICATE
jobs "$dir/d3.jsonl" c7 k 201 1            # a new id for d201: DEFERRED by the cap
cat "$dir/d1.jsonl" "$dir/d2.jsonl" "$dir/d3.jsonl" >"$dir/dry.jsonl"
keys0=$(rcli dbsize); alen0=$(audit_len)
"$ctl" submit --dry-run --endpoint "ipc://$dir/front" --json "$dir/dry.jsonl" >"$dir/dry.out" 2>/dev/null
[ "$(rcli dbsize)" = "$keys0" ] && [ "$(audit_len)" = "$alen0" ] && ok || ko "dry run stored something: keys $keys0 -> $(rcli dbsize), audit $alen0 -> $(audit_len)"
[ "$(count "$dir/dry.out" ACCEPTED)" = 2 ] && grep -q '"job_id":"h402","verdict":"REJECTED"' "$dir/dry.out" \
  && grep -q '"job_id":"f201","verdict":"DUPLICATE"' "$dir/dry.out" \
  && grep -q '"job_id":"k201","verdict":"DEFERRED","rule":"lv.daily"' "$dir/dry.out" && ok || ko "dry-run verdicts: $(cat "$dir/dry.out")"
submit "$dir/d1.jsonl" >"$dir/d1.out"      # for real now: not duplicates of the dry run
[ "$(count "$dir/d1.out" ACCEPTED)" = 2 ] && ! grep -q DUPLICATE "$dir/d1.out" && ok || ko "after the dry run: $(cat "$dir/d1.out")"

# 6. budgets: two submitters at once never spend past a campaign's budget (50 messages at 1
#    each); what does not fit is REJECTED budget.campaign.total, audited; a dry run says so too
jobs "$dir/b1.jsonl" bud m 1000 60; jobs "$dir/b2.jsonl" bud n 2000 60
submit "$dir/b1.jsonl" >"$dir/b1.out" & p1=$!
submit "$dir/b2.jsonl" >"$dir/b2.out" & p2=$!
wait $p1 $p2
acc=$(( $(count "$dir/b1.out" ACCEPTED) + $(count "$dir/b2.out" ACCEPTED) ))
rej=$(cat "$dir/b1.out" "$dir/b2.out" | grep -c '"verdict":"REJECTED","rule":"budget.campaign.total","reason":"budget"')
[ $acc = 50 ] && [ $rej = 70 ] && ok || ko "budget: $acc accepted (want 50), $rej rejected by the budget (want 70)"
spent=$(rcli hget "$(rkey budget acme 2>/dev/null || echo none)" ct:bud 2>/dev/null)
[ "$spent" = 50000000 ] && ok || ko "spent on bud: $spent (want 50000000 millionths)"
jobs "$dir/b3.jsonl" bud q 3000 1
"$ctl" submit --dry-run --endpoint "ipc://$dir/front" --json "$dir/b3.jsonl" 2>/dev/null | pipe_has '"rule":"budget.campaign.total"' \
  && ok || ko "dry run of an over-budget job"
# a job that is not ACCEPTED gives its reservation back: the daily budget of 3 holds 3 jobs,
# whatever else was refused before them (a duplicate)
jobs "$dir/b4.jsonl" bud2 r 4000 2; submit "$dir/b4.jsonl" >/dev/null
submit "$dir/b4.jsonl" >"$dir/b4dup.out"   # duplicates: reserved, then given back
jobs "$dir/b5.jsonl" bud2 s 5000 3; submit "$dir/b5.jsonl" >"$dir/b5.out"
[ "$(count "$dir/b4dup.out" DUPLICATE)" = 2 ] && [ "$(count "$dir/b5.out" ACCEPTED)" = 1 ] \
  && [ "$(grep -c budget.campaign.daily "$dir/b5.out")" = 2 ] && ok || ko "refund of duplicates: $(cat "$dir/b5.out")"
ops=http://127.0.0.1:$(grep -m1 -o "on port [0-9]*" "$dir/pregond.log" | grep -o "[0-9]*$")
curl -sf "$ops/metrics" >"$dir/m.txt"
grep -q '^pregon_budget_spent{tenant="acme",campaign="bud",period="total"} 50$' "$dir/m.txt" \
  && grep -q '^pregon_budget_limit{tenant="acme",campaign="bud",period="total"} 50$' "$dir/m.txt" \
  && promtool check metrics <"$dir/m.txt" && ok || ko "budget metrics: $(grep budget "$dir/m.txt")"
# on_exceed: defer (tenant beta)
TENANT=beta jobs "$dir/b6.jsonl" bud3 t 6000 3; submit "$dir/b6.jsonl" >"$dir/b6.out"
midnight=$(( ($(date +%s) / 86400 + 1) * 86400 ))
[ "$(count "$dir/b6.out" ACCEPTED)" = 2 ] \
  && grep -q "\"verdict\":\"DEFERRED\",\"rule\":\"budget.campaign.daily\",\"reason\":\"budget\",\"until\":\"$(date -u -d "@$midnight" +%Y-%m-%dT%H:%M:%SZ)\"" "$dir/b6.out" \
  && ok || ko "on_exceed defer: $(cat "$dir/b6.out")"
spent=$(rcli hget "$(rkey budget beta)" "cd:bud3:$(date -u +%Y%m%d)")
d=$(grep '"verdict":"DEFERRED"' "$dir/b6.out" | grep -o '"job_id":"t[0-9]*"' | grep -o 't[0-9]*')
[ "$spent" = 2000000 ] && [ "$(rcli hget "$(rkey job beta "d${d#t}" "$d")" s)" = deferred ] && ok || ko "deferred by the budget: spent $spent, $d $(rcli hget "$(rkey job beta "d${d#t}" "$d")" s)"
TENANT=beta jobs "$dir/b7.jsonl" bud4 u 7000 2; submit "$dir/b7.jsonl" >"$dir/b7.out"
[ "$(count "$dir/b7.out" ACCEPTED)" = 1 ] && grep -q '"verdict":"REJECTED","rule":"budget.campaign.total"' "$dir/b7.out" \
  && ok || ko "a total budget under on_exceed defer: $(cat "$dir/b7.out")"
# a job dearer than the budget itself would wait for ever: refused even under defer
TENANT=beta jobs "$dir/b8.jsonl" bud5 v 8000 1; submit "$dir/b8.jsonl" >"$dir/b8.out"
grep -q '"verdict":"REJECTED","rule":"budget.campaign.daily","reason":"budget"' "$dir/b8.out" \
  && ok || ko "a job costing more than its daily budget, under on_exceed defer: $(cat "$dir/b8.out")"
n_budget=0; for s in $(seq 0 15); do n_budget=$((n_budget + $(rcli xrange "pg:{s$s}:audit" - + | grep -c '^budget.campaign.total$'))); done
[ $n_budget -ge 70 ] && ok || ko "budget refusals audited: $n_budget"

# 7. the wave's tally is computed again from the deferred sets when pregond connects: one an
#    upgrade left empty (a library without it) or with a wrong field is right again
deferred=0; for s in $(seq 0 15); do deferred=$((deferred + $(rcli zcard "pg:{s$s}:deferred"))); rcli del "pg:{s$s}:due" >/dev/null; done
rcli hset "pg:{s0}:due" "sms|1" 7 >/dev/null
[ "$deferred" -ge 1 ] && ! wave_ok >/dev/null && ok || ko "no deferred job to count, or the tally was not spoilt ($deferred deferred)"
kill -TERM "$pregond_pid"; wait "$pregond_pid" 2>/dev/null
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond2.log" &
pregond_pid=$!; pids+=($pregond_pid)
wait_for 10 grep -q "pregond: serving" "$dir/pregond2.log" || ko "pregond did not start again: $(cat "$dir/pregond2.log")"
w=$(wave_ok) && [ -z "$(rcli hget "pg:{s0}:due" "sms|1")" ] && ok || ko "the tally after pregond connected again: $w"

# 8. a deferred job coming due on a broker that no longer serves its channel waits an hour more
#    (DEFERRED broker.channels channel-disabled, once), never rejected, never back every sweep
kill -TERM "$pregond_pid"; wait "$pregond_pid" 2>/dev/null
jk=$(rkey job beta "d${d#t}" "$d"); sk=${jk%%:j:*}
rcli zadd "$sk:deferred" 0 "$jk" >/dev/null   # due now (the test's hand: its midnight is hours away)
sed 's/^dispatch:/channels: email\ndispatch:/' "$dir/pregon.yaml" >"$dir/noms.yaml"
"$build/broker/pregond" --config "$dir/noms.yaml" 2>"$dir/pregond3.log" &
pregond_pid=$!; pids+=($pregond_pid)
wait_for 10 grep -q "pregond: serving" "$dir/pregond3.log" || ko "pregond (email only) did not start: $(cat "$dir/pregond3.log")"
disabled_deferred() { rcli xrange "$sk:audit" - + | pipe_has -x 'channel-disabled'; }
wait_for 10 disabled_deferred && ok || ko "no channel-disabled deferral of $d: $(rcli hget "$jk" s)"
score=$(rcli zscore "$sk:deferred" "$jk")
[ "$(rcli hget "$jk" s)" = deferred ] && [ "${score%.*}" -ge $(( $(date +%s) + 3500 )) ] \
  && [ "$(rcli xrange "$sk:audit" - + | grep -c -x 'channel-disabled')" = 1 ] && ok \
  || ko "$d after a disabled channel's sweep: $(rcli hget "$jk" s), due $score, $(rcli xrange "$sk:audit" - + | grep -c -x 'channel-disabled') records"
w=$(wave_ok) && ok || ko "the wave after the channel-disabled deferral: $w"

echo "levers: $pass passed, $fail failed"
[ $fail = 0 ]
