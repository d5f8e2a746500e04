#!/usr/bin/env bash
# run.sh BUILD_DIR — the voice blaster's limits over real processes: redis-server, pregond,
# pregon-voice, pregon-hooks' voice module and pregon-sandbox's Twilio Calls, all measured from
# the sandbox's own timestamps (created_ms: when Calls.json arrived; ended_ms: when the call
# hung up). Checks:
#   1. calls per second: --rate 4 --burst 1 over 12 calls: no sliding second holds more than 4
#      Calls.json requests, and the worker does reach the rate (not a trivially slow pass);
#   2. lines: --concurrency 3 over 6 calls: never more than 3 calls alive at once, the 4th
#      waits for a line, and a line is free when its call ends (the status callback reaches
#      pregond, which sends the worker ReleaseLine), not at its bound (Timeout + TimeLimit +
#      slack, 15 s here); an answering machine (AMD DetectMessageEnd) hears the voicemail
#      variant, without the debt's amount;
#   3. US Reg F across a multi-day run, pregond restarted with test.clock_offset_s moved a day
#      forward (Redis keeps the history): 7 calls about one debt on day 0, the 8th DEFERRED by
#      us.regf.7in7, still held on day 3, called on day 7; a transfer to an agent on day 0 is
#      a conversation: the next call about that debt DEFERRED by us.regf.conversation until
#      day 7 (the day of the conversation is day 1), still held on day 3, called on day 7.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin voicelim
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token
py=/usr/bin/python3
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }

pg_redis_start "$dir" || exit 1
# pregond's day 0 starts at 16:00 UTC (11:00 or 12:00 in New York: inside us.hours)
now=$(date -u +%s)
day0=$(( now - now % 86400 + 86400 + 16 * 3600 ))
start_pregond() { # DAY: pregond's clock at day0 + DAY days (+ the seconds this run has taken)
  local offset=$(( day0 + $1 * 86400 - now ))
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/deploy/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
channels: voice
test: {clock_offset_s: $offset}
YAML
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pids+=($!); pregond_pid=$!
  wait_for 10 sh -c "[ \$(grep -c 'pregond: serving' '$dir/pregond.log') -ge $2 ]" \
    || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
}
stop_pregond() { kill -TERM "$pregond_pid"; wait "$pregond_pid"; }
start_pregond 0 1
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/url.key"; chmod 600 "$dir/url.key"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 \
  --voice-url-key-file "$dir/url.key" 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -qs "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null" || ko "pregon-hooks never saw pregond"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --account "$AC:$TOKEN" --calls-time-scale 0.02 --calls-seed 11 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
curl -sf "$sb/_sandbox/twilio-calls/callees" -d '[
  {"number": "+1212555", "answer": "human", "ring_s": 1},
  {"number": "+12125553005", "answer": "machine", "greeting_s": 4},
  {"number": "+12125553006", "answer": "machine", "greeting_s": 6},
  {"number": "+12125558001", "answer": "human", "press": "1", "transfer": "answered", "talk_s": 4}]' \
  >/dev/null || ko "callee script refused"
start_voice() { # CONCURRENCY RATE
  TWILIO_AUTH_TOKEN=$TOKEN PREGON_VOICE_URL_KEY=$(cat "$dir/url.key") "$build/channels/voice/pregon-voice" \
    --broker "ipc://$dir/back" --base-url "$sb" --account-sid $AC --hooks-url "$hooks" \
    --from +12125550100 --machine-detection DetectMessageEnd --worker-id "voice-lim-$1" \
    --concurrency "$1" --rate "$2" --burst 1 --heartbeat-ms 200 \
    --ring-timeout-s 5 --max-call-s 10 --line-slack-s 0 --drain-timeout-ms 500 2>>"$dir/voice.log" &
  pids+=($!); voice_pid=$!
  wait_for 10 sh -c "[ \$(grep -c 'joined on voice' '$dir/pregond.log') -gt ${3:-0} ]" \
    || { echo "voice worker never joined"; cat "$dir/voice.log"; exit 1; }
}
stop_voice() { kill -TERM "$voice_pid"; wait "$voice_pid"; }

