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
dir=$(mktemp -d /tmp/pregon-release.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true; [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"; }
trap cleanup EXIT
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }
now_ms() { date +%s%3N; }

redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
wait_for 10 sh -c "redis-cli -s '$dir/redis.sock' ping 2>/dev/null | grep -q PONG"
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sb.port" \
  --max-records 20000 2>"$dir/sb.log" & pids+=($!)
wait_for 10 test -s "$dir/sb.port"
sb="http://127.0.0.1:$(cat "$dir/sb.port")"

# JOBS jobs, one per debtor, ids prefixed $2
python3 - "$dir" "$jobs" <<'PY'
import json, sys
v = {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800", "enlace": "x.co"}
for prefix in ("open", "night"):
    with open(f"{sys.argv[1]}/{prefix}.jsonl", "w") as f:
        for i in range(int(sys.argv[2])):
            f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "bench", "debtor_id": f"{prefix}-d{i}",
                "channel": "sms", "contact": f"+5255{10000000 + i}", "template_id": "aviso_mora_sms",
                "jurisdiction": "OPEN7", "time_zone": "UTC", "variables": v}) + "\n")
PY
submit() { "$build/broker/pregonctl" submit --endpoint "ipc://$dir/front" --batch 1000 --window 8 "$1" >"$1.out"; }
# start_pregond OFFSET_S: (re)starts pregond with its clock offset by OFFSET_S
start_pregond() {
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: ""}
policies: $src/tests/bench/policies
templates: $src/deploy/templates.yaml
limits: {max_queue: 10000000}
test: {clock_offset_s: $1}
YAML
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" & pregond_pid=$!
  pids+=($pregond_pid)
}
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token \
  "$build/channels/sms/pregon-sms" --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
  --concurrency "${CONCURRENCY:-512}" 2>"$dir/sms.log" & pids+=($!)

# baseline: the same number of jobs submitted while the window is open (12:00 UTC)
now=$(date -u +%s)
noon=$(( now - now % 86400 + 12 * 3600 ))
[ "$noon" -gt "$now" ] || noon=$((noon + 86400))   # the offset is never negative
start_pregond $((noon - now))
wait_for 10 grep -q "ready on sms" "$dir/pregond.log"
t0=$(now_ms)
submit "$dir/open.jsonl"
curl -sS --max-time 700 "$sb/_sandbox/wait?provider=twilio-sms&total=$jobs&timeout_ms=600000" >/dev/null
t1=$(now_ms)
kill -TERM "$pregond_pid"; wait "$pregond_pid" || true
redis-cli -s "$dir/redis.sock" flushall >/dev/null

# the night campaign: submitted at 06:59:40 on pregond's clock, due at 07:00:00
now=$(date -u +%s)
start=$(( now - now % 86400 + 7 * 3600 - 20 ))
[ "$start" -gt "$now" ] || start=$((start + 86400))
start_pregond $((start - now))
wait_for 10 sh -c "[ \"\$(grep -c 'ready on sms' '$dir/pregond.log')\" -ge 2 ]"
ts=$(now_ms)
submit "$dir/night.jsonl"
ts1=$(now_ms)
deferred=$(grep -o "DEFERRED *open7.hours *[0-9]*" "$dir/night.jsonl.out" | grep -o "[0-9]*$" || echo 0)
# pregond's clock reads wall + offset, so its 07:00:00 (start + 20) is this wall-clock instant
opens_ms=$(( (start + 20 - (start - now)) * 1000 ))
before=$(curl -s "$sb/_sandbox/stats" | grep -o '"twilio-sms":{"total":[0-9]*' | grep -o '[0-9]*$' || echo 0)
curl -sS --max-time 700 "$sb/_sandbox/wait?provider=twilio-sms&total=$((jobs * 2))&timeout_ms=600000" >/dev/null
t3=$(now_ms)
echo "== deferred release, $jobs SMS jobs, one pregond, one pregon-sms (concurrency ${CONCURRENCY:-512}), sandbox"
echo "night campaign submitted in $(( ts1 - ts )) ms: $deferred deferred by open7.hours; sent before 07:00: $((before - jobs))"
awk -v j="$jobs" -v b="$((t1 - t0))" -v r="$((t3 - opens_ms))" 'BEGIN {
  printf "baseline, submitted while open (admission included): %.0f msg/s\n", j / (b / 1000)
  printf "released at 07:00, from 07:00 to the last one sent:   %.0f msg/s (%.1f s)\n", j / (r / 1000), r / 1000 }'
