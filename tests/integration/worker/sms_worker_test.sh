#!/usr/bin/env bash
# sms_worker_test.sh PREGON_SMS FAKE_BROKER SANDBOX — pregon-sms end to end over real sockets:
# a fake broker (ZeroMQ ROUTER, driven line by line) dispatches jobs, pregon-sandbox plays
# Twilio with scripted faults, and each outcome class is checked: SENT, RETRY (429 with
# Retry-After, 5xx, connection refused), FAILED (21211, 21610 opted-out), UNKNOWN (no answer),
# SKIPPED (expired), credit accounting, reconnect after broker silence, drain on SIGTERM,
# CONFIG_ERROR halt (one log line, no credit afterwards, token never logged), exit 78;
# --status-callback sent with each message (the sandbox checks it is a URL).
set -euo pipefail
[ $# = 3 ] || { echo "usage: $0 PREGON_SMS FAKE_BROKER SANDBOX"; exit 2; }
for b in "$@"; do [ -x "$b" ] || { echo "not an executable: $b"; exit 2; }; done
sms=$(realpath "$1") broker=$(realpath "$2") sandbox=$(realpath "$3")
dir=$(mktemp -d /tmp/pregon-smstest.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- worker log"; cat "$dir"/sms*.log 2>/dev/null || true; exit 1; }
ok() { echo "ok - $*"; }

token="tok-$RANDOM-do-not-log"
export TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789ab4321 TWILIO_AUTH_TOKEN=$token

# --- provider sandbox
"$sandbox" --listen 127.0.0.1:0 --port-file "$dir/port" --account "$TWILIO_ACCOUNT_SID:$token" >"$dir/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || fail "sandbox did not start: $(cat "$dir/sandbox.log")"
base="http://127.0.0.1:$(cat "$dir/port")"
script() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$base/_sandbox/script" >/dev/null \
    || fail "cannot script the sandbox: $1"
}
requests() { curl -fsS "$base/_sandbox/requests" | python3 -c '
import json,sys; d=json.load(sys.stdin)
print(d["count"] if isinstance(d,dict) and "count" in d else len(d["requests"] if isinstance(d,dict) else d))'; }

# --- fake broker, driven through a coprocess
coproc FB { "$broker"; }
pids+=($FB_PID)
say() {
  echo "$*" >&"${FB[1]}"
  IFS= read -r -t 60 -u "${FB[0]}" line || fail "fake broker did not answer: $*"
  echo "  > $*  => $line"
}
IFS= read -r -t 10 -u "${FB[0]}" line || fail "fake broker did not start"
endpoint=${line#endpoint }

start_worker() { # name base-url extra-args...
  local name=$1 url=$2; shift 2
  "$sms" --no-journal --broker "$endpoint" --base-url "$url" --worker-id "$name" --concurrency 8 \
    --heartbeat-ms 200 --request-timeout-ms 1000 --connect-timeout-ms 500 \
    --drain-timeout-ms 3000 "$@" 2>"$dir/$name.log" &
  wpid=$!
  pids+=($wpid)
}
expect() { [[ "$line" == $1 ]] || fail "expected '$1', got '$line'"; ok "$2"; }

# --- 1. happy path and credit
start_worker sms-a "$base" --from +15005550006 --status-callback http://127.0.0.1:9/twilio/sms/status
say wait-ready;                       expect "ready credit=8 *" "ready announces credit = concurrency"
say send j1 +573001234567;             expect "report j1 SENT code= id=SM* *" "2xx -> SENT with the sid"
say send j1b +573001234567 +15005550009; expect "report j1b SENT *" "job.sender used as From"
say credit;                           expect "credit 8" "credit returned after each report"

# --- 1b. --status-callback reaches Twilio: the sandbox refuses a callback that is not a URL (21609)
kill -TERM "$wpid"; wait "$wpid" || fail "exit status $?"
start_worker sms-g "$base" --from +15005550006 --status-callback ftp:not-a-callback
say wait-ready;                       expect "ready credit=8 *" "worker with a bad StatusCallback ready"
say send jcb +573001234567;            expect "report jcb FAILED code=21609 *" "StatusCallback sent with the message"
kill -TERM "$wpid"; wait "$wpid" || fail "exit status $?"
start_worker sms-a2 "$base" --from +15005550006
say wait-ready;                       expect "ready credit=8 *" "worker ready again"

# --- 2. retry classes
script '{"count":1,"status":429,"error_code":20429,"retry_after":2}'
say send j2 +573001234567;             expect "report j2 RETRY code=20429 *" "429/20429 -> RETRY"
r=$(sed -n 's/.*retry_in_ms=\(-\?[0-9]*\).*/\1/p' <<<"$line")
[ "$r" -ge 1800 ] || fail "Retry-After 2 s not honoured: retry_in_ms=$r"; ok "Retry-After honoured ($r ms)"
script '{"count":1,"status":503}'
say send j3 +573001234567 attempt=1;   expect "report j3 RETRY *" "5xx -> RETRY"
r=$(sed -n 's/.*retry_in_ms=\(-\?[0-9]*\).*/\1/p' <<<"$line")
[ "$r" -le 1100 ] || fail "backoff for attempt 1 above 1 s: $r"; ok "backoff within [0, 1 s] at attempt 1"
script '{"count":1,"status":400,"error_code":21211}'
say send j4 +1500555000X;             expect "report j4 FAILED code=21211 *" "21211 -> FAILED"
script '{"count":1,"status":400,"error_code":21610}'
say send j5 +573001234567;             expect "report j5 FAILED code=21610 * detail=opted-out" "21610 -> FAILED opted-out"
script '{"count":1,"timeout":true}'
say send j6 +573001234567;             expect "report j6 UNKNOWN *" "no answer after sending -> UNKNOWN"
before=$(requests)
say send j7 +573001234567 expires_at=1000; expect "report j7 SKIPPED * detail=expired" "expired -> SKIPPED"
[ "$(requests)" = "$before" ] || fail "an expired job reached the provider"; ok "expired job not sent"
say credit;                           expect "credit 8" "credit back to 8 after every outcome"

# --- 3. broker silence -> reconnect and ready again, jobs keep flowing
say silence 1500;                     expect "silence readies=*" "silence"
[ "${line#silence readies=}" -ge 2 ] || fail "no ready after 3 silent heartbeats"; ok "reconnected and re-announced"
say credit;                           expect "credit 8" "ready after reconnect carries the free credit"
say send j8 +573001234567;             expect "report j8 SENT *" "SENT after reconnect"

# --- 3b. broker killed and restarted on the same endpoint while a job is in flight
script '{"count":1,"timeout":true}'
say dispatch j20 +573001234567;       expect "dispatched j20" "job in flight before the broker dies"
kill "$FB_PID"; wait "$FB_PID" 2>/dev/null || true
coproc FB { "$broker" --bind "$endpoint"; }
pids+=($FB_PID)
IFS= read -r -t 10 -u "${FB[0]}" line || fail "restarted fake broker did not start"
say wait-ready 5000;                  expect "ready credit=7 *" "re-announced to the new broker, job still held"
say wait-report j20;                  expect "report j20 UNKNOWN *" "in-flight job reported to the new broker"
say credit;                           expect "credit 8" "its credit returned to the new broker"

# --- 4. broker halt: no more credit, dispatches handed back
say halt $'maint\e[2J\xe2\x80\xae';   expect "halted" "broker halt sent (its reason holds ESC and RLO)"
say send j9 +573001234567;             expect "report j9 HANDED_BACK * detail=halted" "dispatch while halted -> HANDED_BACK halted"
say credit;                           expect "credit 7" "no credit while halted"
kill -TERM "$wpid"; wait "$wpid" || fail "pregon-sms exit status $? after SIGTERM"; ok "SIGTERM -> exit 0"
# the reason is quoted (pg_log_quoted) inside an escaped line: each escape shows escaped once more
grep -qF 'broker halted the channel: maint\\x1b[2J\\xe2\\x80\\xae' "$dir/sms-a2.log" ||
  fail "the broker's halt reason was not logged escaped"; ok "a hostile halt reason is logged escaped"

# --- 5. drain on SIGTERM: the in-flight job finishes
start_worker sms-b "$base" --from +15005550006
say wait-ready;                       expect "ready credit=8 *" "second worker ready"
script '{"count":1,"timeout":true}'
say dispatch j10 +573001234567;        expect "dispatched j10" "job in flight"
sleep 0.2; kill -TERM "$wpid"
say wait-report j10;                  expect "report j10 UNKNOWN *" "in-flight job reported during the drain"
wait "$wpid" || fail "drain exit status $?"; ok "drained, exit 0"

# --- 6. CONFIG_ERROR: one clear line, halt, token never logged
TWILIO_AUTH_TOKEN="wrong-$token" start_worker sms-c "$base" --from +15005550006
say wait-ready;                       expect "ready credit=8 *" "third worker ready (wrong token)"
say send j11 +573001234567;            expect "report j11 CONFIG_ERROR code=20003 *" "401/20003 -> CONFIG_ERROR"
say credit 500;                       expect "credit 7" "halted: the credit is not returned"
grep -q "channel halted: provider rejected credentials (HTTP 401, Twilio 20003) for account AC…4321" \
  "$dir/sms-c.log" || fail "no clear halt line"; ok "one clear halt line"
[ "$(grep -c 'channel halted' "$dir/sms-c.log")" = 1 ] || fail "halt logged more than once"
grep -q "$TWILIO_ACCOUNT_SID" "$dir/sms-c.log" && fail "account sid logged unmasked"
kill -TERM "$wpid"; wait "$wpid" || fail "exit status $?"; ok "halted worker stops cleanly"

# --- 6b. a From number the account cannot use (Twilio 21606) halts too
start_worker sms-e "$base" --from +15005550007
say wait-ready;                       expect "ready credit=8 *" "worker with a bad From ready"
say send j13 +573001234567;            expect "report j13 CONFIG_ERROR code=21606 *" "21606 -> CONFIG_ERROR"
grep -q "channel halted: .*21606.* fix --from and restart" "$dir/sms-e.log" || fail "no 21606 halt line"
ok "21606 halt line names the fix"
kill -TERM "$wpid"; wait "$wpid" || fail "exit status $?"; ok "exit 0"

# --- 7. connection refused -> RETRY, nothing sent
start_worker sms-d "http://127.0.0.1:1" --from +15005550006
say wait-ready;                       expect "ready credit=8 *" "fourth worker ready"
say send j12 +573001234567;            expect "report j12 RETRY * detail=not sent:*" "connection refused -> RETRY"
kill -TERM "$wpid"; wait "$wpid" || fail "exit status $?"; ok "exit 0"

# --- 7b. per-sender rate shaping: 5/s with burst 1; a slow sender does not hold up another
start_worker sms-f "$base" --from +15005550006 --rate-per-sender 5/s --burst 1
say wait-ready;                       expect "ready credit=8 *" "rate-shaped worker ready"
t0=${EPOCHREALTIME/./}
for j in r1 r2 r3; do say dispatch $j +573001234567 +14155550100; done
say dispatch r4 +573001234567 +14155550200
say wait-report r4;                   expect "report r4 SENT *" "other sender's job sent"
t4=${EPOCHREALTIME/./}
for j in r1 r2 r3; do say wait-report $j; expect "report $j SENT *" "$j sent"; done
t3=${EPOCHREALTIME/./}
ms3=$(( (t3 - t0) / 1000 )) ms4=$(( (t4 - t0) / 1000 ))
[ "$ms3" -ge 350 ] || fail "3 jobs of one sender at 5/s took ${ms3} ms (< 400 expected)"
[ "$ms4" -lt "$ms3" ] || fail "the other sender waited for the slow one (${ms4} >= ${ms3} ms)"
ok "sender A: 3 jobs in ${ms3} ms at 5/s; sender B not blocked (${ms4} ms)"
kill -TERM "$wpid"; wait "$wpid" || fail "exit status $?"; ok "exit 0"

grep -q -- "tok-" "$dir"/sms-*.log && fail "auth token found in a log"; ok "auth token never logged"
LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$dir"/sms-*.log && fail "a control byte in a log"
LC_ALL=C grep -vqE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z pregon-sms: ' \
  "$dir"/sms-*.log && fail "a log line without its timestamp and program"
grep -q "573001234567" "$dir"/sms-*.log && fail "a contact logged unmasked"
ok "every line timestamped, no control byte, no contact unmasked"

# --- 8. missing credentials -> exit 78
set +e
env -u TWILIO_AUTH_TOKEN "$sms" --broker "$endpoint" 2>"$dir/nocred.log"; rc=$?
set -e
[ "$rc" = 78 ] || fail "missing credentials: exit $rc, want 78"
grep -q "missing Twilio auth token: set TWILIO_AUTH_TOKEN or --auth-token-file FILE" "$dir/nocred.log" ||
  fail "no clear credentials error"
ok "missing credentials -> exit 78"

echo quit >&"${FB[1]}"
echo "all sms worker checks passed"