# jobs FILE PREFIX DEBTOR:DEBT:CONTACT... — one US voice job each
jobs() {
  $py - "$@" <<'PY'
import json, sys
path, prefix = sys.argv[1:3]
with open(path, "w") as f:
    for i, spec in enumerate(sys.argv[3:]):
        d, debt, c = spec.split(":")
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "acme", "campaign": "voz",
            "debtor_id": d, "debt_id": debt, "channel": "voice", "contact": c,
            "template_id": "llamada_ivr", "jurisdiction": "US",
            "time_zone": "America/New_York",
            "variables": {"acreedor": "Acme", "nombre": "Ann", "monto": "$1,250",
                          "producto": "tarjeta", "telefono": "8005551234"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json --timeout 20 "$1" 2>>"$dir/submit.log"; }
calls() { curl -s "$sb/_sandbox/twilio-calls/calls?done=1"; }
finished() { curl -sf "$sb/_sandbox/twilio-calls/wait?finished=$1&timeout_ms=${2:-30000}" | pipe_has '"reached": *true'; }
verdict() { grep "\"job_id\":\"$2\"" "$1" | $py -c 'import json,sys; v=json.load(sys.stdin); print(v["verdict"], v.get("rule") or "-")'; }
to_count() { calls | $py -c "import json,sys; print(sum(1 for c in json.load(sys.stdin)['calls'] if c['to']==sys.argv[1]))" "$1"; }
# measure PREFIX: "N peak_alive max_per_second span_ms" of the calls to numbers starting PREFIX
measure() {
  calls | $py -c '
import json, sys
cs = [c for c in json.load(sys.stdin)["calls"] if c["to"].startswith(sys.argv[1])]
t = sorted(c["created_ms"] for c in cs)
ev = sorted([(c["created_ms"], 1) for c in cs] + [(c["ended_ms"], -1) for c in cs])
cur = peak = 0
for _, d in ev:
    cur += d
    peak = max(peak, cur)
# most Calls.json arrivals in any window of 1 s less 2% (clock and loopback jitter)
per_s = max((sum(1 for u in t if s <= u < s + 980) for s in t), default=0)
print(len(cs), peak, per_s, (t[-1] - t[0]) if t else 0)' "$1"
}

# 1. calls per second: 12 calls at --rate 4 (burst 1), lines to spare
start_voice 64 4
args=(); for i in $(seq 10 21); do args+=("r$i:L1:+121255510$i"); done
jobs "$dir/cps.jsonl" cps "${args[@]}"
submit "$dir/cps.jsonl" >"$dir/cps.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/cps.out")" = 12 ] && ok || ko "cps jobs: $(cat "$dir/cps.out")"
finished 12 || ko "the 12 calls did not finish: $(curl -s "$sb/_sandbox/twilio-calls/calls" | head -c 1500)"
read -r n peak per_s span <<<"$(measure +121255510)"
echo "calls per second: $n calls, at most $per_s in a second, over $span ms (rate 4)"
[ "$n" = 12 ] && ok || ko "cps calls: $n"
[ "$per_s" -le 4 ] && ok || ko "more than 4 calls in one second: $per_s"
[ "$per_s" -ge 3 ] && [ "$span" -le 4000 ] && ok || ko "the rate was not reached: $per_s/s, $span ms for 12"
[ "$span" -ge 2600 ] && ok || ko "12 calls at 4/s in $span ms (< 2.75 s)"
stop_voice

