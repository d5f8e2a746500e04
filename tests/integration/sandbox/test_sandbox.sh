#!/usr/bin/env bash
# test_sandbox.sh — integration test of pregon-sandbox: starts the real binary on spare loopback
# ports, drives it with curl, checks answers, records, faults, callbacks and clean shutdown.
#
# usage: tests/integration/sandbox/test_sandbox.sh [path/to/pregon-sandbox]
#        (or SANDBOX_BIN=...). Needs curl and jq; the status-callback part also needs python3
#        (skipped with a notice without it). Exits non-zero when any check fails.
set -u

BIN="${1:-${SANDBOX_BIN:-build/channels/sandbox/pregon-sandbox}}"
if [[ ! -x "$BIN" ]]; then
    echo "test_sandbox: no executable at '$BIN' (pass the path or set SANDBOX_BIN)" >&2
    exit 2
fi
for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "test_sandbox: $tool is required" >&2; exit 2; }
done

WORK="$(mktemp -d)"
FAILS=0
PASSES=0
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ACCOUNT=AC00000000000000000000000000000000
TOKEN=sandbox-token
OTHER=AC11111111111111111111111111111111
OTHER_TOKEN=other-token

pass() { PASSES=$((PASSES + 1)); }
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
# expect NAME ACTUAL WANTED
expect() {
    if [[ "$2" == "$3" ]]; then pass; else fail "$1: got '$2', want '$3'"; fi
}
# expect_match NAME ACTUAL REGEX
expect_match() {
    if [[ "$2" =~ $3 ]]; then pass; else fail "$1: '$2' does not match /$3/"; fi
}

