#!/usr/bin/env bash
# worker.sh MESSENGER FAKE_BROKER SANDBOX — pregon-messenger over real sockets against the
# sandbox's Send API, with a fake broker (ZeroMQ ROUTER driven line by line) dispatching: the
# 24-hour window as the sandbox enforces it (10/2018278 before the person wrote, SENT after);
# the re-check just before sending (a Dispatch whose window_until_ms has passed is SKIPPED
# "window-closed" and no request reaches the sandbox); each error class of the Send API
# (551 FAILED and fallback-eligible, 100/2018001 FAILED, 1200 and 2 RETRY soon, 4 and 613 RETRY
# after the rate-limit backoff, 190 CONFIG_ERROR halting the channel with one log line that
# never shows the token); the token goes as a Bearer header, never in the URL.
set -euo pipefail
pipe_has() { [ "$(grep -c "$@")" != 0 ]; }  # grep -q reading all its input (see redis_lib.sh)
[ $# = 3 ] || { echo "usage: $0 PREGON_MESSENGER FAKE_BROKER SANDBOX"; exit 2; }
for b in "$@"; do [ -x "$b" ] || { echo "not an executable: $b"; exit 2; }; done
msgr=$(realpath "$1") broker=$(realpath "$2") sandbox=$(realpath "$3")
dir=$(mktemp -d /tmp/pregon-msgrworker.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- worker log"; cat "$dir"/w*.log 2>/dev/null || true; exit 1; }
ok() { echo "ok - $*"; }

PAGE=104000000000001
export MESSENGER_PAGE_TOKEN="EAAG-page-$RANDOM-do-not-log"
"$sandbox" --listen 127.0.0.1:0 --port-file "$dir/port" \
  --messenger-page "$PAGE:$MESSENGER_PAGE_TOKEN" >"$dir/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || fail "sandbox did not start: $(cat "$dir/sandbox.log")"
sb="http://127.0.0.1:$(cat "$dir/port")"
post() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "$sb$1" >/dev/null || fail "POST $1 $2"; }
script() { post /_sandbox/script "$1"; }
inbound() { post /_sandbox/messenger/inbound "{\"psid\": \"$1\", \"text\": \"hola\"}"; }
count_to() { curl -fsS "$sb/_sandbox/requests?provider=messenger&limit=100000" |
  python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get("to") == sys.argv[1]))' "$1"; }

coproc FB { "$broker"; }
pids+=($FB_PID)
say() {
  echo "$*" >&"${FB[1]}"
  IFS= read -r -t 60 -u "${FB[0]}" line || fail "fake broker did not answer: $*"
  echo "  > $*  => $line"
}
IFS= read -r -t 10 -u "${FB[0]}" line || fail "fake broker did not start"
endpoint=${line#endpoint }

start_worker() { # name extra-args...
  local name=$1; shift
  "$msgr" --no-journal --broker "$endpoint" --base-url "$sb/messenger" --graph-version v19.0 \
    --page-id "$PAGE" --worker-id "$name" --concurrency 8 --heartbeat-ms 200 \
    --request-timeout-ms 2000 --rate-limit-backoff-ms 1500 "$@" 2>"$dir/$name.log" &
  wpid=$!
  pids+=($wpid)
}
start_worker w1
say wait-ready 10000
case $line in ready*) ;; *) fail "no WorkerReady: $line" ;; esac
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
send() { say send "$@" channel=messenger; }

# 1. the sandbox's window: nobody wrote yet -> 10/2018278, FAILED; after an inbound, SENT
send j1 3001 -
[[ $line == "report j1 FAILED code=10/2018278 "* ]] && ok "outside the window: FAILED 10/2018278" || fail "outside: $line"
inbound 3001
send j2 3001 -
[[ $line == "report j2 SENT "* ]] && [[ $(field id) == m_* ]] && ok "inside the window: SENT $(field id)" || fail "inside: $line"
curl -fsS "$sb/_sandbox/requests?provider=messenger&limit=1000" >"$dir/req.json"
python3 - "$dir/req.json" "$MESSENGER_PAGE_TOKEN" "$PAGE" <<'PY' || fail "request shape: $(cat "$dir/req.json")"
import json, sys
reqs, token, page = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
r = reqs[-1]
assert r["path"] == f"/messenger/v19.0/{page}/messages", r["path"]
p = r["params"]
assert p["messaging_type"] == "RESPONSE" and p["recipient"] == {"id": "3001"}, p
assert p["message"]["text"].startswith("Hola"), p
assert token not in json.dumps(reqs), "the token is in a recorded request"
PY
ok "POST {base}/v19.0/PAGE/messages, RESPONSE, recipient.id, message.text, no token in the URL"

