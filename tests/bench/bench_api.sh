#!/usr/bin/env bash
# bench_api.sh [BUILD_DIR] — admission throughput through pregon-api (HTTP/JSON, POST /v1/jobs
# with a JSON array of 500 jobs, 4 requests in flight: curl) next to the ZeroMQ path (pregonctl
# submit, batches of 500, window 4) in the same run, against the same pregond and Redis (no
# worker: admission only). Fresh job ids and debtors per phase; the policy is BENCH (no caps
# reached). CURVE=1: pregond's frontend with keys (pregon-api's and pregonctl's). Build:
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPREGON_SANITIZE=OFF
#   cmake --build build-bench -j2 --target pregond pregonctl pregon-api
# Environment: JOBS (default 50000) per phase.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-bench}
jobs=${JOBS:-50000}
. "$src/tests/bench/bench_lib.sh"
for b in broker/pregond broker/pregonctl api/pregon-api; do
  [ -x "$build/$b" ] || { echo "bench_api.sh: $build/$b missing (see the header)" >&2; exit 1; }
done
start_redis
start_pregond
[ "${CURVE:-0}" = 1 ] && "$build/broker/pregonctl" keys new gateway --role client --tenants '*' --dir "$dir/own" >/dev/null &&
  cp "$dir/own/gateway.pub" "$dir/keys/" && kill -HUP "$pregond_pid" && sleep 1
echo "$(printf tok-bench | "$build/api/pregon-api" --hash-token) bench bench" >"$dir/tokens"
"$build/api/pregon-api" --listen 127.0.0.1:0 --tokens "$dir/tokens" --frontend "ipc://$dir/front" \
  --redis-socket "$dir/redis.sock" --policies "$src/tests/bench/policies" --rate 0 --threads 4 \
  --max-jobs 1000 $(client_keys gateway) 2>"$dir/api.log" &
pids+=($!)
wait_for 10 grep -qs "pregon-api: serving" "$dir/api.log"
port=$(grep -m1 "pregon-api: serving" "$dir/api.log" | sed 's/.*(port \([0-9]*\)).*/\1/')
echo "jobs per phase: $jobs; $(nproc) CPUs; CURVE=${CURVE:-0}"

# (a) ZeroMQ: pregonctl submit
make_jobs "$dir/zmq.jsonl" "$jobs" z BENCH UTC
t0=$(now_ms)
"$build/broker/pregonctl" submit --endpoint "ipc://$dir/front" --batch 500 --window 4 $(client_keys bench) \
  "$dir/zmq.jsonl" >"$dir/zmq.out"
t1=$(now_ms)
zmq_rate=$((jobs * 1000 / (t1 - t0)))
grep -E "ACCEPTED|total" "$dir/zmq.out" | sed 's/^/  zmq: /'

# (b) HTTP: the same jobs (other ids), JSON arrays of 500, 4 curl requests at a time
make_jobs "$dir/http.jsonl" "$jobs" h BENCH UTC
mkdir -p "$dir/req"
python3 - "$dir/http.jsonl" "$dir/req" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
for k in range(0, len(lines), 500):
    open("%s/%06d.json" % (sys.argv[2], k // 500), "w").write("[" + ",".join(lines[k:k + 500]) + "]")
PY
t0=$(now_ms)
ls "$dir/req"/*.json | xargs -P 4 -I{} curl -s -o {}.out -H "Authorization: Bearer tok-bench" \
  -H "Content-Type: application/json" --data-binary @{} "http://127.0.0.1:$port/v1/jobs"
t1=$(now_ms)
http_rate=$((jobs * 1000 / (t1 - t0)))
accepted=$(cat "$dir/req"/*.out | grep -o '"ACCEPTED":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
echo "  http: ACCEPTED $accepted of $jobs"
echo "ZeroMQ (pregonctl submit): $zmq_rate jobs/s"
echo "HTTP   (pregon-api):       $http_rate jobs/s ($(python3 -c "print('%.2f' % ($http_rate / $zmq_rate))")x the ZeroMQ path)"