# 2. lines: 6 calls on 3 lines; each could hold its line up to Timeout 5 + TimeLimit 10 + slack
#    0 s, and holds it until the call ends
start_voice 3 50 1
args=(); for i in $(seq 1 6); do args+=("l$i:L1:+1212555300$i"); done
jobs "$dir/lines.jsonl" lines "${args[@]}"
submit "$dir/lines.jsonl" >"$dir/lines.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/lines.out")" = 6 ] && ok || ko "lines jobs: $(cat "$dir/lines.out")"
finished 18 40000 || ko "the 6 calls did not finish: $(curl -s "$sb/_sandbox/twilio-calls/calls" | head -c 1500)"
read -r n peak per_s span <<<"$(measure +1212555300)"
echo "lines: $n calls, at most $peak alive at once (3 lines), over $span ms"
[ "$n" = 6 ] && ok || ko "lines calls: $n"
[ "$peak" -le 3 ] && ok || ko "more than 3 calls alive at once: $peak"
[ "$peak" = 3 ] && ok || ko "the 3 lines were never used at once: $peak"
read -r waited <<<"$(calls | $py -c '
import json, sys
cs = sorted((c for c in json.load(sys.stdin)["calls"] if c["to"].startswith("+1212555300")), key=lambda c: c["created_ms"])
print(int(cs[3]["created_ms"] >= min(c["ended_ms"] for c in cs[:3])) if len(cs) > 3 else 0)')"
[ "$waited" = 1 ] && ok || ko "the 4th call did not wait for a line to end"
[ "$span" -lt 12000 ] && ok || ko "the lines were freed at their 15 s bound, not when the calls ended: 6 calls over $span ms"
vm=$(calls | $py -c "import json,sys; c=[x for x in json.load(sys.stdin)['calls'] if x['to']=='+12125553005'][0]; print(c['answered_by'], json.dumps(c['said'], ensure_ascii=False))")
case "$vm" in machine_end_beep*"Este es un mensaje de Acme para Ann"*) ok ;; *) ko "machine: no voicemail: $vm" ;; esac
echo "$vm" | pipe_has -i 'saldo\|1,250\|1.250\|mil\|tarjeta\|marque' && ko "the voicemail tells the debt: $vm" || ok
human=$(calls | $py -c "import json,sys; c=[x for x in json.load(sys.stdin)['calls'] if x['to']=='+12125553001'][0]; print(json.dumps(c['said'], ensure_ascii=False))")
echo "$human" | pipe_has -i 'saldo' && ok || ko "a human did not hear the script: $human"
stop_voice
start_voice 64 50 2

# 3. Reg F over days. Day 0: 7 calls about debt L7 (one after another), then an 8th.
for i in 1 2 3 4 5 6 7; do
  jobs "$dir/c$i.jsonl" "c$i-" "u7:L7:+12125557001"
  submit "$dir/c$i.jsonl" >"$dir/c$i.out"
  [ "$(verdict "$dir/c$i.out" "c$i-0")" = "ACCEPTED -" ] && ok || ko "day 0 call $i about L7: $(cat "$dir/c$i.out")"
  finished $((18 + i)) || ko "call $i about L7 did not finish"
done
jobs "$dir/c8.jsonl" c8- "u7:L7:+12125557001"
submit "$dir/c8.jsonl" >"$dir/c8.out"
[ "$(verdict "$dir/c8.out" c8-0)" = "DEFERRED us.regf.7in7" ] && ok || ko "the 8th call in 7 days: $(cat "$dir/c8.out")"
# day 0: a transfer to an agent (digit 1, answered) about debt L8, then another call about L8
jobs "$dir/t1.jsonl" t1- "u8:L8:+12125558001"
submit "$dir/t1.jsonl" >"$dir/t1.out"
[ "$(verdict "$dir/t1.out" t1-0)" = "ACCEPTED -" ] && ok || ko "the transfer call: $(cat "$dir/t1.out")"
finished 26 || ko "the transfer call did not finish"
wait_for 15 sh -c "$ctl redis audit --redis-socket '$dir/redis.sock' 2>/dev/null | grep '\"job\":\"t1-0\"' | grep -q '\"to\":\"CONVERSATION\"'" \
  && ok || ko "the transfer is no CONVERSATION: $("$ctl" redis audit --redis-socket "$dir/redis.sock" | grep '"job":"t1-0"')"
