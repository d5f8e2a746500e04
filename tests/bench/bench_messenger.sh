#!/usr/bin/env bash
# bench_messenger.sh [BUILD_DIR] [JOBS] [CONCURRENCY] — messages/s through one pregon-messenger
# against pregon-sandbox's Send API, next to one pregon-sms against its Twilio Messages API in
# the same run (the baseline: same fake broker, same sandbox process, same concurrency).
# The fake broker (tests/integration/worker/fake_broker.c) keeps each worker saturated, acking
# every report as pregond does; each worker runs unshaped (--rate 0) so the figure is the
# worker's and the sandbox's capacity, not the Send API's 300 msg/s per page (pregon-messenger's
# default shaping, measured in a third phase). The Messenger phase sends to one PSID whose
# window a scripted inbound message opened (the sandbox checks it on every request) and posts
# no webhooks. Prints one line per phase and the ratio. Use a Release build (-O2, no
# sanitizers): cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release.
set -euo pipefail
build=${1:-build-bench}
n=${2:-50000}
conc=${3:-64}
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/pregon-msgrbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
PAGE=1040000000000000 PSID=9001
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token
export MESSENGER_PAGE_TOKEN=EAAG-bench-token
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/port" \
  --max-records 1000 --messenger-page "$PAGE:$MESSENGER_PAGE_TOKEN" >"$dir/sandbox.log" 2>&1 &
sbpid=$!
pids+=($sbpid)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
sb="http://127.0.0.1:$(cat "$dir/port")"
curl -fsS "$sb/_sandbox/messenger/inbound" -d "{\"psid\": \"$PSID\", \"text\": \"hola\"}" >/dev/null
coproc FB { "$build/tests/integration/worker/pg_fake_broker"; }
pids+=($FB_PID)
say() { echo "$*" >&"${FB[1]}"; IFS= read -r -u "${FB[0]}" line; }
IFS= read -r -u "${FB[0]}" line
endpoint=${line#endpoint }
say acks on
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# phase NAME PROGRAM ARGS... -- BENCH_ARGS...: start the worker, warm up, measure, stop it
phase() {
  local name=$1 prog=$2; shift 2
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  "$prog" --no-journal --broker "$endpoint" --base-url "$sb${BASE_PATH:-}" --worker-id "bench-$name" \
    --concurrency "$conc" "${args[@]}" 2>"$dir/$name.log" &
  local w=$!
  say wait-ready 10000
  say bench "${WARM_N:-5000}" "$@"
  local t0 t1
  t0=$(ticks $w)
  say bench "${PHASE_N:-$n}" "$@"
  t1=$(ticks $w)
  local rate
  rate=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$line")
  printf '%-28s %s  worker CPU %.1f us/msg\n' "$name:" "$line" \
    "$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="${PHASE_N:-$n}" 'BEGIN { print t / hz * 1e6 / n }')"
  eval "rate_$name=$rate"
  kill -TERM "$w"
  wait "$w" || true
}
echo "== $n messages per phase, concurrency $conc, one sandbox ($(nproc) CPUs on this machine)"
phase sms "$build/channels/sms/pregon-sms" --from +15005550006 --rate 0 -- 100 +573001234567
BASE_PATH=/messenger phase messenger "$build/channels/messenger/pregon-messenger" --page-id "$PAGE" --rate 0 -- \
  1 "$PSID" "${PAGE%0000}"
BASE_PATH=/messenger WARM_N=300 PHASE_N=3000 phase messenger_shaped "$build/channels/messenger/pregon-messenger" --page-id "$PAGE" -- \
  1 "$PSID" "${PAGE%0000}"
awk -v m="$rate_messenger" -v s="$rate_sms" 'BEGIN { printf "messenger / sms: %.2f\n", m / s }'
curl -s "$sb/_sandbox/stats" | python3 -c 'import json,sys; m=json.load(sys.stdin)["modules"]["messenger"]
print("sandbox messenger: %d accepted, %d outside the window" % (m["sent"], m["outside_window"]))'
