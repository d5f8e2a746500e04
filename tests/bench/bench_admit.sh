#!/usr/bin/env bash
# bench_admit.sh [BUILD_DIR] — admission throughput, same server, same run:
#   (a) baseline: redis-benchmark calls pg_admit (store/pregon.lua) for ONE job per FCALL (50
#       clients), with the arguments rl_admit.c builds for one accepted job;
#   (b) pregon: bench_admit (rl_admit_batch: read history, decide in C, one FCALL per shard) in
#       batches of 100/500/1000, over 1 connection and then 2 threads/connections.
# Starts a private redis-server on a Unix socket in a temp dir (tests/integration/redis_lib.sh)
# and stops it on exit; FLUSHALL between phases. BUILD_DIR defaults to build-bench, built with
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG"
#   cmake --build build-bench -j2 --target bench_admit bench_decide
# Environment: JOBS (default 200000) for both phases.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
jobs=${JOBS:-200000}
bin=$build/tests/bench/bench_admit
[ -x "$bin" ] || { echo "bench_admit.sh: $bin missing; build it first (see the header)" >&2; exit 1; }

. "$root/tests/integration/redis_lib.sh"    # PG_REDIS_CLUSTER=1: a cluster node, all slots
dir=$(mktemp -d /tmp/pregon-bench.XXXXXX)
sock="$dir/redis.sock"
cleanup() {
  pg_redis_stop
  rm -rf "$dir"
}
trap cleanup EXIT
pg_redis_start "$dir" || exit 1
echo "redis: $(redis-server --version | cut -d' ' -f3) on $sock; $(nproc) CPUs"

# --- (a) baseline -----------------------------------------------------------------------------
redis-cli -s "$sock" FUNCTION LOAD REPLACE "$(cat "$root/store/pregon.lua")" >/dev/null
now=1773237600                       # 2026-03-11T10:00:00-04:00, as bench_admit
ttl=$((35 * 86400))                  # rl_admit.c: idempotency TTL
hist_ttl=$((35 * 86400 + 86400))     # HISTORY_FLOOR_SECS + 1 day
payload=$(printf 'p%.0s' $(seq 120)) # the 120 bytes bench_admit sends
# KEYS: audit, deferred, then history, job, the tenant's suppression hash, queue of the one job (one shard).
# ARGV: now (ms), ttl, hist_ttl, then job_id tenant debtor readmit version action until rule
#       reason new_history payload channel contact queue_score debt campaign zone offset counters.
args=(FCALL pg_admit 6 'pg:{s0}:audit' 'pg:{s0}:deferred'
  "pg:{s0}:h:acme:__rand_int__" "pg:{s0}:j:acme:__rand_int__:job-__rand_int__"
  "pg:{s0}:sp:acme" 'pg:{s0}:q:sms'
  "${now}000" "$ttl" "$hist_ttl"
  "job-__rand_int__" acme "__rand_int__" 0 0 A 0 "" ""
  "$now,1,0,1a2b3c4d,5e6f7a8b;" "$payload" sms +15550000000 "$now" L1 bench America/New_York -14400 "1 of 3 in day")
redis-cli -s "$sock" FLUSHALL >/dev/null
echo "(a) redis-benchmark -s SOCK -n $jobs -c 50 -r 100000000 FCALL pg_admit 6 ... (1 job per call)"
csv=$(redis-benchmark -s "$sock" -n "$jobs" -c 50 -r 100000000 --csv "${args[@]}")
# "test","rps","avg","min","p50","p95","p99","max": the test name holds commas, count from the end
base=$(printf '%s\n' "$csv" | tail -1 | awk -F, '{ gsub(/"/, ""); print $(NF-6) }')
base_p50=$(printf '%s\n' "$csv" | tail -1 | awk -F, '{ gsub(/"/, ""); print $(NF-3) }')
base_p99=$(printf '%s\n' "$csv" | tail -1 | awk -F, '{ gsub(/"/, ""); print $(NF-1) }')
accepted=$(redis-cli -s "$sock" ZCARD 'pg:{s0}:q:sms')
awk -v r="$base" -v a="$accepted" -v n="$jobs" -v p="$base_p50" -v q="$base_p99" 'BEGIN {
  printf "    %.0f requests/s = jobs/s (per request p50 %s ms, p99 %s ms)\n", r, p, q
  printf "    accepted %d (%.2f%%), not accepted (retry T on a\n", a, 100*a/n
  printf "    repeated debtor key, or duplicate job key) %d (%.2f%%)\n", n-a, 100*(n-a)/n }'
redis-cli -s "$sock" FLUSHALL >/dev/null

# --- (b) pregon -------------------------------------------------------------------------------
echo "(b) $bin SOCK $jobs"
out=$("$bin" "$sock" "$jobs")
printf '%s\n' "$out" | sed 's/^/    /'
redis-cli -s "$sock" FLUSHALL >/dev/null

# --- table ------------------------------------------------------------------------------------
echo
echo "p50/p99: per request for the baseline (1 job), per rl_admit_batch call for pregon"
printf '%s\n' "$out" | awk -v base="$base" -v bp50="$base_p50" -v bp99="$base_p99" '
  BEGIN { printf "%-28s %10s %9s %9s %9s\n", "run", "jobs/s", "p50 ms", "p99 ms", "vs base"
          printf "%-28s %10.0f %9.2f %9.2f %9.2f\n", "baseline 1 job/FCALL, c50", base, bp50, bp99, 1 }
  /^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%-28s %10.0f %9.2f %9.2f %9.2f\n", sprintf("pregon %s conn, batch %s", v["threads"], v["batch"]),
      v["jobs_per_s"], v["p50_ms"], v["p99_ms"], v["jobs_per_s"] / base }'
