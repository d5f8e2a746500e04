#!/usr/bin/env bash
# run.sh BUILD_DIR — issue 9's backend probes re-run, every part real: redis-server, pregond,
# pregon-sms and pregon-sandbox (a 400 ms provider latency, so leases are held while the probes
# run), with hostile_worker.py as the hostile peers on pregond's backend socket (plaintext: every
# peer is the anonymous identity, so only the lease nonce, the holder's worker id, the credit cap
# and the table's pools stand in the way). Checked at the sandbox and in Redis:
#   1. forged RETRY / HANDED_BACK / SKIPPED / CONFIG_ERROR / DELIVERED for guessed lease ids
#      ("attempt/job key", the old form, and random nonces) while the real worker holds the
#      leases, and for leases a hostile peer holds itself reported by another connection: 0 jobs
#      sent twice, the holder's jobs never re-dispatched, the channel not halted (20 of 20 of
#      the next batch sent), a forged DELIVERED leaves sent jobs sent;
#   2. a peer announcing credit 10^9 that never reports gets at most dispatch.max_credit jobs,
#      the real worker sends the rest;
#   3. 256 heartbeating peers: the real worker keeps getting work, and a real worker started
#      after them gets a table entry and work.
# Counters in pregond's stop line say the forged reports were counted.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/hostile_backend"
. "$src/tests/integration/it_lib.sh"
it_begin hostile-backend
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token
MAX_CREDIT=40

pg_redis_start "$dir" || exit 1
protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || { echo "protoc failed"; exit 1; }
hostile() { /usr/bin/python3 "$here/hostile_worker.py" "$1" "ipc://$dir/back" "$dir" "${@:2}"; }
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --latency-ms 400 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: ""}
security: {curve: 0}   # plaintext: every peer anonymous (curve.sh: the CURVE variant)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 20000, heartbeat_ms: 200, max_credit: $MAX_CREDIT, anonymous_workers: 32}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
start_sms() {
  TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" \
    --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 --heartbeat-ms 200 \
    --concurrency 64 --policy-dir "$src/tests/integration/e2e/policies" 2>>"$dir/sms.log" &
  pids+=($!); sms_pid=$!
}
joined() { grep -c "joined on sms" "$dir/pregond.log"; }
start_sms
wait_for 10 grep -q "worker sms-.* joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }

# jobs FILE PREFIX N: N jobs, one debtor and one number each (+52177PPNNNN, PP from the prefix)
jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = {"h": 10, "c": 11, "g": 12, "f": 13, "k": 14}[prefix[0]] * 10000 + (int(prefix[1:] or 0) * 1000)
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"job_id": f"{prefix}-{i}", "tenant": "acme", "campaign": "hostile",
            "debtor_id": f"{prefix}-d{i}", "channel": "sms", "contact": f"+52177{base + i:06d}",
            "template_id": "aviso_mora_sms", "jurisdiction": "RC", "time_zone": "UTC",
            "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta",
            "monto": "$100", "telefono": "800", "enlace": "x.co"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>>"$dir/submit.log" | grep -c '"verdict":"ACCEPTED"'; }