jobs "$dir/t2.jsonl" t2- "u8:L8:+12125558001"
submit "$dir/t2.jsonl" >"$dir/t2.out"
[ "$(verdict "$dir/t2.out" t2-0)" = "DEFERRED us.regf.conversation" ] && ok || ko "a call after the conversation: $(cat "$dir/t2.out")"
# until day 7 at 08:00 in New York (day 7 is the first day allowed; us.hours opens at 08:00)
grep '"job_id":"t2-0"' "$dir/t2.out" | pipe_has "\"until\":\"$(date -u -d "@$(( day0 + 7 * 86400 ))" +%Y-%m-%d)T1[23]:00:00Z\"" \
  && ok || ko "deferred until day 7 08:00 in New York: $(cat "$dir/t2.out")"
# day 3: both still held, and new calls about those debts deferred by the same rules
stop_pregond; start_pregond 3 2
jobs "$dir/d3.jsonl" d3- "u7:L7:+12125557001" "u8:L8:+12125558001"
submit "$dir/d3.jsonl" >"$dir/d3.out"
[ "$(verdict "$dir/d3.out" d3-0)" = "DEFERRED us.regf.7in7" ] && ok || ko "day 3, L7: $(cat "$dir/d3.out")"
[ "$(verdict "$dir/d3.out" d3-1)" = "DEFERRED us.regf.conversation" ] && ok || ko "day 3, L8: $(cat "$dir/d3.out")"
[ "$(to_count +12125557001)" = 7 ] && [ "$(to_count +12125558001)" = 1 ] && ok \
  || ko "day 3: calls to L7 $(to_count +12125557001) (7), to L8 $(to_count +12125558001) (1)"
# day 7: released and called
stop_pregond; start_pregond 7 3
wait_for 30 sh -c "[ \"\$(curl -s '$sb/_sandbox/twilio-calls/calls?to=%2B12125558001' | grep -o '\"sid\"' | wc -l)\" -ge 2 ]" \
  && ok || ko "day 7: the call after the conversation was not placed: $(to_count +12125558001)"
# c8-0 and d3-0 were deferred until day 0's first and second calls were 7 days old: both go
wait_for 30 sh -c "[ \"\$(curl -s '$sb/_sandbox/twilio-calls/calls?to=%2B12125557001' | grep -o '\"sid\"' | wc -l)\" -ge 9 ]" \
  && ok || ko "day 7: the deferred calls about L7 were not placed: $(to_count +12125557001) of 9"
# pregond's own clock in the audit: calls (DISPATCHED) about L7 in any 7 days <= 7; about L8,
# none from the CONVERSATION until day 7
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
regf=$($py - "$dir/audit.out" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
jobs = {r["job"]: r.get("debt") for r in recs if r.get("debt")}
calls = lambda debt: sorted(int(r["at"]) for r in recs if r["to"] == "DISPATCHED" and jobs.get(r["job"]) == debt)
l7 = calls("L7")
week = 7 * 86400 * 1000
most = max(sum(1 for u in l7 if s <= u < s + week) for s in l7)
conv = min(int(r["at"]) for r in recs if r["to"] == "CONVERSATION")
l8 = calls("L8")
gap = min((u - conv for u in l8 if u > conv), default=0) / 86400000
print(len(l7), most, len(l8), "%.2f" % gap)
PY
)
read -r n7 most n8 gap <<<"$regf"
echo "Reg F over the run (pregond's clock): $n7 calls about L7, at most $most in 7 days; $n8 about L8, the first after the conversation $gap days later"
[ "$n7" = 9 ] && [ "$most" = 7 ] && ok || ko "7-in-7 in pregond's clock: $regf"
[ "$n8" = 3 ] && ok || ko "calls about L8: $n8 (the transfer, then the two deferred ones)"
$py -c "import sys; sys.exit(0 if 6.5 <= float(sys.argv[1]) < 8 else 1)" "$gap" && ok \
  || ko "the first call after the conversation came $gap days later (not before day 7 08:00 local)"
kill -0 "$pregond_pid" && ok || ko "pregond died"
kill -0 "$voice_pid" && ok || ko "pregon-voice died: $(tail -5 "$dir/voice.log")"

echo "voice limits: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