# wait_port_file FILE PID: polls until the file holds a port (10 s at most).
wait_port_file() {
    for _ in $(seq 200); do
        if [[ -s "$1" ]]; then cat "$1"; return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# start_sandbox NAME ARGS...: starts the binary, sets PORT and PID.
start_sandbox() {
    local name="$1"
    shift
    rm -f "$WORK/$name.port"
    "$BIN" --listen 127.0.0.1:0 --port-file "$WORK/$name.port" "$@" 2>"$WORK/$name.log" &
    PID=$!
    PIDS+=("$PID")
    if ! PORT="$(wait_port_file "$WORK/$name.port" "$PID")"; then
        echo "test_sandbox: $name did not start:" >&2
        cat "$WORK/$name.log" >&2
        exit 1
    fi
}

# stop_sandbox NAME PID: SIGTERM, expects exit status 0 within 10 s.
stop_sandbox() {
    local name="$1" pid="$2" status
    kill -TERM "$pid"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$name: still running 10 s after SIGTERM"
        return
    fi
    wait "$pid"
    status=$?
    expect "$name: exit status after SIGTERM" "$status" 0
    if [[ "$status" != 0 ]]; then tail -n 30 "$WORK/$name.log" >&2; fi
    [[ ! -e "$WORK/$name.port" ]] && pass || fail "$name: port file left behind"
}

# sms [curl args...]: POSTs to the Messages resource of $ACCOUNT with good credentials unless
# the args override -u. Body in $WORK/body, headers in $WORK/headers, prints the status.
sms() {
    curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -u "$ACCOUNT:$TOKEN" \
        "$BASE/2010-04-01/Accounts/$ACCOUNT/Messages.json" "$@"
}
code() { jq -r '.code' "$WORK/body"; }
header() { tr -d '\r' <"$WORK/headers" | awk -v h="$1" 'tolower($1) == tolower(h) ":" {print $2}'; }
ctl() { curl -s -o "$WORK/ctl" -w '%{http_code}' "$@"; }

VALID=(--data-urlencode To=+573001112233 --data-urlencode From=+15005550006
       --data-urlencode "Body=Hola, su cuota vence hoy")

# ----------------------------------------------------------------------------------------------
start_sandbox main --account "$ACCOUNT:$TOKEN" --account "$OTHER:$OTHER_TOKEN" \
    --to-error +57300999:21610 --seed 42
MAIN_PID=$PID
BASE="http://127.0.0.1:$PORT"
grep -q "listening on 127.0.0.1:$PORT" "$WORK/main.log" && pass || fail "startup line missing"

expect "healthz" "$(curl -s "$BASE/healthz")" ok

# valid SMS
expect "valid: status" "$(sms "${VALID[@]}")" 201
expect_match "valid: sid" "$(jq -r .sid "$WORK/body")" '^SM[0-9a-f]{32}$'
expect "valid: status field" "$(jq -r .status "$WORK/body")" queued
expect "valid: to echoed" "$(jq -r .to "$WORK/body")" +573001112233
expect "valid: account" "$(jq -r .account_sid "$WORK/body")" "$ACCOUNT"
expect "valid: direction" "$(jq -r .direction "$WORK/body")" outbound-api
expect "valid: error_code null" "$(jq -r .error_code "$WORK/body")" null
expect_match "valid: RFC 2822 date" "$(jq -r .date_created "$WORK/body")" \
    '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000$'
FIRST_SID="$(jq -r .sid "$WORK/body")"
expect "messaging service: 201" "$(sms --data-urlencode To=+573001112233 \
    -d MessagingServiceSid=MG00000000000000000000000000000000 -d Body=hola)" 201
expect "messaging service: accepted" "$(jq -r .status "$WORK/body")" accepted
expect "second account: 201" "$(curl -s -o "$WORK/body" -w '%{http_code}' \
    -u "$OTHER:$OTHER_TOKEN" "$BASE/2010-04-01/Accounts/$OTHER/Messages.json" "${VALID[@]}")" 201

# segments: 1600 'á' (not GSM-7) = UCS-2, 67 per segment -> 24; 1601 characters -> 21617
LONG="$(printf 'á%.0s' $(seq 1600))"
expect "1600 chars: 201" "$(sms --data-urlencode To=+573001112233 -d From=Pregon \
    --data-urlencode "Body=$LONG")" 201
expect "1600 UCS-2 chars: 24 segments" "$(jq -r .num_segments "$WORK/body")" 24
expect "1601 chars: 400" "$(sms --data-urlencode To=+573001112233 -d From=Pregon \
    --data-urlencode "Body=${LONG}x")" 400
expect "1601 chars: 21617" "$(code)" 21617

# authentication
expect "bad token: 401" "$(sms -u "$ACCOUNT:nope" "${VALID[@]}")" 401
expect "bad token: 20003" "$(code)" 20003
expect_match "bad token: WWW-Authenticate" "$(header WWW-Authenticate)" '^Basic'
expect "no auth: 401" "$(curl -s -o "$WORK/body" -w '%{http_code}' \
    "$BASE/2010-04-01/Accounts/$ACCOUNT/Messages.json" "${VALID[@]}")" 401
expect "path/auth account mismatch: 401" "$(curl -s -o "$WORK/body" -w '%{http_code}' \
    -u "$OTHER:$OTHER_TOKEN" "$BASE/2010-04-01/Accounts/$ACCOUNT/Messages.json" \
    "${VALID[@]}")" 401
expect "unknown account: 401" "$(curl -s -o "$WORK/body" -w '%{http_code}' \
    -u "AC22222222222222222222222222222222:x" \
    "$BASE/2010-04-01/Accounts/AC22222222222222222222222222222222/Messages.json" \
    "${VALID[@]}")" 401

# validation
expect "missing To: 400" "$(sms --data-urlencode From=+15005550006 -d Body=x)" 400
expect "missing To: 21604" "$(code)" 21604
expect_match "missing To: more_info" "$(jq -r .more_info "$WORK/body")" \
    'twilio.com/docs/errors/21604$'
sms --data-urlencode To=12345 --data-urlencode From=+15005550006 -d Body=x >/dev/null
expect "invalid To: 21211" "$(code)" 21211
sms --data-urlencode To=+573001112233 -d Body=x >/dev/null
expect "missing From: 21603" "$(code)" 21603
sms --data-urlencode To=+573001112233 --data-urlencode From=+15005550006 >/dev/null
expect "missing Body: 21602" "$(code)" 21602
sms "${VALID[@]}" -d StatusCallback=ftp://example.com/x >/dev/null
expect "bad StatusCallback: 21609" "$(code)" 21609
sms --data-urlencode To=+573001112233 --data-urlencode From=+15005550001 -d Body=x >/dev/null
expect "magic From +15005550001: 21212" "$(code)" 21212

# magic numbers and the configured prefix table
for pair in +15005550001:21211 +15005550002:21612 +15005550004:21610 +15005550009:21614 \
            +573009991234:21610; do
    to="${pair%%:*}"
    want="${pair##*:}"
    expect "To $to: 400" "$(sms --data-urlencode "To=$to" --data-urlencode From=+15005550006 \
        -d Body=x)" 400
    expect "To $to: code" "$(code)" "$want"
done

# scripted faults
expect "script 429 accepted" "$(ctl -X POST "$BASE/_sandbox/script" \
    -d '{"count":2,"to":"+573001112233","status":429,"retry_after":1}')" 200
expect "script: other recipient unaffected" "$(sms --data-urlencode To=+573004445566 \
    --data-urlencode From=+15005550006 -d Body=x)" 201
for i in 1 2; do
    expect "script 429 #$i: status" "$(sms "${VALID[@]}")" 429
    expect "script 429 #$i: code" "$(code)" 20429
    expect "script 429 #$i: Retry-After" "$(header Retry-After)" 1
done
expect "script 429 exhausted" "$(sms "${VALID[@]}")" 201
ctl -X POST "$BASE/_sandbox/script" -d '{"count":1,"status":401}' >/dev/null
expect "script 401: status" "$(sms "${VALID[@]}")" 401
expect "script 401: code" "$(code)" 20003
ctl -X POST "$BASE/_sandbox/script" -d '{"count":2,"status":503}' >/dev/null
expect "script 503 #1" "$(sms "${VALID[@]}")" 503
expect "script 503: code" "$(code)" 20500
expect "script 503 #2" "$(sms "${VALID[@]}")" 503
ctl -X POST "$BASE/_sandbox/script" -d '{"count":1,"error_code":21211}' >/dev/null
expect "script error_code: status" "$(sms "${VALID[@]}")" 400
expect "script error_code: code" "$(code)" 21211
ctl -X POST "$BASE/_sandbox/script" -d '[{"count":1,"status":500},{"count":1,"status":429}]' \
    >/dev/null
expect "script array #1" "$(sms "${VALID[@]}")" 500
expect "script array #2" "$(sms "${VALID[@]}")" 429
expect "script: bad rule rejected" "$(ctl -X POST "$BASE/_sandbox/script" -d '{"count":0}')" 400
expect "script: unknown field rejected" "$(ctl -X POST "$BASE/_sandbox/script" \
    -d '{"count":1,"stauts":429}')" 400
expect "script: invalid JSON rejected" "$(ctl -X POST "$BASE/_sandbox/script" -d '{nope')" 400
expect "script: empty body rejected" "$(ctl -X POST "$BASE/_sandbox/script")" 400
ctl -X POST "$BASE/_sandbox/script" -d '{"count":5,"status":500}' >/dev/null
expect "script: DELETE" "$(ctl -X DELETE "$BASE/_sandbox/script")" 200
expect "script: DELETE clears" "$(jq -r .script_pending "$WORK/ctl")" 0

# random faults and latency over the control API
expect "faults: p429=1" "$(ctl -X POST "$BASE/_sandbox/faults" -d '{"p429":1}')" 200
expect "faults: p429=1 -> 429" "$(sms "${VALID[@]}")" 429
expect "faults: 429 Retry-After" "$(header Retry-After)" 1
ctl -X POST "$BASE/_sandbox/faults" -d '{"p429":0,"p5xx":1}' >/dev/null
expect_match "faults: p5xx=1 -> 5xx" "$(sms "${VALID[@]}")" '^50[03]$'
expect "faults: 5xx code" "$(code)" 20500
ctl -X POST "$BASE/_sandbox/faults" -d '{"p5xx":0,"latency_ms":300}' >/dev/null
t0=$(date +%s%N)
expect "latency: still 201" "$(sms "${VALID[@]}")" 201
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
(( elapsed >= 290 )) && pass || fail "latency: answered after ${elapsed} ms, want >= 300"
expect "faults: bad probability" "$(ctl -X POST "$BASE/_sandbox/faults" -d '{"p429":2}')" 400
expect "faults: sum > 1" "$(ctl -X POST "$BASE/_sandbox/faults" \
    -d '{"p429":0.6,"p5xx":0.6}')" 400
expect "faults: unknown field" "$(ctl -X POST "$BASE/_sandbox/faults" -d '{"p428":0.1}')" 400
expect "faults: not an object" "$(ctl -X POST "$BASE/_sandbox/faults" -d '[1]')" 400
ctl -X POST "$BASE/_sandbox/faults" -d '{"latency_ms":0}' >/dev/null
expect "faults: GET shows rates" \
    "$(curl -s "$BASE/_sandbox/faults" | jq -c '[.p429,.latency_ms]')" \
    '[0,0]'

# simulated timeout: held without an answer, then the connection closes
ctl -X POST "$BASE/_sandbox/faults" -d '{"timeout_hold_ms":400}' >/dev/null
ctl -X POST "$BASE/_sandbox/script" -d '{"count":1,"timeout":true}' >/dev/null
t0=$(date +%s%N)
curl -s -o /dev/null -u "$ACCOUNT:$TOKEN" "$BASE/2010-04-01/Accounts/$ACCOUNT/Messages.json" \
    "${VALID[@]}"
rc=$?
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "timeout: closed without a reply (curl exit 52)" "$rc" 52
(( elapsed >= 390 )) && pass || fail "timeout: closed after ${elapsed} ms, want >= 400"
expect "timeout: counted" "$(curl -s "$BASE/_sandbox/stats" | \
    jq -r '.providers["twilio-sms"].status.timeout')" 1

# records
curl -s "$BASE/_sandbox/requests" >"$WORK/req.json"
expect_match "requests: recorded" "$(jq length "$WORK/req.json")" '^[0-9]{2,}$'
expect "requests: first is the valid SMS" "$(jq -r '.[0] | [.seq, .status, .sid, .to, .from,
    .account, .params.Body] | join(" ")' "$WORK/req.json")" \
    "1 201 $FIRST_SID +573001112233 +15005550006 $ACCOUNT Hola, su cuota vence hoy"
