#!/usr/bin/env bash
# bench_curve.sh [BUILD_DIR] [JOBS] [ROUNDS] — what CURVE costs, end to end, in one run: ROUNDS
# rounds, each one phase with CURVE off and one with CURVE on (the order alternating from round
# to round), each phase a fresh Redis dataset, a fresh pregond and one pregon-sms, JOBS jobs
# submitted by pregonctl and sent to the sandbox. Prints messages/s per phase, the medians and
# their ratio, the median of the ratios within a round (on/off of the same round: less exposed to
# a machine whose load drifts), and the CPU pregond and pregon-sms spent per message (user +
# system from /proc, which other processes' load barely changes). Keys: made once by
# `pregonctl keys new` (bench_lib.sh's make_keys).
# Loopback (ipc://) only; use a release build (-DCMAKE_BUILD_TYPE=Release -DPREGON_BENCH=ON).
set -euo pipefail
build=${1:-build-bench}
jobs=${2:-20000}
rounds=${3:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/bench/bench_lib.sh"
start_redis
start_sandbox ${SANDBOX_THREADS:+--threads $SANDBOX_THREADS}
make_keys
total=0 phases=0
declare -A rates cpu
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# phase MODE ROUND: one end-to-end phase with CURVE=MODE; its messages/s in rates[MODE,ROUND]
phase() {
  CURVE=$1
  redis-cli -s "$dir/redis.sock" flushall >/dev/null
  start_pregond
  start_worker
  local worker_pid=${pids[-1]}
  phases=$((phases + 1))
  wait_for 10 sh -c "[ \"\$(grep -c 'joined on sms' '$dir/pregond.log')\" -ge $phases ]"
  make_jobs "$dir/jobs-$1-$2.jsonl" "$jobs" "c$1r$2-" BENCH America/Mexico_City
  total=$((total + jobs))
  local t0 t1
  t0=$(now_ms)
  submit "$dir/jobs-$1-$2.jsonl"
  sandbox_wait "$total"
  t1=$(now_ms)
  rates[$1,$2]=$(awk -v j="$jobs" -v e="$((t1 - t0))" 'BEGIN { printf "%.0f", j / (e / 1000) }')
  # CPU microseconds per message, pregond + pregon-sms (each started for this phase)
  cpu[$1,$2]=$(awk -v a="$(ticks "$pregond_pid")" -v b="$(ticks "$worker_pid")" -v hz="$hz" -v j="$jobs" \
    'BEGIN { printf "%.1f", (a + b) * 1e6 / hz / j }')
  printf 'round %d, CURVE %s: %s messages/s (%d jobs in %.1f s), %s us CPU per message (pregond + pregon-sms)\n' \
    "$2" "$([ "$1" = 1 ] && echo on || echo off)" "${rates[$1,$2]}" "$jobs" \
    "$(awk -v e="$((t1 - t0))" 'BEGIN { print e / 1000 }')" "${cpu[$1,$2]}"
  kill -TERM "$worker_pid" "$pregond_pid"
  wait "$worker_pid" "$pregond_pid" || true
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then phase 0 "$r"; phase 1 "$r"; else phase 1 "$r"; phase 0 "$r"; fi
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
off=$(for r in $(seq 1 "$rounds"); do echo "${rates[0,$r]}"; done | median)
on=$(for r in $(seq 1 "$rounds"); do echo "${rates[1,$r]}"; done | median)
paired=$(for r in $(seq 1 "$rounds"); do awk -v a="${rates[1,$r]}" -v b="${rates[0,$r]}" 'BEGIN { print a / b }'; done | median)
cpu_off=$(for r in $(seq 1 "$rounds"); do echo "${cpu[0,$r]}"; done | median)
cpu_on=$(for r in $(seq 1 "$rounds"); do echo "${cpu[1,$r]}"; done | median)
sent=$(sandbox_total)
echo "== CURVE cost, $rounds rounds of $jobs SMS jobs per phase (pregonctl -> pregond -> pregon-sms -> sandbox, ipc://), $sent received"
awk -v off="$off" -v on="$on" -v p="$paired" -v co="$cpu_off" -v cn="$cpu_on" 'BEGIN {
  printf "median CURVE off: %.0f messages/s, CURVE on: %.0f messages/s, on/off = %.3f\n", off, on, on / off
  printf "median of the per-round on/off ratios: %.3f\n", p
  printf "median CPU per message, pregond + pregon-sms: off %.1f us, on %.1f us (+%.0f%%)\n", co, cn, 100 * (cn / co - 1) }'
