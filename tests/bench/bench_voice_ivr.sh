#!/usr/bin/env bash
# bench_voice_ivr.sh [BUILD_DIR] — calls per second and concurrent calls one pregon-voice sustains
# against the sandbox's Twilio Calls, with pregond, pregon-hooks (the IVR: every call fetches
# its TwiML, which asks pregond for the script) and the sandbox's callees (humans who listen and
# press nothing: the whole script, twice, then the goodbye), all in one run:
#   (a) baseline: a python client posting Calls.json straight to the sandbox (16 threads, inline
#       <Hangup/> TwiML): what the sandbox and HTTP take, without pregon;
#   (b) burst: LINES calls through pregond + pregon-voice (--rate 0, --concurrency LINES): calls/s
#       from the sandbox's created_ms, and the most calls alive at once (its active_at_start);
#   (c) the limits: 3 * LINES2 calls with --concurrency LINES2 --rate RATE: the sandbox's
#       timestamps must never show more than LINES2 alive nor more than RATE+1 created in any
#       second; calls/s sustained is then lines / hold (the line hold: ring + max call).
# BUILD_DIR defaults to build (RelWithDebInfo and sanitizers: figures are for comparison in the
# same run, not absolute). Environment: LINES (200), LINES2 (20), RATE (10).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
lines=${LINES:-200} lines2=${LINES2:-20} rate=${RATE:-10}
. "$src/tests/integration/it_lib.sh"
it_begin bench-voice
py=/usr/bin/python3
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token
pg_redis_start "$dir" || exit 1
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 30000, heartbeat_ms: 200}
channels: voice
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" & pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { cat "$dir/pregond.log"; exit 1; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/url.key"; chmod 600 "$dir/url.key"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" --listen 127.0.0.1:0 \
  --broker "ipc://$dir/hooks" --heartbeat-ms 200 --threads 8 --voice-url-key-file "$dir/url.key" 2>"$dir/hooks.log" & pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log"
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sb.port" --threads 4 \
  --calls-time-scale 0.02 --calls-seed 3 2>"$dir/sandbox.log" & pids+=($!)
wait_for 10 test -s "$dir/sb.port"
sb="http://127.0.0.1:$(cat "$dir/sb.port")"
curl -s "$sb/_sandbox/twilio-calls/odds" -d '{"human": 1}' >/dev/null
reset() { curl -s -X DELETE "$sb/_sandbox/twilio-calls/calls" >/dev/null; }
# the calls of one phase: their To numbers start with the phase's prefix
done_calls() { # PREFIX N: true once N calls to PREFIX* have ended
  curl -s "$sb/_sandbox/twilio-calls/calls" | $py -c '
import json, sys
try:
    c = [x for x in json.load(sys.stdin)["calls"] if x["to"].startswith(sys.argv[1]) and x.get("ended_ms")]
except ValueError:  # the sandbox busy: ask again
    sys.exit(1)
sys.exit(0 if len(c) >= int(sys.argv[2]) else 1)' "$1" "$2"
}
stats() { # PREFIX: calls/s over created_ms, the most alive at once, the most created in 1 s
  curl -s "$sb/_sandbox/twilio-calls/calls" | $py -c '
import json, sys, collections
c = [x for x in json.load(sys.stdin)["calls"] if x["to"].startswith(sys.argv[1])]
t = sorted(x["created_ms"] for x in c)
span = (t[-1] - t[0]) / 1000 if len(t) > 1 else 0
ev = sorted([(x["created_ms"], 1) for x in c] + [(x["ended_ms"] or 10**15, -1) for x in c], key=lambda e: (e[0], e[1]))
alive = peak = 0
for _, d in ev:
    alive += d; peak = max(peak, alive)
c.sort(key=lambda x: x["created_ms"])
per_s = collections.Counter(v // 1000 for v in t)
win = max(sum(1 for v in t if s <= v < s + 1000) for s in t) if t else 0
print("%d %.1f %d %d %d" % (len(c), (len(c) - 1) / span if span else 0, peak, win,
      max(x.get("active_at_start", 0) for x in c) + 1 if c else 0))' "$1"
}
jobs() { # FILE PREFIX N PHONE-PREFIX
  $py - "$@" <<'PY'
import json, sys
path, prefix, n, phone = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"job_id": "%s%d" % (prefix, i), "tenant": "acme", "campaign": "bench",
            "debtor_id": "d%s%d" % (prefix, i), "channel": "voice", "contact": phone + "%07d" % i,
            "template_id": "cobranza_voz", "jurisdiction": "RC", "time_zone": "UTC",
            "variables": {"acreedor": "Acme", "nombre": "Ana", "monto": "$1.250.000",
                          "fecha": "30/11", "telefono": "6015551234"}}) + "\n")