expect "requests: 401 recorded with code" "$(jq -r '[.[] | select(.status == 401)][0].error_code' \
    "$WORK/req.json")" 20003
LAST="$(jq -r '.[-1].seq' "$WORK/req.json")"
sms "${VALID[@]}" >/dev/null
expect "requests: since" "$(curl -s "$BASE/_sandbox/requests?since=$LAST" | jq length)" 1
expect "requests: limit" "$(curl -s "$BASE/_sandbox/requests?limit=2" | jq length)" 2
expect "requests: provider filter" "$(curl -s "$BASE/_sandbox/requests?provider=whatsapp" | \
    jq length)" 0
expect "requests: bad since" "$(ctl "$BASE/_sandbox/requests?since=abc")" 400
expect "requests: bad limit" "$(ctl "$BASE/_sandbox/requests?limit=0")" 400
curl -s "$BASE/_sandbox/stats" >"$WORK/stats.json"
expect "stats: 201 count" \
    "$(jq -r '.providers["twilio-sms"].status["201"] > 5' "$WORK/stats.json")" \
    true
expect "stats: received = last_seq" "$(jq -r '.received == .last_seq' "$WORK/stats.json")" true

# /_sandbox/wait: a long poll that answers when the count is reached, or at its timeout
HAVE=$(jq -r '.providers["twilio-sms"].total' "$WORK/stats.json")
expect "wait: reached at once" \
    "$(curl -s "$BASE/_sandbox/wait?provider=twilio-sms&total=$HAVE" | jq -c .)" \
    "{\"total\":$HAVE,\"reached\":true}"