keys() { for i in $(seq 0 $(($2 - 1))); do rkey job acme "$1-d$i" "$1-$i"; done; }
state() { rcli hget "$(rkey job acme "$1-d$2" "$1-$2")" s; }
requests() { curl -s "$sb/_sandbox/requests?limit=100000" >"$dir/requests.json"; }
# sent PREFIX_NUMBER: requests to numbers starting so; twice PREFIX_NUMBER: numbers asked twice or more
sent() { requests; /usr/bin/python3 -c "import json,sys; print(sum(1 for r in json.load(open(sys.argv[1])) if r.get('to','').startswith(sys.argv[2])))" "$dir/requests.json" "$1"; }
twice() { requests; /usr/bin/python3 -c "
import collections, json, sys
c = collections.Counter(r.get('to') for r in json.load(open(sys.argv[1])) if r.get('to','').startswith(sys.argv[2]))
print(sum(1 for v in c.values() if v > 1))" "$dir/requests.json" "$1"; }
wait_sent() { wait_for "$3" sh -c "[ \"\$(curl -s '$sb/_sandbox/requests?limit=100000' | grep -o '\"to\":\"$1' | wc -l)\" -ge $2 ]"; }

# --- 1. forged and hijacked reports ---------------------------------------------------------
# A hostile peer holding 5 leases of its own, reported by another connection
hostile hold 5 20 "$dir/held.txt" >"$dir/hold.out" 2>&1 &
hold_pid=$!
wait_for 10 grep -q "worker evil-holder joined" "$dir/pregond.log" || ko "the holding peer never joined"
jobs "$dir/h.jsonl" h 80
keys h 80 >"$dir/h.keys"
hostile guess "$dir/h.keys" 4 RETRY,HANDED_BACK,SKIPPED,CONFIG_ERROR,DELIVERED >"$dir/guess.out" 2>&1 &
guess_pid=$!
[ "$(submit "$dir/h.jsonl")" = 80 ] && ok || ko "campaign h not accepted: $(tail -3 "$dir/submit.log")"
wait "$hold_pid"; wait "$guess_pid"
held=$(awk '{print $2}' "$dir/held.txt" | sort)
n_held=$(grep -c . "$dir/held.txt")
echo "probe 1: holder $(cat "$dir/hold.out"), guesser $(cat "$dir/guess.out")"
for g in "$dir/guess.out"; do grep -q '^{"sent": [1-9]' "$g" && ok || ko "the guessing peer failed: $(tail -3 "$g")"; done
[ "$n_held" = 5 ] && ok || ko "the holding peer got $n_held leases, want 5 ($(cat "$dir/hold.out"))"
grep -q '"acked": 25' "$dir/hold.out" && ok || ko "the other connection's reports were not acked: $(cat "$dir/hold.out")"
# settled: the real worker's jobs sent on their first attempt (a forged RETRY, HANDED_BACK or
# SKIPPED applied would have made another attempt), the holder's still dispatched (or expired
# UNKNOWN), never re-dispatched; then nothing is left that could be sent again
settled() {
  local bad=0 i st
  for i in $(seq 0 79); do
    st=$(rcli hmget "$(rkey job acme "h-d$i" "h-$i")" s att | tr '\n' ' ')
    if grep -qx "h-$i" <<<"$held"; then
      case $st in "dispatched 1 " | "unknown 1 ") ;; *) bad=$((bad + 1)); echo "held job h-$i: $st" ;; esac
    else
      [ "$st" = "sent 1 " ] || { bad=$((bad + 1)); echo "job h-$i: $st"; }
    fi
  done >"$dir/settled.out"
  [ "$bad" = 0 ]
}
wait_for 30 settled && ok || ko "probe 1: jobs changed by forged reports: $(head -5 "$dir/settled.out")"
[ "$(twice +5217710)" = 0 ] && ok || ko "probe 1: $(twice +5217710) jobs sent twice"
[ "$(sent +5217710)" = $((80 - n_held)) ] && ok || ko "probe 1: $(sent +5217710) requests, want $((80 - n_held))"
grep -q "halted" "$dir/pregond.log" && ko "a forged CONFIG_ERROR halted: $(grep halted "$dir/pregond.log")" || ok
grep -q "worker evil-guess (key anonymous) reported no current lease" "$dir/pregond.log" && ok \
  || ko "guessed leases not logged"
grep -q "worker evil-other (key anonymous) reported a lease another worker holds" "$dir/pregond.log" && ok \
  || ko "a report from another connection not logged"
[ "$(grep -c "reported no current lease\|reported a lease another worker holds" "$dir/pregond.log")" -le 2 ] && ok \
  || ko "foreign reports logged more than once per peer"
# the channel works: a batch of 20 right after a forged CONFIG_ERROR flood
jobs "$dir/c.jsonl" c 20
keys c 20 >"$dir/c.keys"
hostile guess "$dir/c.keys" 2 CONFIG_ERROR >"$dir/guess2.out" 2>&1 &
guess_pid=$!
[ "$(submit "$dir/c.jsonl")" = 20 ] && ok || ko "batch c not accepted"
wait "$guess_pid"
grep -q '^{"sent": [1-9]' "$dir/guess2.out" && ok || ko "the guessing peer failed: $(tail -3 "$dir/guess2.out")"
wait_sent "+5217711" 20 20 && ok || ko "after a forged CONFIG_ERROR: $(sent +5217711) of 20 sent"
# a forged DELIVERED for sent jobs changes nothing
hostile guess "$dir/c.keys" 1 DELIVERED >"$dir/guess3.out" 2>&1
grep -q '^{"sent": [1-9]' "$dir/guess3.out" && ok || ko "the guessing peer failed: $(tail -3 "$dir/guess3.out")"
n=0; for i in $(seq 0 19); do [ "$(state c "$i")" = sent ] && n=$((n + 1)); done
[ "$n" = 20 ] && ok || ko "forged DELIVERED: $n of 20 still sent"

