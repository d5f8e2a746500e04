#!/usr/bin/env bash
# bench_whatsapp.sh [BUILD_DIR] [JOBS] [SHAPED_JOBS] — WhatsApp end-to-end throughput next to
# SMS's, on this machine, in one run (one pregond serving both, one Redis, one sandbox):
#  1. SMS baseline: one pregon-sms, JOBS SMS jobs submitted; messages/s from the first submit
#     until the sandbox has received every one (admission included);
#  2. WhatsApp, unshaped: one pregon-whatsapp with --rate 0 --throughput 0 (what the pipeline
#     costs: template rendering, the Cloud API JSON, Meta's answer parsed), JOBS template jobs
#     to JOBS numbers; messages/s the same way, as a ratio to SMS's;
#  3. WhatsApp, shaped as deployed: the default --throughput 80 of one business number,
#     SHAPED_JOBS jobs; messages/s, which must be about 80 (the ratio to the limit is printed).
# No webhooks (the sandbox posts none): this measures sending. Env: CONCURRENCY (both workers'
# --concurrency, default 512). Loopback only; use a release build (-O2) for figures to quote.
set -euo pipefail
build=${1:-build-bench}
jobs=${2:-20000}
shaped=${3:-800}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/bench/bench_lib.sh"
start_redis
start_sandbox --wa-phone-number-id 1065550001
start_pregond
# the broker serves both channels: start_pregond's file plus the channels line, restarted
kill -TERM "$pregond_pid"; wait "$pregond_pid" || true
echo "channels: sms,whatsapp" >>"$dir/pregon.yaml"
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
pregond_pid=$!; pids+=($pregond_pid)
wait_for 10 sh -c "[ \"\$(grep -c 'pregond: serving' '$dir/pregond.log')\" -ge 2 ]"

# wa_jobs FILE N PREFIX: N WhatsApp template jobs, one per debtor and number
wa_jobs() {
  python3 - "$@" <<'PY'
import json, sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
v = {"nombre": "Ana", "monto": "$100", "producto": "tarjeta", "fecha": "5 de mayo", "enlace": "x.co",
     "referencia": "ref-1"}
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "bench", "debtor_id": f"{prefix}-d{i}",
            "channel": "whatsapp", "contact": f"+5255{10000000 + i}", "template_id": "recordatorio_pago",
            "jurisdiction": "BENCH", "time_zone": "America/Mexico_City", "variables": v}) + "\n")
PY
}
# wait_provider PROVIDER N: one long poll until the sandbox has received N requests of PROVIDER
wait_provider() {
  local got
  got=$(curl -sS --max-time 700 "$sb/_sandbox/wait?provider=$1&total=$2&timeout_ms=600000" 2>&1) || true
  grep -q '"reached": *true' <<<"$got" || echo "sandbox wait: ${got:-no answer}" >&2
}
start_wa() {
  WHATSAPP_TOKEN=sandbox-wa-token "$build/channels/whatsapp/pregon-whatsapp" --broker "ipc://$dir/back" \
    --base-url "$sb" --phone-number-id 1065550001 --concurrency "${CONCURRENCY:-512}" --no-journal \
    --worker-id "wa-bench-$1" "${@:2}" 2>>"$dir/wa.log" &
  pids+=($!); wa_pid=$!
  wait_for 10 sh -c "[ \"\$(grep -c 'joined on whatsapp' '$dir/pregond.log')\" -ge $1 ]"
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cpu_us() { awk -v hz="$(getconf CLK_TCK)" -v n="$2" -v z="$3" '{ printf "%.1f", ($14 + $15 - z) * 1e6 / hz / n }' "/proc/$1/stat"; }

make_jobs "$dir/sms.jsonl" "$jobs" s BENCH America/Mexico_City
wa_jobs "$dir/wa.jsonl" "$jobs" w
wa_jobs "$dir/wa80.jsonl" "$shaped" x

# 1. SMS
start_worker --no-journal --worker-id sms-bench
sms_pid=${pids[-1]}
wait_for 10 grep -q "joined on sms" "$dir/pregond.log"
c0=$(ticks "$sms_pid"); t0=$(now_ms)
submit "$dir/sms.jsonl"
wait_provider twilio-sms "$jobs"
t1=$(now_ms)
sms_cpu=$(cpu_us "$sms_pid" "$jobs" "$c0")
kill -TERM "$sms_pid"; wait "$sms_pid" || true

# 2. WhatsApp, unshaped
start_wa 1 --rate 0 --throughput 0
c0=$(ticks "$wa_pid"); t2=$(now_ms)
submit "$dir/wa.jsonl"
wait_provider whatsapp "$jobs"
t3=$(now_ms)
wa_cpu=$(cpu_us "$wa_pid" "$jobs" "$c0")
kill -TERM "$wa_pid"; wait "$wa_pid" || true

# 3. WhatsApp, one business number at the default 80 msg/s
start_wa 2
seq0=$(curl -s "$sb/_sandbox/stats" | python3 -c 'import json,sys
def find(o):
    if isinstance(o, dict):
        if "last_seq" in o: return o["last_seq"]
        for v in o.values():
            r = find(v)
            if r is not None: return r
print(find(json.load(sys.stdin)) or 0)')
t4=$(now_ms)
submit "$dir/wa80.jsonl"
wait_provider whatsapp "$((jobs + shaped))"
t5=$(now_ms)
# steady state: the busiest second after the first (the bucket starts full: 80 at once)
peak=$(curl -s "$sb/_sandbox/requests?provider=whatsapp&since=$seq0&limit=100000" | python3 -c '
import json, sys
t = sorted(r["arrival_ms"] for r in json.load(sys.stdin))
t = [x for x in t if x >= t[0] + 1000]
print(max((sum(1 for y in t[i:] if y < x + 1000) for i, x in enumerate(t)), default=0))')
refused=$(curl -s "$sb/_sandbox/stats" | python3 -c 'import json,sys; m=json.load(sys.stdin)["modules"]["whatsapp"]; print(m["throughput_refused"] + m["pair_refused"])')

echo "== pregon, one pregond, one worker at a time (concurrency ${CONCURRENCY:-512}), sandbox; build $build"
awk -v n="$jobs" -v m="$shaped" -v s="$((t1 - t0))" -v w="$((t3 - t2))" -v x="$((t5 - t4))" \
    -v sc="$sms_cpu" -v wc="$wa_cpu" -v r="$refused" -v p="$peak" 'BEGIN {
  sms = n / (s / 1000); wa = n / (w / 1000); wa80 = m / (x / 1000)
  printf "SMS end to end (baseline):            %7.0f messages/s  (%d in %.1f s; pregon-sms %s us CPU/message)\n", sms, n, s / 1000, sc
  printf "WhatsApp end to end, unshaped:        %7.0f messages/s  (%.2fx SMS; pregon-whatsapp %s us CPU/message)\n", wa, wa / sms, wc
  printf "WhatsApp, one number at --throughput 80: %4.1f messages/s  (%d jobs in %.1f s, the first 80 at once)\n", wa80, m, x / 1000
  printf "  busiest second after the first: %d messages (%.2fx the limit); sandbox refusals %d\n", p, p / 80, r }'
