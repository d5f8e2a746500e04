#!/usr/bin/env bash
# bench_release.sh [BUILD_DIR] [JOBS] — a campaign submitted before the window opens goes out
# when it opens, at the rate the worker takes it. pregond's clock starts at 06:59:40 UTC
# (test.clock_offset_s); JOBS jobs (default 50000, zone UTC, policy OPEN7: 07:00-22:00) are all
# deferred; at 07:00 they fall due together. Reports the rate from 07:00 until the sandbox has
# received every one, next to the end-to-end rate of the same jobs submitted while open
# (baseline, same run). One pregond, one pregon-sms (CONCURRENCY, default 512), the sandbox.
set -euo pipefail
build=${1:-build-bench}
jobs=${2:-50000}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/bench/bench_lib.sh"
start_redis
start_sandbox
make_jobs "$dir/open.jsonl" "$jobs" open OPEN7 UTC
make_jobs "$dir/night.jsonl" "$jobs" night OPEN7 UTC
start_worker

# baseline: the same number of jobs submitted while the window is open (12:00 UTC)
now=$(date -u +%s)
noon=$(( now - now % 86400 + 12 * 3600 ))
[ "$noon" -gt "$now" ] || noon=$((noon + 86400))   # the offset is never negative
start_pregond $((noon - now))
wait_for 10 grep -q "joined on sms" "$dir/pregond.log"
t0=$(now_ms)
submit "$dir/open.jsonl"
sandbox_wait "$jobs"
t1=$(now_ms)
kill -TERM "$pregond_pid"; wait "$pregond_pid" || true
redis-cli -s "$dir/redis.sock" flushall >/dev/null

# the night campaign: submitted at 06:59:40 on pregond's clock, due at 07:00:00
now=$(date -u +%s)
start=$(( now - now % 86400 + 7 * 3600 - 20 ))
[ "$start" -gt "$now" ] || start=$((start + 86400))
start_pregond $((start - now))
wait_for 10 sh -c "[ \"\$(grep -c 'joined on sms' '$dir/pregond.log')\" -ge 2 ]"
ts=$(now_ms)
submit "$dir/night.jsonl"
ts1=$(now_ms)
deferred=$(grep -o "DEFERRED *open7.hours *[0-9]*" "$dir/night.jsonl.out" | grep -o "[0-9]*$" || echo 0)
# pregond's clock reads wall + offset, so its 07:00:00 (start + 20) is this wall-clock instant
opens_ms=$(( (start + 20 - (start - now)) * 1000 ))
before=$(sandbox_total)
sandbox_wait $((jobs * 2))
t3=$(now_ms)
echo "== deferred release, $jobs SMS jobs, one pregond, one pregon-sms (concurrency ${CONCURRENCY:-512}), sandbox"
echo "night campaign submitted in $(( ts1 - ts )) ms: $deferred deferred by open7.hours; sent before 07:00: $((before - jobs))"
awk -v j="$jobs" -v b="$((t1 - t0))" -v r="$((t3 - opens_ms))" 'BEGIN {
  printf "baseline, submitted while open (admission included): %.0f msg/s\n", j / (b / 1000)
  printf "released at 07:00, from 07:00 to the last one sent:   %.0f msg/s (%.1f s)\n", j / (r / 1000), r / 1000 }'