# --- 2. credit 10^9, never a report ---------------------------------------------------------
hostile greedy 1000000000 12 >"$dir/greedy.out" 2>&1 &
greedy_pid=$!
wait_for 10 grep -q "worker evil-greedy joined on sms with credit $MAX_CREDIT (dispatch.max_credit)" "$dir/pregond.log" \
  && ok || ko "credit 10^9 not clamped: $(grep evil-greedy "$dir/pregond.log")"
jobs "$dir/g.jsonl" g 300
[ "$(submit "$dir/g.jsonl")" = 300 ] && ok || ko "campaign g not accepted"
wait "$greedy_pid"
greedy=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dispatched"])' "$dir/greedy.out")
echo "probe 2: the greedy peer was dispatched $greedy of 300 (max_credit $MAX_CREDIT)"
[ "$greedy" -le "$MAX_CREDIT" ] && ok || ko "credit 10^9: $greedy jobs leased, max_credit $MAX_CREDIT"
wait_sent "+5217712" $((300 - greedy)) 30 && ok || ko "campaign g: $(sent +5217712) of $((300 - greedy)) sent by the real worker"

# --- 3. 256 heartbeating peers ---------------------------------------------------------------
hostile flood 256 15 >"$dir/flood.out" 2>&1 &
flood_pid=$!
wait_for 15 grep -q "worker flood-.* refused: the anonymous peers' pool has its 32" "$dir/pregond.log" \
  || ko "the flood never filled the pool: $(grep -c 'worker flood-.* joined' "$dir/pregond.log") joined"
jobs "$dir/f1.jsonl" f1 20
[ "$(submit "$dir/f1.jsonl")" = 20 ] && ok || ko "batch f1 not accepted"
wait_sent "+5217713" 20 20 && ok || ko "256 peers: the real worker sent $(sent +5217713) of 20"
# a real worker started while the flood goes on still gets an entry and work
before=$(joined)
kill -TERM "$sms_pid"; wait "$sms_pid"
# the entry it left is taken by a flood peer (they announce themselves every second)
last_join() { grep "joined on sms\|left (" "$dir/pregond.log" | tail -1; }
wait_for 10 sh -c "grep 'joined on sms\|left (' '$dir/pregond.log' | tail -1 | grep -q 'worker flood-'" \
  || ko "no flood peer took the entry the worker left: $(last_join)"
start_sms
wait_for 15 sh -c "[ \$(grep -c 'joined on sms' '$dir/pregond.log') -gt $before ] && grep 'joined on sms' '$dir/pregond.log' | tail -1 | grep -q 'worker sms-'" \
  || ko "a worker started during the flood never joined"
grep -q "gives its table entry to worker sms-" "$dir/pregond.log" && ok || ko "no idle peer gave its entry to the worker"
jobs "$dir/f2.jsonl" f2 20
[ "$(submit "$dir/f2.jsonl")" = 20 ] && ok || ko "batch f2 not accepted"
wait_sent "+5217713" 40 20 && ok || ko "256 peers, worker restarted: $(($(sent +5217713) - 20)) of 20 sent"
kill -0 "$flood_pid" 2>/dev/null && ok || ko "the flood ended before the checks: $(cat "$dir/flood.out")"
wait "$flood_pid"
echo "probe 3: $(cat "$dir/flood.out"); $(grep -c 'worker flood-.* joined' "$dir/pregond.log") flood peers joined"

kill -TERM "$pregond_pid"; wait "$pregond_pid"
stop=$(grep "stopping: reports ignored" "$dir/pregond.log")
echo "pregond: $stop"
wrong=$(sed -n 's/.*ignored: \([0-9]*\) naming no current lease.*/\1/p' <<<"$stop")
foreign=$(sed -n 's/.* \([0-9]*\) not from the lease.s holder.*/\1/p' <<<"$stop")
[ "${wrong:-0}" -gt 0 ] && ok || ko "guessed lease ids not counted: $stop"
[ "${foreign:-0}" = 25 ] && ok || ko "reports of another connection: ${foreign:-none} counted, want 25"
refused=$(sed -n 's/.* \([0-9]*\) workers refused.*/\1/p' <<<"$stop")
[ "${refused:-0}" -gt 0 ] && ok || ko "refused flood peers not counted: $stop"
grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$dir/pregond.log" "$dir/sms.log" \
  && ko "sanitizer: $(grep -hE -A5 'AddressSanitizer|runtime error' "$dir/pregond.log" "$dir/sms.log" | head -20)" || ok
echo "hostile backend: $pass passed, $fail failed"
[ "$fail" = 0 ]
