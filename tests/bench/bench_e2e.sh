#!/usr/bin/env bash
# bench_e2e.sh [BUILD_DIR] [JOBS] — on this machine, in one run:
#  1. baseline: redis-benchmark calling pg_admit (store/pregon.lua) for one job per call
#     (50 clients);
#  2. admission alone: pregonctl submit -> pregond -> Redis, no worker connected: jobs/s and
#     batch latency p50/p99 (from pregonctl), as a ratio to the baseline;
#  3. end to end: Redis flushed, one pregon-sms connected, JOBS more jobs submitted; messages/s
#     from the first submit until the sandbox has received every one (admission included).
# Env: CONCURRENCY (pregon-sms --concurrency, default 512), SANDBOX_THREADS.
# Loopback only; bounded by JOBS (default 100000). Use a release build (-O2).
# "admission through pregond" is timed around the whole pregonctl run, its prescan of the file
# included (it reads the file through once before sending); pregonctl's own line excludes it.
set -euo pipefail
build=${1:-build-bench}
jobs=${2:-100000}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/bench/bench_lib.sh"
start_redis

# baseline: the admission function, one job per FCALL, 50 clients, keys of one shard
load_functions
now_ms0=$(( $(date +%s) * 1000 ))
base=$(redis-benchmark -s "$dir/redis.sock" -n 100000 -c 50 -r 100000000 --csv FCALL pg_admit 6 \
  'pg:{s0}:audit' 'pg:{s0}:deferred' 'pg:{s0}:h:t:__rand_int__' 'pg:{s0}:j:t:__rand_int__:__rand_int__' \
  'pg:{s0}:sp:t' 'pg:{s0}:q:sms' "$now_ms0" 3024000 3110400 job-__rand_int__ t d 0 0 A 0 '' '' \
  '1795000000,1,0,1,1;' payload sms +525511112222 1 L1 '1 of 3 in day' '' '' 0 |
  python3 -c 'import csv,sys; rows=list(csv.reader(sys.stdin)); print(rows[-1][1])')
redis-cli -s "$dir/redis.sock" flushall >/dev/null

start_sandbox ${SANDBOX_THREADS:+--threads $SANDBOX_THREADS}
start_pregond
make_jobs "$dir/admit.jsonl" "$jobs" a BENCH America/Mexico_City
make_jobs "$dir/jobs.jsonl" "$jobs" b BENCH America/Mexico_City

# 2. admission alone
ta0=$(now_ms)
submit "$dir/admit.jsonl"
ta1=$(now_ms)
# a fresh pregond on an empty Redis: a running one refuses a dataset that lost its stamp
kill -TERM "$pregond_pid"; wait "$pregond_pid" || true
redis-cli -s "$dir/redis.sock" flushall >/dev/null
start_pregond

# 3. end to end
start_worker
worker_pid=${pids[-1]}
wait_for 10 grep -q "joined on sms" "$dir/pregond.log"
idle() { awk '/^cpu / { print $5 + $6 }' /proc/stat; }  # idle + iowait ticks, all cores
idle0=$(idle)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # CPU so far, to count this phase only
redis_pid=$(cat "$dir/redis.pid")
cpu0=("$(ticks "$redis_pid")" "$(ticks "$pregond_pid")" "$(ticks "$worker_pid")" "$(ticks "${pids[0]}")")
t0=$(now_ms)
submit "$dir/jobs.jsonl"
sandbox_wait "$jobs"
t2=$(now_ms)
idle1=$(idle)
sent=$(sandbox_total)
echo "== pregon, $jobs SMS jobs per phase, one pregond, one pregon-sms (concurrency ${CONCURRENCY:-512}), sandbox"
echo "admission alone (no worker):"
grep -E "ACCEPTED|jobs answered" "$dir/admit.jsonl.out"
echo "end to end (worker sending while the campaign is admitted):"
grep -E "ACCEPTED|jobs answered" "$dir/jobs.jsonl.out"
awk -v b="$base" -v j="$jobs" -v a="$((ta1 - ta0))" -v e="$((t2 - t0))" -v s="$sent" 'BEGIN {
  printf "baseline redis-benchmark, pg_admit 1 job/call: %.0f jobs/s\n", b
  printf "admission through pregond:                    %.0f jobs/s  (%.2fx baseline)\n", j/(a/1000), (j/(a/1000))/b
  printf "end to end to the sandbox:                     %.0f messages/s (%d received in %.1f s)\n", s/(e/1000), s, e/1000 }'
# CPU each process spent per message in the end-to-end phase (user+system, from /proc), to show where the time goes
cpu_us() { awk -v hz="$(getconf CLK_TCK)" -v n="$sent" -v z="${2:-0}" \
  '{ printf "%.1f (%.0f%% kernel)", ($14 + $15 - z) * 1e6 / hz / n, 100 * $15 / ($14 + $15) }' "/proc/$1/stat"; }
awk -v i="$((idle1 - idle0))" -v hz="$(getconf CLK_TCK)" -v e="$((t2 - t0))" -v c="$(nproc)" \
  'BEGIN { printf "cores busy during the run: %.0f%%\n", 100 * (1 - i / hz / (e / 1000) / c) }'
printf 'CPU per message (us): redis %s  pregond %s  pregon-sms %s  sandbox %s\n' \
  "$(cpu_us "$redis_pid" "${cpu0[0]}")" "$(cpu_us "$pregond_pid" "${cpu0[1]}")" \
  "$(cpu_us "$worker_pid" "${cpu0[2]}")" "$(cpu_us "${pids[0]}" "${cpu0[3]}")"
# Redis's own account: calls and microseconds per call of the scripts (whole run)
redis-cli -s "$dir/redis.sock" info commandstats | grep -E '^cmdstat_(fcall|evalsha|zcard|hmget|zrangebyscore|get):' |
  sed 's/^cmdstat_/redis /; s/,rejected_calls.*//'