expect "wait: times out unreached" \
    "$(curl -s "$BASE/_sandbox/wait?provider=twilio-sms&total=$((HAVE + 1))&timeout_ms=150" | \
    jq -r .reached)" false
curl -s "$BASE/_sandbox/wait?provider=twilio-sms&total=$((HAVE + 1))&timeout_ms=20000" \
    >"$WORK/wait.json" &
WAITER=$!
for _ in $(seq 200); do # the waiter is parked before the request it waits for arrives
    [[ "$(curl -s "$BASE/_sandbox/stats" | jq -r .waiting)" -ge 1 ]] && break
    sleep 0.05
done
sms "${VALID[@]}" >/dev/null
wait "$WAITER"
expect "wait: answered when the request arrived" "$(jq -r .reached "$WORK/wait.json")" true
expect "wait: other provider not counted" \
    "$(curl -s "$BASE/_sandbox/wait?provider=whatsapp&total=1&timeout_ms=0" | jq -r .reached)" \
    false
expect "wait: total required" "$(ctl "$BASE/_sandbox/wait")" 400
expect "wait: bad timeout" "$(ctl "$BASE/_sandbox/wait?total=1&timeout_ms=-1")" 400

# hostile input: never a crash
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
expect "huge body: 413" "$(sms --data-urlencode To=+573001112233 \
    --data-urlencode "Body@$WORK/big")" 413
