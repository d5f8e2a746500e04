#!/usr/bin/env bash
# sms_stop_test.sh PREGON_SMS FAKE_BROKER SANDBOX — pregon-sms stops without losing a lease and
# vouches for its leases on reconnection, over real sockets (the fake broker, pregon-sandbox):
#   A. SIGTERM with requests in progress and jobs queued behind a rate-shaped sender: Leaving
#      first, the queued jobs HANDED_BACK, the running ones SENT, each job reported exactly once,
#      Leaving{done=true} after every report, exit 0;
#   B. a Dispatch sent after Leaving (before LeaveAck) is HANDED_BACK; a reconnection while
#      stopping sends ready (credit 0) and Leaving again; the worker waits for the LeaveAck while
#      it holds nothing, and without one leaves after 3 heartbeats;
#   C. after broker silence and after a broker restart, WorkerReady lists the leases in flight and
#      the recently reported ones (not those past their expiry), with one incarnation;
#   D. 3,000 held leases of 600 bytes fit in one WorkerReady under pregond's frame limit; past the
#      worker's budget the ready goes out without the incarnation.
# Synchronisation is by awaiting (fake broker waits, the sandbox's /_sandbox/wait long poll),
# never by sleeping; latencies only keep requests in progress long enough. KEEP=1 keeps the
# temporary folder (worker logs) for a look afterwards.
set -euo pipefail
[ $# = 3 ] || { echo "usage: $0 PREGON_SMS FAKE_BROKER SANDBOX"; exit 2; }
for b in "$@"; do [ -x "$b" ] || { echo "not an executable: $b"; exit 2; }; done
sms=$(realpath "$1") broker=$(realpath "$2") sandbox=$(realpath "$3")
dir=$(mktemp -d /tmp/pregon-smsstop.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- worker logs"; tail -n 20 "$dir"/stop-*.log 2>/dev/null || true; exit 1; }
ok() { echo "ok - $*"; }
pipe_has() { [ "$(grep -c "$@")" != 0 ]; }  # grep -q reading all its input (see redis_lib.sh)

token="tok-$RANDOM"
export TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789ab4321 TWILIO_AUTH_TOKEN=$token

# --- provider sandbox
"$sandbox" --listen 127.0.0.1:0 --port-file "$dir/port" --account "$TWILIO_ACCOUNT_SID:$token" >"$dir/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || fail "sandbox did not start: $(cat "$dir/sandbox.log")"
base="http://127.0.0.1:$(cat "$dir/port")"
latency() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"latency_ms\":$1}" "$base/_sandbox/faults" >/dev/null \
    || fail "cannot set the sandbox latency"
}
forget_requests() { curl -fsS -X DELETE "$base/_sandbox/requests" >/dev/null || fail "cannot clear the sandbox"; }
requests() { curl -fsS "$base/_sandbox/requests" | python3 -c '
import json,sys; d=json.load(sys.stdin)
print(d["count"] if isinstance(d,dict) and "count" in d else len(d["requests"] if isinstance(d,dict) else d))'; }
await_requests() { # N: until the sandbox has received N provider requests (since forget_requests)
  curl -fsS "$base/_sandbox/wait?total=$1&timeout_ms=20000" | pipe_has '"reached": *true' \
    || fail "the sandbox did not receive $1 request(s)"
}

# --- fake broker, driven through a coprocess
coproc FB { "$broker"; }
pids+=($FB_PID)
say() {
  echo "$*" >&"${FB[1]}"
  IFS= read -r -t 60 -u "${FB[0]}" line || fail "fake broker did not answer: $*"
  echo "  > $*  => ${line:0:200}"
}
IFS= read -r -t 10 -u "${FB[0]}" line || fail "fake broker did not start"
endpoint=${line#endpoint }

start_worker() { # name extra-args...
  local name=$1; shift
  "$sms" --no-journal --broker "$endpoint" --base-url "$base" --worker-id "$name" --from +15005550006 \
    --concurrency 8 --heartbeat-ms 200 --request-timeout-ms 8000 --connect-timeout-ms 500 \
    --drain-timeout-ms 6000 "$@" 2>"$dir/$name.log" &
  wpid=$!
  pids+=($wpid)
}
expect() { [[ "$line" == $1 ]] || fail "expected '$1', got '${line:0:300}'"; ok "$2"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
stop_worker() { # expects the worker to leave cleanly
  kill -TERM "$wpid"
  say wait-leaving 0;                     expect "leaving done=0 * reason=worker-stopping *" "Leaving{done=false}"
  say wait-leaving 1;                     expect "leaving done=1 *" "Leaving{done=true}"
  wait "$wpid" || fail "exit status $? after SIGTERM"; ok "exit 0"
}

# --- A. SIGTERM with requests in progress and jobs queued behind their sender's token
start_worker stop-a --rate-per-sender 0.1 --burst 1
say wait-ready;                           expect "ready credit=8 *" "worker ready"
say reset-reports;                        expect "reset" "reports forgotten"
forget_requests
latency 1500
for j in a1 a2 a3; do say dispatch $j +573001234567 +14155550100; expect "dispatched $j" "$j dispatched (sender A, 0.1/s)"; done
say dispatch b1 +573001234567 +14155550200; expect "dispatched b1" "b1 dispatched (sender B)"
await_requests 2; ok "a1 and b1 in progress at the provider, a2 and a3 queued behind A's token"
kill -TERM "$wpid"
say wait-leaving 0;                       expect "leaving done=0 * reason=worker-stopping * handed_back_before=0" "Leaving sent before any hand-back"
last_handed=0
for j in a2 a3; do
  say wait-report $j;                     expect "report $j HANDED_BACK * detail=worker-stopping" "queued $j handed back"
  r=$(field retry_in_ms) seq=$(field seq)
  [ "$r" -gt -2000 ] && [ "$r" -lt 1000 ] || fail "$j retry_at not about now: retry_in_ms=$r"; ok "$j offered again at once (retry_in_ms=$r)"
  [ "$seq" -gt "$last_handed" ] && last_handed=$seq
done
for j in a1 b1; do
  say wait-report $j;                     expect "report $j SENT *" "in-progress $j finished and reported SENT"
  [ "$(field seq)" -gt "$last_handed" ] || fail "$j reported before the queued jobs were handed back"
done
ok "the queued jobs were handed back at once, before the running ones finished"
say wait-leaving 1;                       expect "leaving done=1 * reports_before=4 *" "Leaving{done=true} after all 4 reports"
wait "$wpid" || fail "exit status $? after SIGTERM"; ok "SIGTERM -> exit 0"
say summary;                              expect "summary jobs=4 reports=4 multi=0 SENT=2 HANDED_BACK=2 UNKNOWN=0 other=0" "each job reported exactly once, none UNKNOWN"
grep -q "stopping: Leaving sent; 2 queued job(s) handed back, 2 request(s) in progress" "$dir/stop-a.log" \
  || fail "no stopping line"; ok "one stopping line names what is handed back and what drains"
grep -q "acknowledged Leaving" "$dir/stop-a.log" || fail "LeaveAck not seen"; ok "LeaveAck received"

# --- B. a Dispatch after Leaving is handed back; LeaveAck awaited, bounded
say leave-ack manual;                     expect "leave-ack manual" "fake broker holds its LeaveAck back"
latency 4000
start_worker stop-b
say wait-ready;                           expect "ready credit=8 *" "worker ready"
say reset-reports;                        expect "reset" "reports forgotten"
forget_requests
say dispatch b10 +573001234567;           expect "dispatched b10" "b10 in progress (4 s at the provider)"
say lease b10;                            l10=${line##* }
await_requests 1
kill -TERM "$wpid"
say wait-leaving 0;                       expect "leaving done=0 *" "Leaving received, not acknowledged yet"
say dispatch b11 +573001234567;           expect "dispatched b11" "dispatch sent after Leaving"
say wait-report b11;                      expect "report b11 HANDED_BACK * detail=worker-stopping" "dispatch after Leaving handed back"
seq11=$(field seq) l11=$(field lease)
say silence 1000;                         expect "silence readies=*" "broker silent"
say wait-ready 5000;                      expect "ready credit=0 *" "reconnected while stopping: ready offers no credit"
say wait-leaving 0;                       expect "leaving done=0 *" "Leaving sent again on the new connection"
say ready-info;                           expect "ready-info * held=1 *" "that ready holds b10"
say held "$l10" "$l11";                   expect "held $l10=yes $l11=no" "b10 listed, the handed-back b11 not"
say leave-ack now;                        expect "leave-ack sent" "LeaveAck sent"
say wait-report b10;                      expect "report b10 SENT *" "in-progress b10 finished"
[ "$(field seq)" -gt "$seq11" ] || fail "b11 was not handed back at once"; ok "b11 handed back at once, while b10 was in progress"
say wait-leaving 1;                       expect "leaving done=1 *" "Leaving{done=true}"
say summary;                              expect "summary jobs=2 * SENT=1 HANDED_BACK=1 UNKNOWN=0 other=0" "both jobs reported (b11's report may be re-sent after the reconnection)"
wait "$wpid" || fail "exit status $?"; ok "exit 0"
[ "$(requests)" = 1 ] || fail "the handed-back job reached the provider ($(requests) requests)"
ok "the handed-back job never reached the provider"
grep -q "acknowledged Leaving" "$dir/stop-b.log" || fail "LeaveAck not logged"; ok "LeaveAck logged"

start_worker stop-c
say wait-ready;                           expect "ready credit=8 *" "worker ready (the broker will never acknowledge)"
kill -TERM "$wpid"
say wait-leaving 0;                       expect "leaving done=0 *" "Leaving received"
say wait-leaving 1 5000;                  expect "leaving done=1 *" "left without a LeaveAck"
wait "$wpid" || fail "exit status $?"; ok "exit 0"
waited=$(sed -n 's/.*no LeaveAck \([0-9]*\) ms after Leaving.*/\1/p' "$dir/stop-c.log")
[ -n "$waited" ] && [ "$waited" -ge 600 ] || fail "did not wait 3 heartbeats for LeaveAck (${waited:-no line})"
ok "waited ${waited} ms (3 heartbeats of 200 ms) for the LeaveAck, then left"
say leave-ack auto;                       expect "leave-ack auto" "fake broker acknowledges again"

# --- C. held leases and incarnation on reconnection
latency 0
start_worker stop-d
say wait-ready;                           expect "ready credit=8 *" "worker ready"
say ready-info;                           expect "ready-info * held=0 *" "first ready holds nothing"
inc=$(field incarnation)
[[ "$inc" =~ ^[0-9a-f]{16}$ ]] || fail "incarnation not 16 hex digits: $inc"; ok "incarnation $inc"
say send c1 +573001234567;                expect "report c1 SENT *" "c1 sent (lease for 60 s)"
l1=$(field lease)
say send c2 +573001234567 lease_ms=300;   expect "report c2 SENT *" "c2 sent (lease expires in 300 ms)"
l2=$(field lease)
forget_requests
latency 6000
say dispatch c3 +573001234567;            expect "dispatched c3" "c3 in progress (6 s at the provider)"
say lease c3;                             l3=${line##* }
await_requests 1
say ready-info;                           before=$(field count)
say silence 2000
readies=${line#silence readies=}
[ "$((readies - before))" -ge 2 ] || fail "fewer than 2 readies during 2 s of silence ($before -> $readies)"
ok "reconnected $((readies - before)) times during the silence"
say ready-info;                           expect "ready-info * incarnation=$inc held=2 *" "ready after reconnection: same incarnation, 2 leases"
say held "$l1" "$l3" "$l2";               expect "held $l1=yes $l3=yes $l2=no" "in flight (c3) and recently reported (c1) listed, expired (c2) not"
kill "$FB_PID"; wait "$FB_PID" 2>/dev/null || true
coproc FB { "$broker" --bind "$endpoint"; }
pids+=($FB_PID)
IFS= read -r -t 10 -u "${FB[0]}" line || fail "restarted fake broker did not start"
say wait-ready 5000;                      expect "ready credit=7 *" "ready to the restarted broker, c3 still held"
say ready-info;                           expect "ready-info * incarnation=$inc held=2 *" "same incarnation after the broker restart"
say held "$l1" "$l3" "$l2";               expect "held $l1=yes $l3=yes $l2=no" "the restarted broker hears of c1 and c3"
say wait-report c3;                       expect "report c3 SENT *" "c3 reported to the restarted broker"
stop_worker

# --- D. many held leases: one ready under pregond's frame limit, and past the worker's budget
latency 0
start_worker stop-e --concurrency 64
say wait-ready;                           expect "ready credit=64 *" "worker ready"
say ready-info;                           inc=$(field incarnation)
say lease-size 600;                       expect "lease-size 600" "lease ids of 600 bytes"
say bench 3000 8;                         expect "bench n=3000 * sent=3000 other=0" "3,000 jobs sent"
say silence 1000;                         expect "silence readies=*" "silence"
say wait-ready 5000;                      expect "ready credit=64 *" "reconnected after the silence"
say ready-info;                           expect "ready-info * incarnation=$inc held=3000 *" "ready lists all 3,000 leases, same incarnation"
bytes=$(field bytes)
[ "$bytes" -gt 1800000 ] && [ "$bytes" -lt 4194304 ] || fail "ready of $bytes bytes"
ok "that ready is $bytes bytes, under pregond's 4 MiB frame limit"
say bench 600 8;                          expect "bench n=600 * sent=600 other=0" "600 more: past the 2 MiB budget"
say silence 1000;                         expect "silence readies=*" "silence"
say wait-ready 5000;                      expect "ready credit=64 *" "reconnected after the silence"
say ready-info;                           expect "ready-info * incarnation=- held=3* *" "ready without the incarnation"
[ "$(field bytes)" -lt 2200000 ] || fail "ready over budget: $(field bytes) bytes"; ok "ready stays within the budget"
grep -q "sent without the incarnation" "$dir/stop-e.log" || fail "no line about the partial ready"; ok "partial ready logged"
say lease-size 0;                         expect "lease-size 0" "short lease ids again"
stop_worker

echo quit >&"${FB[1]}"
echo "all sms stop checks passed"
