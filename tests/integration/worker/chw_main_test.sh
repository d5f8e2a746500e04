#!/usr/bin/env bash
# chw_main_test.sh TEST_WORKER PREGON_SMS FAKE_BROKER SANDBOX — what chw_main and the driver
# interface promise, with real processes (the fake broker, pregon-sandbox as the provider):
#   A. --help lists the common flags and the driver's own (with their env and default), a
#      secret only as --NAME-file; --version; bad flags and values exit 64;
#   B. credentials: from the environment, from --NAME-file (the file wins), the secret never in
#      a log; a missing one, an unreadable or empty file -> exit 78 with a clear line; the
#      driver refusing its options -> 78;
#   C. the driver's release hook runs exactly once for every job that held a slot, on every
#      exit: SENT, FAILED (answer, prepare refused, content-not-text), RETRY, UNKNOWN (timeout),
#      SKIPPED (expired), hand-back at stop (queued), cut by the drain timeout, CONFIG_ERROR halt
#      (and the jobs queued at the halt); never for a job handed back without a slot;
#   D. shaping keys: per sender (a second recipient waits behind the first's) and per sender +
#      recipient (--shape pair: it does not);
#   E. --exit-on-halt: a halt makes the worker leave and exit 69.
# Synchronisation by awaiting the fake broker's reports; timings only in D, with wide margins.
set -euo pipefail
[ $# = 4 ] || { echo "usage: $0 TEST_WORKER PREGON_SMS FAKE_BROKER SANDBOX"; exit 2; }
for b in "$@"; do [ -x "$b" ] || { echo "not an executable: $b"; exit 2; }; done
tw=$(realpath "$1") sms=$(realpath "$2") broker=$(realpath "$3") sandbox=$(realpath "$4")
dir=$(mktemp -d /tmp/pregon-chwmain.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- worker logs"; tail -n 20 "$dir"/w-*.log 2>/dev/null || true; exit 1; }
ok() { echo "ok - $*"; }

key="key-$RANDOM-secret"
sid=AC00000000000000000000000000000000
unset PG_TEST_API_KEY PG_TEST_URL TWILIO_AUTH_TOKEN TWILIO_ACCOUNT_SID

# --- A. --help, --version, usage errors (no broker needed)
"$tw" --help >"$dir/help" || fail "--help exit $?"
for f in --broker --worker-id --concurrency --rate --burst --heartbeat-ms --policy-dir \
         --log-level --exit-on-halt --version "--url URL" "--api-key-file FILE" \
         "--release-log FILE" "--shape sender|pair" "--fail-prepare-for CONTACT" --verbose; do
  grep -q -- "$f" "$dir/help" || fail "--help does not list $f"
done
grep -q -- "--url URL .*provider endpoint to POST to; or env PG_TEST_URL; required" "$dir/help" \
  || fail "--help line of --url: $(grep -- --url "$dir/help")"
grep -q -- "--api-key-file FILE .*test API key; else env PG_TEST_API_KEY; required" "$dir/help" \
  || fail "--help line of the secret"
grep -q -- "--shape sender|pair .*default sender" "$dir/help" || fail "--help shows no default"
grep -qE -- "--api-key( |$)" "$dir/help" && fail "a secret offered as a flag value"
ok "--help lists the common and the driver's flags, env, defaults, a secret only as a file"
"$sms" --help >"$dir/sms-help" || fail "pregon-sms --help exit $?"
for f in "--status-callback URL" "--auth-token-file FILE" "--account-sid SID" "--from NUMBER" \
         "--base-url URL" "--messaging-service-sid SID" "--rate-per-sender"; do
  grep -q -- "$f" "$dir/sms-help" || fail "pregon-sms --help does not list $f"
done
ok "pregon-sms --help lists its Twilio flags"
[ "$("$sms" --version)" = "pregon-sms 0.1.0" ] || fail "--version: $("$sms" --version)"; ok "--version"
expect_exit() { # CODE LOGPATTERN CMD...: runs CMD, wants exit CODE and a log line matching
  local code=$1 pat=$2; shift 2
  set +e; "$@" >"$dir/out" 2>"$dir/err"; local rc=$?; set -e
  [ "$rc" = "$code" ] || fail "$*: exit $rc, want $code ($(cat "$dir/err"))"
  grep -q -- "$pat" "$dir/err" || fail "$*: no line matching '$pat' in: $(cat "$dir/err")"
}
expect_exit 64 "unknown or incomplete option --bogus" "$tw" --bogus
expect_exit 64 "unknown or incomplete option --api-key (see --help)" "$tw" --api-key "$key"
grep -q -- "$key" "$dir/err" && fail "a secret given as a flag value was logged"
expect_exit 64 "unknown or incomplete option --api-key (see --help)" "$tw" "--api-key=$key"
grep -q -- "$key" "$dir/err" && fail "a secret given as --flag=value was logged"
expect_exit 64 "unknown or incomplete option --auth-token (see --help)" "$sms" --auth-token "$key"
grep -q -- "$key" "$dir/err" && fail "pregon-sms logged a token given as a flag"
expect_exit 64 "unknown or incomplete option --conc (see --help)" "$tw" --conc 4
ok "a flag must be spelled out: --api-key is not --api-key-file (the secret is never logged)"
expect_exit 64 "invalid value for --concurrency: 0" "$tw" --concurrency 0
expect_exit 64 "invalid value for --log-level: loud" "$tw" --log-level loud
expect_exit 64 "unknown or incomplete option --url" "$tw" --url
expect_exit 64 "unexpected argument: extra" "$tw" extra
ok "bad flags and values -> exit 64 with the flag named"

# --- B. credentials
expect_exit 78 "missing test API key: set PG_TEST_API_KEY or --api-key-file FILE" \
  "$tw" --url http://127.0.0.1:1/
expect_exit 78 "missing provider endpoint to POST to: set PG_TEST_URL or --url" \
  env PG_TEST_API_KEY="$key" "$tw"
ok "a missing option or credential -> exit 78, naming the env variable and the flag"
expect_exit 78 "cannot read test API key from --api-key-file .*/nope" \
  "$tw" --url http://x/ --api-key-file "$dir/nope"
: >"$dir/empty"; printf '  \n' >"$dir/blank"
expect_exit 78 "cannot read test API key from --api-key-file" "$tw" --url http://x/ --api-key-file "$dir/empty"
expect_exit 78 "cannot read test API key from --api-key-file" "$tw" --url http://x/ --api-key-file "$dir/blank"
ok "an unreadable, empty or blank secret file -> exit 78"
expect_exit 78 "--shape: sender or pair, not both" env PG_TEST_API_KEY="$key" "$tw" --url http://x/ --shape both
ok "the driver refusing its options -> exit 78 with its reason"
expect_exit 78 "missing Twilio auth token: set TWILIO_AUTH_TOKEN or --auth-token-file FILE" \
  env TWILIO_ACCOUNT_SID=$sid "$sms"
grep -q "missing Twilio account sid" "$dir/err" && fail "the sid was given"
ok "pregon-sms: missing auth token -> exit 78"

"$sandbox" --listen 127.0.0.1:0 --port-file "$dir/port" --account "$sid:$key" >"$dir/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || fail "sandbox did not start: $(cat "$dir/sandbox.log")"
base="http://127.0.0.1:$(cat "$dir/port")"
url="$base/2010-04-01/Accounts/$sid/Messages.json"
script() {
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$base/_sandbox/script" >/dev/null \
    || fail "cannot script the sandbox: $1"
}

coproc FB { "$broker"; }
pids+=($FB_PID)
say() {
  echo "$*" >&"${FB[1]}"
  IFS= read -r -t 60 -u "${FB[0]}" line || fail "fake broker did not answer: $*"
  echo "  > $*  => ${line:0:160}"
}
IFS= read -r -t 10 -u "${FB[0]}" line || fail "fake broker did not start"
endpoint=${line#endpoint }
expect() { [[ "$line" == $1 ]] || fail "expected '$1', got '$line'"; ok "$2"; }
rel="$dir/release.log"
start() { # NAME ARGS...: a test worker on the fake broker
  local name=$1; shift
  "$tw" --no-journal --broker "$endpoint" --worker-id "$name" --concurrency 4 --heartbeat-ms 200 \
    --request-timeout-ms 1000 --connect-timeout-ms 500 --drain-timeout-ms 3000 \
    --release-log "$rel" "$@" 2>"$dir/w-$name.log" &
  wpid=$!
  pids+=($wpid)
}
stop() { kill -TERM "$wpid"; wait "$wpid" || fail "exit status $? after SIGTERM"; }

PG_TEST_API_KEY="$key" start envkey --url "$url"
say wait-ready;                   expect "ready credit=4 *" "worker with the key from the environment ready"
say send e1 +573001234567;        expect "report e1 SENT code= id=SM* *" "key from the environment accepted"
stop
printf '%s\n' "$key" >"$dir/key"
PG_TEST_API_KEY="wrong" start filekey --url "$url" --api-key-file "$dir/key"
say wait-ready;                   expect "ready credit=4 *" "worker with the key from a file ready"
say send f1 +573001234567;        expect "report f1 SENT *" "the file's key wins over the environment's"
stop
grep -q -- "$key" "$dir"/w-*.log && fail "the secret reached a log"
ok "the secret never reaches a log"

# --- C. release exactly once per job, on every exit path
: >"$rel"
PG_TEST_API_KEY="$key" start rel --url "$url" --fail-prepare-for +570000000000 --rate 1 --burst 1 \
  --request-timeout-ms 2000 --drain-timeout-ms 500
say wait-ready;                   expect "ready credit=4 *" "release-test worker ready"
say send c-sent +573001000001 +1555000001;         expect "report c-sent SENT *" "SENT"
script '{"count":1,"status":400,"error_code":21211}'
say send c-failed +573001000002 +1555000002;       expect "report c-failed FAILED *" "FAILED (answer)"
script '{"count":1,"status":503}'
say send c-retry +573001000003 +1555000003;        expect "report c-retry RETRY *" "RETRY"
script '{"count":1,"timeout":true}'
say send c-timeout +573001000004 +1555000004;      expect "report c-timeout UNKNOWN *" "UNKNOWN (request timeout)"
say send c-prep +570000000000 +1555000005;         expect "report c-prep FAILED * detail=prepare refused" "FAILED (prepare refused)"
say send c-email +573001000006 +1555000006 content=email; expect "report c-email FAILED * detail=content-not-text" "e-mail content -> FAILED content-not-text"
say send c-none +573001000007 +1555000007 content=none; expect "report c-none FAILED * detail=content-not-text" "no content -> FAILED content-not-text"
say send c-expired +573001000008 +1555000008 expires_at=1000; expect "report c-expired SKIPPED * detail=expired" "SKIPPED (expired)"
# stop: one job in flight (held by the sandbox past the drain timeout), two queued behind its sender
script '{"count":1,"timeout":true}'
say dispatch c-cut +573001000009 +1555000009;      expect "dispatched c-cut" "a job in flight"
say dispatch c-q1 +573001000010 +1555000009;       expect "dispatched c-q1" "a job queued behind its sender"
say dispatch c-q2 +573001000011 +1555000009;       expect "dispatched c-q2" "another"
# the worker reads its socket in order: once a later job is reported, it holds the three above
say send c-sync +573001000012 +1555000012;         expect "report c-sync SENT *" "a later job of another sender goes first"
kill -TERM "$wpid"
say wait-report c-q1;             expect "report c-q1 HANDED_BACK *" "queued job handed back at stop"
say wait-report c-q2;             expect "report c-q2 HANDED_BACK *" "queued job handed back at stop"
say wait-report c-cut 6000;       expect "report c-cut UNKNOWN * detail=cut by the drain timeout after sending" "in-flight job cut by the drain timeout"
wait "$wpid" || fail "exit status $? after SIGTERM"; ok "stopped, exit 0"
# halt: a CONFIG_ERROR halts; the jobs queued then are handed back; a later one gets no slot.
# h-pre takes sender S's token (one per 5 s), so h-q waits in S's queue; the worker reads its
# socket in order, so h-q is queued before h-config (sender T) starts and halts the channel.
PG_TEST_API_KEY="$key" start halt --url "$url" --rate 0.2 --burst 1 --drain-timeout-ms 300
say wait-ready;                   expect "ready credit=4 *" "halt-test worker ready"
say send h-pre +573001000019 +1555000020;          expect "report h-pre SENT *" "sender S's token taken"
script '{"count":1,"status":401,"to":"+573001000020"}'
say dispatch h-q +573001000021 +1555000020;        expect "dispatched h-q" "a job queued behind S"
say dispatch h-config +573001000020 +1555000021;   expect "dispatched h-config" "a job the provider refuses"
say wait-report h-config;         expect "report h-config CONFIG_ERROR *" "CONFIG_ERROR halts"
say wait-report h-q;              expect "report h-q HANDED_BACK * detail=halted" "queued job handed back at the halt"
say send h-late +573001000022;    expect "report h-late HANDED_BACK * detail=halted" "dispatch while halted -> HANDED_BACK"
stop
sort "$rel" >"$dir/rel.sorted"
cat "$dir/rel.sorted"
want="release c-cut UNKNOWN state=yes
release c-email FAILED state=yes
release c-expired SKIPPED state=no
release c-failed FAILED state=yes
release c-none FAILED state=yes
release c-prep FAILED state=yes
release c-q1 RETRY state=no
release c-q2 RETRY state=no
release c-retry RETRY state=yes
release c-sent SENT state=yes
release c-sync SENT state=yes
release c-timeout UNKNOWN state=yes
release h-config CONFIG_ERROR state=yes
release h-pre SENT state=yes
release h-q RETRY state=no"
[ "$(cat "$dir/rel.sorted")" = "$want" ] || fail "releases: $(diff <(echo "$want") "$dir/rel.sorted")"
ok "every job that held a slot released exactly once, with its outcome; none for h-late"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$dir"/w-*.log; then
  fail "sanitizer findings: $(grep -hE 'Sanitizer|runtime error' "$dir"/w-*.log | head -3)"
fi
ok "no leak, no double free"

# --- D. shaping keys: 2 msg/s, burst 1; three jobs to A then one to B, all from one sender
shape_run() { # SHAPE: sets a3 and b, the ms until A's third and B's job were reported
  PG_TEST_API_KEY="$key" start "shape-$1" --url "$url" --rate 2 --burst 1 --shape "$1"
  say wait-ready
  local t0=${EPOCHREALTIME/./}
  for j in a1 a2 a3; do say dispatch "$1-$j" +573001000030 +1555000030; done
  say dispatch "$1-b" +573001000031 +1555000030
  say wait-report "$1-b" 8000; [[ "$line" == "report $1-b SENT "* ]] || fail "$1-b: $line"
  local tb=${EPOCHREALTIME/./}
  say wait-report "$1-a3" 8000; [[ "$line" == "report $1-a3 SENT "* ]] || fail "$1-a3: $line"
  local ta=${EPOCHREALTIME/./}
  stop
  a3=$(( (ta - t0) / 1000 )) b=$(( (tb - t0) / 1000 ))
}
shape_run sender
[ "$b" -ge 1300 ] || fail "per sender: the 4th job of one sender went out after ${b} ms (< 1.5 s at 2/s)"
ok "per sender: recipient B waits its turn behind A (${b} ms; A's third at ${a3} ms)"
shape_run pair
[ "$a3" -ge 800 ] || fail "per pair: A's three jobs took ${a3} ms (< 1 s at 2/s)"
[ "$b" -lt 1000 ] || fail "per pair: B waited for A (${b} ms; keyed by sender it waits 1.5 s)"
ok "per sender+recipient: B not held up (${b} ms) while A is shaped (${a3} ms)"

# --- E. --exit-on-halt
PG_TEST_API_KEY="$key" start exit --url "$url" --exit-on-halt
say wait-ready;                   expect "ready credit=4 *" "--exit-on-halt worker ready"
script '{"count":1,"status":401}'
say send x1 +573001000040;        expect "report x1 CONFIG_ERROR *" "CONFIG_ERROR"
say wait-leaving 1 5000;          expect "leaving done=1 *" "the halted worker leaves"
set +e; wait "$wpid"; rc=$?; set -e
[ "$rc" = 69 ] || fail "--exit-on-halt: exit $rc, want 69"; ok "--exit-on-halt -> exit 69"
grep -q "channel halted: provider rejected credentials (HTTP 401); fix the configuration and restart" \
  "$dir/w-exit.log" || fail "no halt line"; ok "one halt line with the generic hint"

# ---- BEGIN voice ----
# --- F. a driver's hold (chw_driver_t.hold_ms: a voice call's line): the slot of a SENT job is
# no credit until the hold passes, a FAILED job's is at once, and a stop does not wait for holds
PG_TEST_API_KEY="$key" start hold --url "$url" --hold-ms 1500
say wait-ready;                   expect "ready credit=4 *" "hold worker ready"
say send h1 +573001000050;        expect "report h1 SENT *" "h1 sent"
say send h2 +573001000051;        expect "report h2 SENT *" "h2 sent"
say credit 300;                   expect "credit 2" "two held slots are not offered as credit"
script '{"count":1,"status":400,"error_code":21211}'
say send h3 +573001000052;        expect "report h3 FAILED *" "h3 failed"
say credit 300;                   expect "credit 2" "a FAILED job's slot is credit again at once"
say credit 1500;                  expect "credit 4" "the held slots are credit again after the hold"
say send h4 +573001000053;        expect "report h4 SENT *" "h4 sent"
t0=${EPOCHREALTIME/./}; stop; t1=${EPOCHREALTIME/./}
[ $(( (t1 - t0) / 1000 )) -lt 1400 ] || fail "the stop waited for a held slot: $(( (t1 - t0) / 1000 )) ms"
ok "a stop does not wait for held slots ($(( (t1 - t0) / 1000 )) ms)"
# ---- END voice ----

echo quit >&"${FB[1]}"
echo "all chw_main checks passed"