expect "huge chunked body: 413" "$(sms -H 'Transfer-Encoding: chunked' \
    --data-urlencode To=+573001112233 --data-urlencode "Body@$WORK/big")" 413
printf 'To=%%zz%%%%&&==&\xff\xfe=\x00\x01&Body=%%E2%%82' >"$WORK/garbage"
expect_match "garbage form: 4xx" "$(sms -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "@$WORK/garbage")" '^4[0-9][0-9]$'
expect "JSON body on a form route: 415" "$(sms -H 'Content-Type: application/json' \
    -d '{"To":"+573001112233"}')" 415
expect_match "multipart form: answered" "$(sms -F To=+573001112233 -F From=+15005550006 \
    -F Body=x)" '^201$'
printf '\xff\xfe' >"$WORK/badutf8"
expect "invalid UTF-8 body: 201" "$(sms --data-urlencode To=+573001112233 \
    --data-urlencode From=+15005550006 --data-urlencode "Body@$WORK/badutf8")" 201
expect "requests still serialisable" "$(curl -s "$BASE/_sandbox/requests?since=$LAST" | \
    jq -r '.[-1].body')" $'\uFFFD\uFFFD'
expect "unknown path: 404" "$(ctl "$BASE/nope")" 404
expect "wrong method: 405" "$(ctl "$BASE/2010-04-01/Accounts/$ACCOUNT/Messages.json")" 405
expect "bad JSON to control: 400" "$(ctl -X POST "$BASE/_sandbox/faults" --data-binary \
    $'\xff{')" 400
expect "still healthy" "$(curl -s "$BASE/healthz")" ok

# reset
expect "DELETE requests" "$(ctl -X DELETE "$BASE/_sandbox/requests")" 200
expect "requests empty after reset" "$(curl -s "$BASE/_sandbox/requests" | jq length)" 0
sms "${VALID[@]}" >/dev/null
expect "seq keeps growing after reset" "$(curl -s "$BASE/_sandbox/requests" | \
    jq -r '.[0].seq > 1')" true

# shutdown with a held request in flight
ctl -X POST "$BASE/_sandbox/faults" -d '{"timeout_hold_ms":60000}' >/dev/null
ctl -X POST "$BASE/_sandbox/script" -d '{"count":1,"timeout":true}' >/dev/null
curl -s -o /dev/null -m 20 -u "$ACCOUNT:$TOKEN" \
    "$BASE/2010-04-01/Accounts/$ACCOUNT/Messages.json" "${VALID[@]}" &
HELD=$!
for _ in $(seq 100); do
    [[ "$(curl -s "$BASE/_sandbox/stats" | jq -r .waiting)" == 1 ]] && break
    sleep 0.05
done
t0=$(date +%s%N)
stop_sandbox main "$MAIN_PID"
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
(( elapsed < 5000 )) && pass || fail "shutdown with a held request took ${elapsed} ms"
wait "$HELD" 2>/dev/null