# 2. the re-check: window_until_ms past -> SKIPPED window-closed, no request; future -> SENT
before=$(count_to 3001)
send j3 3001 - window_ms=-1000
[[ $line == "report j3 SKIPPED "*"detail=window-closed"* ]] && ok "window_until_ms past: SKIPPED window-closed" || fail "re-check: $line"
[ "$(count_to 3001)" = "$before" ] && ok "no request for the skipped job" || fail "a request went out for j3"
send j4 3001 - window_ms=600000
[[ $line == "report j4 SENT "* ]] && ok "window_until_ms ahead: SENT" || fail "window ahead: $line"

# 3. the error classes, scripted per recipient (the window is open for each)
for p in 3002 3003 3004 3005 3006 3007 3008; do inbound $p; done
script '{"provider": "messenger", "to": "3002", "status": 400, "error_code": 551}'
send j5 3002 -
[[ $line == "report j5 FAILED code=551/1545041 "*"fallback=1 "* ]] && ok "551: FAILED, fallback-eligible" || fail "551: $line"
script '{"provider": "messenger", "to": "3003", "status": 400, "error_code": 100}'
send j6 3003 -
[[ $line == "report j6 FAILED code=100/2018001 "*"fallback=0 detail=no-user"* ]] && ok "100/2018001: FAILED no-user" || fail "100: $line"
for c in 1200 2; do
  script "{\"provider\": \"messenger\", \"to\": \"3004\", \"status\": 500, \"error_code\": $c}"
  send "j$c" 3004 -
  r=$(field retry_in_ms)
  [[ $line == "report j$c RETRY code=$c "* ]] && [ "$r" -le 1100 ] && ok "$c: RETRY in ${r} ms" || fail "$c: $line"
done
for c in 4 613; do
  script "{\"provider\": \"messenger\", \"to\": \"3005\", \"status\": 400, \"error_code\": $c}"
  send "j$c" 3005 -
  r=$(field retry_in_ms)
  [[ $line == "report j$c RETRY code=$c "* ]] && [ "$r" -ge 1400 ] && ok "$c: rate limited, RETRY in ${r} ms (>= the backoff)" || fail "$c: $line"
done
# a Retry-After beats the backoff
script '{"provider": "messenger", "to": "3005", "status": 400, "error_code": 4, "retry_after": 7}'
send j4b 3005 -
r=$(field retry_in_ms)
[ "$r" -ge 6900 ] && ok "4 with Retry-After 7: RETRY in ${r} ms" || fail "Retry-After: $line"
# 10/2018278 from the provider while our window said open: FAILED, not retried
script '{"provider": "messenger", "to": "3006", "status": 400, "error_code": 10}'
send j10 3006 - window_ms=600000
[[ $line == "report j10 FAILED code=10/2018278 "* ]] && ok "10/2018278 inside our window: FAILED" || fail "10: $line"

# 4. 190: the token is dead -> CONFIG_ERROR, the channel halts, one clear line, no token logged
script '{"provider": "messenger", "to": "3007", "status": 400, "error_code": 190}'
send j190 3007 -
[[ $line == "report j190 CONFIG_ERROR code=190 "* ]] && ok "190: CONFIG_ERROR" || fail "190: $line"
for _ in $(seq 1 50); do grep -q "halted" "$dir/w1.log" && break; sleep 0.1; done
grep "halted" "$dir/w1.log" | pipe_has "MESSENGER_PAGE_TOKEN" && ok "one halt line naming the fix: $(grep halted "$dir/w1.log")" || fail "halt line: $(cat "$dir/w1.log")"
[ "$(grep -c halted "$dir/w1.log")" = 1 ] || fail "more than one halt line"
say credit 600
[ "$line" = "credit 7" ] && ok "the halted job's credit is not returned" || fail "credit after halt: $line"
send j11 3008 -
[[ $line == "report j11 HANDED_BACK "* || $line == "no-credit j11" ]] && ok "no job taken after the halt" || fail "after halt: $line"
! grep -rq "$MESSENGER_PAGE_TOKEN" "$dir"/w*.log && ok "the token is in no log" || fail "token logged"
kill -TERM "$wpid"; wait "$wpid" || true

# 5. a missing token refuses to start (78)
set +e
env -u MESSENGER_PAGE_TOKEN "$msgr" --no-journal --broker "$endpoint" 2>"$dir/w-none.log"
rc=$?
set -e
[ $rc = 78 ] && ok "no token: exit 78" || fail "no token: exit $rc: $(cat "$dir/w-none.log")"
echo "messenger worker: all passed"
