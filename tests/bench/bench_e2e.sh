#!/usr/bin/env bash
# bench_e2e.sh [BUILD_DIR] [JOBS] — on this machine, in one run:
#  1. baseline: redis-benchmark running admit.lua for one job per call (50 clients);
#  2. admission alone: pregonctl submit -> pregond -> Redis, no worker connected: jobs/s and
#     batch latency p50/p99 (from pregonctl), as a ratio to the baseline;
#  3. end to end: Redis flushed, one pregon-sms connected, JOBS more jobs submitted; messages/s
#     from the first submit until the sandbox has received every one (admission included).
# Env: CONCURRENCY (pregon-sms --concurrency, default 512), SANDBOX_THREADS.
# Loopback only; bounded by JOBS (default 100000). Use a release build (-O2).
set -euo pipefail
build=${1:-build-bench}
jobs=${2:-100000}
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/pregon-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }
now_ms() { date +%s%3N; }

redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
wait_for 10 sh -c "redis-cli -s '$dir/redis.sock' ping 2>/dev/null | grep -q PONG"

# baseline: the admission script, one job per EVALSHA, 50 clients
sha=$(redis-cli -s "$dir/redis.sock" SCRIPT LOAD "$(cat "$src/ratelimit/scripts/admit.lua")")
base=$(redis-benchmark -s "$dir/redis.sock" -n 100000 -c 50 -r 100000000 --csv EVALSHA "$sha" 6 \
  pg:audit pg:deferred 'pg:{t:__rand_int__}:h' 'pg:{t:__rand_int__}:j:__rand_int__' \
  'pg:{t:__rand_int__}:sup' pg:q:sms 1795000000 3024000 3110400 job-__rand_int__ t d 0 0 A 0 '' '' \
  '1795000000,1,0,1,1;' payload sms +525511112222 1 '' |
  python3 -c 'import csv,sys; rows=list(csv.reader(sys.stdin)); print(rows[-1][1])')
redis-cli -s "$dir/redis.sock" flushall >/dev/null

"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sb.port" \
  --max-records 20000 ${SANDBOX_THREADS:+--threads $SANDBOX_THREADS} 2>"$dir/sb.log" & pids+=($!)
wait_for 10 test -s "$dir/sb.port"
sb="http://127.0.0.1:$(cat "$dir/sb.port")"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: ""}
policies: $src/tests/bench/policies
templates: $src/deploy/templates.yaml
limits: {max_queue: 10000000}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" & pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log"

# JOBS jobs, one per debtor, ids prefixed $2 (a fresh set per phase)
make_jobs() {
  python3 - "$1" "$jobs" "$2" <<'PY'
import json, sys
v = {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800", "enlace": "x.co"}
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"job_id": f"{sys.argv[3]}{i}", "tenant": "bench", "debtor_id": f"d{i}", "channel": "sms",
            "contact": f"+5255{10000000 + i}", "template_id": "aviso_mora_sms", "jurisdiction": "BENCH",
            "time_zone": "America/Mexico_City", "variables": v}) + "\n")
PY
}
make_jobs "$dir/admit.jsonl" a
make_jobs "$dir/jobs.jsonl" b
submit() { "$build/broker/pregonctl" submit --endpoint "ipc://$dir/front" --batch 1000 --window 8 "$1"; }

# 2. admission alone
ta0=$(now_ms)
submit "$dir/admit.jsonl" >"$dir/admit.out"
ta1=$(now_ms)
redis-cli -s "$dir/redis.sock" flushall >/dev/null

# 3. end to end
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token \
  "$build/channels/sms/pregon-sms" --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
  --concurrency "${CONCURRENCY:-512}" 2>"$dir/sms.log" & pids+=($!)
wait_for 10 grep -q "ready on sms" "$dir/pregond.log"
idle() { awk '/^cpu / { print $5 + $6 }' /proc/stat; }  # idle + iowait ticks, all cores
idle0=$(idle)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # CPU so far, to count this phase only
redis_pid=$(cat "$dir/redis.pid")
cpu0=("$(ticks "$redis_pid")" "$(ticks "${pids[1]}")" "$(ticks "${pids[2]}")" "$(ticks "${pids[0]}")")
t0=$(now_ms)
submit "$dir/jobs.jsonl" >"$dir/submit.out"
# one long poll: the sandbox answers when it has received every job (no poller competing for
# the CPU being measured)
count() { curl -s "$sb/_sandbox/stats" | grep -o '"twilio-sms":{"total":[0-9]*' | grep -o '[0-9]*$' || echo 0; }
waited=$(curl -sS --max-time 700 "$sb/_sandbox/wait?provider=twilio-sms&total=$jobs&timeout_ms=600000" 2>&1) || true
grep -q "\"reached\": *true" <<<"$waited" || echo "sandbox wait: ${waited:-no answer}" >&2
t2=$(now_ms)
idle1=$(idle)
sent=$(count)
echo "== pregon, $jobs SMS jobs per phase, one pregond, one pregon-sms (concurrency ${CONCURRENCY:-512}), sandbox"
echo "admission alone (no worker):"
grep -E "ACCEPTED|jobs answered" "$dir/admit.out"
echo "end to end (worker sending while the campaign is admitted):"
grep -E "ACCEPTED|jobs answered" "$dir/submit.out"
awk -v b="$base" -v j="$jobs" -v a="$((ta1 - ta0))" -v e="$((t2 - t0))" -v s="$sent" 'BEGIN {
  printf "baseline redis-benchmark, admit.lua 1 job/call: %.0f jobs/s\n", b
  printf "admission through pregond:                    %.0f jobs/s  (%.2fx baseline)\n", j/(a/1000), (j/(a/1000))/b
  printf "end to end to the sandbox:                     %.0f messages/s (%d received in %.1f s)\n", s/(e/1000), s, e/1000 }'
# CPU each process spent per message in the end-to-end phase (user+system, from /proc), to show where the time goes
cpu_us() { awk -v hz="$(getconf CLK_TCK)" -v n="$sent" -v z="${2:-0}" \
  '{ printf "%.1f (%.0f%% kernel)", ($14 + $15 - z) * 1e6 / hz / n, 100 * $15 / ($14 + $15) }' "/proc/$1/stat"; }
awk -v i="$((idle1 - idle0))" -v hz="$(getconf CLK_TCK)" -v e="$((t2 - t0))" -v c="$(nproc)" \
  'BEGIN { printf "cores busy during the run: %.0f%%\n", 100 * (1 - i / hz / (e / 1000) / c) }'
printf 'CPU per message (us): redis %s  pregond %s  pregon-sms %s  sandbox %s\n' \
  "$(cpu_us "$redis_pid" "${cpu0[0]}")" "$(cpu_us "${pids[1]}" "${cpu0[1]}")" \
  "$(cpu_us "${pids[2]}" "${cpu0[2]}")" "$(cpu_us "${pids[0]}" "${cpu0[3]}")"