# ----------------------------------------------------------------------------------------------
# status callbacks, checked by an independent receiver (python3) that verifies the signature
if command -v python3 >/dev/null; then
    cat >"$WORK/receiver.py" <<'EOF'
import base64, hashlib, hmac, json, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
token, port_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        fields = urllib.parse.parse_qsl(body, keep_blank_values=True)
        url = "http://127.0.0.1:%d%s" % (self.server.server_port, self.path)
        signed = url + "".join(k + v for k, v in sorted(fields))
        want = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest())
        ok = hmac.compare_digest(want.decode(), self.headers.get("X-Twilio-Signature", ""))
        with open(out, "a") as f:
            f.write(json.dumps({"fields": dict(fields), "signature_ok": ok}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_port))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
EOF
    python3 "$WORK/receiver.py" "$TOKEN" "$WORK/recv.port" "$WORK/callbacks.jsonl" &
    RECV_PID=$!
    PIDS+=("$RECV_PID")
    RECV_PORT="$(wait_port_file "$WORK/recv.port" "$RECV_PID")" || { fail "receiver start"; }
    start_sandbox cb --account "$ACCOUNT:$TOKEN" --callbacks --callback-delay-ms 100
    CB_PID=$PID
    BASE="http://127.0.0.1:$PORT"
    CB_URL="http://127.0.0.1:$RECV_PORT/hooks/twilio?tenant=acme&x=1"
    expect "callback send: 201" "$(sms "${VALID[@]}" --data-urlencode "StatusCallback=$CB_URL")" 201
    OK_SID="$(jq -r .sid "$WORK/body")"
    expect "callback send (dlr error): 201" "$(sms --data-urlencode To=+150055530003 \
        --data-urlencode From=+15005550006 -d Body=x \
        --data-urlencode "StatusCallback=$CB_URL")" 201
    BAD_SID="$(jq -r .sid "$WORK/body")"
    for _ in $(seq 100); do
        [[ -f "$WORK/callbacks.jsonl" && "$(wc -l <"$WORK/callbacks.jsonl")" -ge 4 ]] && break
        sleep 0.05
    done
    cbs() { jq -r --arg s "$1" "select(.fields.MessageSid == \$s) | $2" "$WORK/callbacks.jsonl" | \
            tr '\n' ' '; }
    expect "callbacks: all signatures valid" "$(jq -r .signature_ok "$WORK/callbacks.jsonl" | \
        sort -u | tr '\n' ' ')" "true "
    expect "callbacks: delivered sequence" "$(cbs "$OK_SID" .fields.MessageStatus)" \
        "sent delivered "
    expect "callbacks: undelivered sequence" "$(cbs "$BAD_SID" .fields.MessageStatus)" \
        "sent undelivered "
    expect "callbacks: ErrorCode" "$(cbs "$BAD_SID" '.fields.ErrorCode // empty')" "30003 "
    expect "callbacks: AccountSid" "$(cbs "$OK_SID" .fields.AccountSid)" "$ACCOUNT $ACCOUNT "
    # the receiver writes its line before it answers: the sender may not have counted it yet
    for _ in $(seq 100); do
        [[ "$(curl -s "$BASE/_sandbox/stats" | jq -r .callbacks.pending)" == 0 ]] && break
        sleep 0.05
    done
    expect "callbacks: counted" "$(curl -s "$BASE/_sandbox/stats" | jq -r .callbacks.sent)" 4
    stop_sandbox cb "$CB_PID"
    kill "$RECV_PID" 2>/dev/null
else
    echo "test_sandbox: python3 not found, status-callback checks skipped" >&2
fi

# ----------------------------------------------------------------------------------------------
# bad flags exit 2 without starting
"$BIN" --p429 1.5 2>/dev/null
expect "bad flag: exit 2" "$?" 2
"$BIN" --account nope 2>/dev/null
expect "bad account flag: exit 2" "$?" 2
"$BIN" --help >/dev/null
expect "--help: exit 0" "$?" 0

echo "test_sandbox: $PASSES passed, $FAILS failed"
[[ "$FAILS" == 0 ]]