PY
}
start_voice() { # LINES RATE
  TWILIO_AUTH_TOKEN=$TOKEN PREGON_VOICE_URL_KEY=$(cat "$dir/url.key") "$build/channels/voice/pregon-voice" \
    --broker "ipc://$dir/back" --base-url "$sb" --account-sid $AC --hooks-url "$hooks" --from +5716010001 \
    --worker-id "bench-voice-$1" --concurrency "$1" --rate "$2" --heartbeat-ms 200 --ring-timeout-s 5 \
    --max-call-s 10 --line-slack-s 0 --max-host-connections 64 2>>"$dir/voice.log" & pids+=($!); voice_pid=$!
  wait_for 10 sh -c "grep -c 'joined on voice' '$dir/pregond.log' | grep -q '$3'"
}

# (a) baseline
reset
base=$($py - "$sb" "$AC" "$TOKEN" "$lines" <<'PY'
import base64, sys, threading, time, urllib.parse, urllib.request
sb, ac, tok, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
url = "%s/2010-04-01/Accounts/%s/Calls.json" % (sb, ac)
auth = "Basic " + base64.b64encode(("%s:%s" % (ac, tok)).encode()).decode()
todo = list(range(n)); lock = threading.Lock()
def work():
    while True:
        with lock:
            if not todo: return
            i = todo.pop()
        body = urllib.parse.urlencode({"To": "+57300%07d" % i, "From": "+5716010001",
                                       "Twiml": "<Response><Hangup/></Response>"}).encode()
        urllib.request.urlopen(urllib.request.Request(url, data=body, headers={"Authorization": auth})).read()
t0 = time.time(); ts = [threading.Thread(target=work) for _ in range(16)]
[t.start() for t in ts]; [t.join() for t in ts]
print("%.1f" % (n / (time.time() - t0)))
PY
)
# (b) burst through pregon
reset
start_voice "$lines" 0 1
jobs "$dir/b.jsonl" b "$lines" +57301
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/b.jsonl" >/dev/null 2>&1
wait_for 120 done_calls +57301 "$lines" || echo "(b) not every call ended"
read -r nb cps_b peak_b win_b act_b <<<"$(stats +57301)"
kill -TERM "$voice_pid"; wait "$voice_pid" 2>/dev/null
# (c) the limits
reset
start_voice "$lines2" "$rate" 2
n3=$((3 * lines2))
jobs "$dir/c.jsonl" c "$n3" +57302
t0=$(date +%s%3N)
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/c.jsonl" >/dev/null 2>&1
wait_for 300 done_calls +57302 "$n3" || echo "(c) not every call ended"
t1=$(date +%s%3N)
read -r nc cps_c peak_c win_c act_c <<<"$(stats +57302)"
echo "== pregon-voice against the sandbox's Twilio Calls ($(nproc) CPUs, build $(basename "$build"))"
echo "(a) baseline, Calls.json posted straight to the sandbox (16 threads): $base calls/s"
awk -v n="$nb" -v c="$cps_b" -v p="$peak_b" -v b="$base" -v l="$lines" 'BEGIN {
  printf "(b) %d calls through pregond + pregon-voice + the IVR, %d lines, no rate limit: %.1f calls/s (%.2fx baseline), %d alive at once\n", n, l, c, c / b, p }'
awk -v n="$nc" -v c="$cps_c" -v p="$peak_c" -v w="$win_c" -v l="$lines2" -v r="$rate" -v d="$((t1 - t0))" 'BEGIN {
  printf "(c) %d calls, --concurrency %d --rate %d: at most %d alive at once, at most %d created in any 1 s window, %.1f calls/s while a burst lasted; all done in %.1f s (line hold 15 s: %.2f calls/s sustained)\n", n, l, r, p, w, c, d / 1000, l / 15 }'
ok=1
[ "$peak_c" -le "$lines2" ] || { echo "LIMIT EXCEEDED: $peak_c calls alive, $lines2 lines"; ok=0; }
[ "$win_c" -le $((rate + 1)) ] || { echo "LIMIT EXCEEDED: $win_c calls in one second, rate $rate"; ok=0; }
[ "$ok" = 1 ]
