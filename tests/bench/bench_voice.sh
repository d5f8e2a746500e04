#!/usr/bin/env bash
# bench_voice.sh [BUILD_DIR] [CALLS] — calls per second and concurrent calls one pregon-voice
# sustains against the sandbox's Twilio Calls, on this machine, in one run:
#  1. baseline: sb-load posting CALLS Calls.json requests straight to the sandbox (64
#     connections, an inline <Say>: the simulated network places and ends every call): the
#     sandbox's own calls/s, so the worker's figure reads as a ratio to what the provider side
#     can take here;
#  2. the blaster: redis-server, pregond, pregon-hooks (the IVR: TwiML per call from the job's
#     script, status callbacks to pregond) and one pregon-voice (--concurrency LINES, --rate
#     RATE); CALLS voice jobs submitted at once; every callee answers and listens for CALL_S
#     simulated seconds at time scale 1 (real seconds), so calls overlap as they would live.
#     From the sandbox's timestamps: calls per second (Calls.json arrivals over the placement
#     span), peak calls alive at once, and whether every call completed with its TwiML served.
# Env: LINES (default 400), RATE (default 100), CALL_S (default 8). Loopback only; bounded by
# CALLS (default 2000). Use a release build (-O2).
set -euo pipefail
build=${1:-build-bench}
calls=${2:-2000}
lines=${LINES:-400}
rate=${RATE:-100}
call_s=${CALL_S:-8}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/bench/bench_lib.sh"
AC=AC00000000000000000000000000000000 TOKEN=sandbox-token

start_sandbox --calls-time-scale 1 --calls-max-kept $((calls + 10)) --threads 2
ep="$sb/2010-04-01/Accounts/$AC/Calls.json"
form="To=%2B15551230000&From=%2B15005550006&Twiml=%3CResponse%3E%3CSay%3EHola%3C%2FSay%3E%3C%2FResponse%3E"
curl -s "$sb/_sandbox/twilio-calls/config" -d '{"time_scale": 0.001}' >/dev/null
"$build/tests/integration/sandbox/sb-load" --url "$ep" --form "$form" --requests "$calls" \
  --connections 64 --expect 201 >"$dir/base.out" 2>&1
base=$(grep -o '= [0-9]* req/s' "$dir/base.out" | grep -o '[0-9]*')
curl -s -X DELETE "$sb/_sandbox/twilio-calls/calls" >/dev/null
curl -s "$sb/_sandbox/twilio-calls/config" -d '{"time_scale": 1}' >/dev/null
# every callee answers at once and listens: the call lasts CALL_S (TimeLimit)
curl -s "$sb/_sandbox/twilio-calls/callees" -d '[{"number": "+1", "answer": "human", "ring_s": 0.5}]' >/dev/null

start_redis
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}
policies: $src/tests/bench/policies
templates: $src/deploy/templates.yaml
channels: voice
limits: {max_queue: 10000000}
dispatch: {lease_ms: 60000, max_credit: 100000}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/url.key"; chmod 600 "$dir/url.key"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --voice-url-key-file "$dir/url.key" 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -qs "serving: http" "$dir/hooks.log"
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null"
TWILIO_AUTH_TOKEN=$TOKEN PREGON_VOICE_URL_KEY=$(cat "$dir/url.key") "$build/channels/voice/pregon-voice" \
  --broker "ipc://$dir/back" --base-url "$sb" --account-sid $AC --hooks-url "$hooks" \
  --from +12125550100 --machine-detection off --worker-id bench-voice --no-journal \
  --concurrency "$lines" --rate "$rate" --burst 1 \
  --ring-timeout-s 5 --max-call-s "$((call_s > 10 ? call_s : 10))" \
  --line-slack-s 0 2>"$dir/voice.log" &
pids+=($!)
wait_for 10 grep -q "joined on voice" "$dir/pregond.log"
python3 - "$dir/jobs.jsonl" "$calls" "$call_s" <<'PY'
import json, sys
path, n, call_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
v = {"acreedor": "Acme", "nombre": "Ann", "monto": "$1,250", "producto": "card", "telefono": "8005551234"}
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"job_id": f"v{i}", "tenant": "bench", "debtor_id": f"d{i}",
            "channel": "voice", "contact": f"+1212{5000000 + i}", "template_id": "llamada_ivr",
            "jurisdiction": "BENCH", "time_zone": "UTC", "variables": v}) + "\n")
PY
# the callee hangs up after CALL_S: a call's length is known, whatever the script says
curl -s -X DELETE "$sb/_sandbox/twilio-calls/callees" >/dev/null
curl -s "$sb/_sandbox/twilio-calls/callees" -d "[{\"number\": \"+1\", \"answer\": \"human\", \"ring_s\": 0.5, \"hangup_s\": $call_s}]" >/dev/null
t0=$(now_ms)
"$build/broker/pregonctl" submit --endpoint "ipc://$dir/front" --batch 1000 "$dir/jobs.jsonl" >"$dir/submit.out"
curl -s --max-time 900 "$sb/_sandbox/twilio-calls/wait?finished=$calls&timeout_ms=600000" >/dev/null
t1=$(now_ms)
curl -s "$sb/_sandbox/twilio-calls/calls" >"$dir/calls.json"
python3 - "$dir/calls.json" "$base" "$lines" "$rate" "$((t1 - t0))" <<'PY'
import json, sys
cs = json.load(open(sys.argv[1]))["calls"]
base, lines, rate, wall = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
t = sorted(c["created_ms"] for c in cs)
ev = sorted([(c["created_ms"], 1) for c in cs] + [(c["ended_ms"] or c["created_ms"], -1) for c in cs])
cur = peak = 0
for _, d in ev:
    cur += d
    peak = max(peak, cur)
span = (t[-1] - t[0]) / 1000 if len(t) > 1 else 0
cps = (len(t) - 1) / span if span else 0
per_s = max((sum(1 for u in t if s <= u < s + 1000) for s in t), default=0)
served = sum(1 for c in cs if c["said"])
print("baseline: the sandbox takes %.0f Calls.json/s (sb-load, 64 connections)" % base)
print("pregon-voice (--concurrency %d --rate %d): %d calls placed in %.2f s = %.1f calls/s "
      "(%.3f of the baseline), at most %d in one second; peak %d calls alive at once; "
      "%d of %d answered calls heard their TwiML; %.1f s from submit to the last hang-up"
      % (lines, rate, len(cs), span, cps, cps / base if base else 0, per_s, peak, served,
         len(cs), wall / 1000))
PY
