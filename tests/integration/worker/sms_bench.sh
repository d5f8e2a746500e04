#!/usr/bin/env bash
# sms_bench.sh PREGON_SMS FAKE_BROKER SANDBOX [CONCURRENCY] [JOBS] [SENDERS] — messages/s through
# one pregon-sms over loopback: the fake broker keeps it saturated (dispatches as fast as credit
# allows) against pregon-sandbox. Prints one "bench n=... rate=.../s" line after a 20k warm-up,
# plus the CPU seconds of each process. Use a Release build without sanitizers for figures.
set -euo pipefail
sms=$(realpath "$1") broker=$(realpath "$2") sandbox=$(realpath "$3")
conc=${4:-64} n=${5:-100000} senders=${6:-100}
dir=$(mktemp -d /tmp/pregon-smsbench.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token
"$sandbox" --listen 127.0.0.1:0 --port-file "$dir/port" --max-records 1000 >"$dir/sandbox.log" 2>&1 &
sb=$!
pids+=($sb)
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
coproc FB { "$broker"; }
fb=$FB_PID
pids+=($fb)
say() { echo "$*" >&"${FB[1]}"; IFS= read -r -u "${FB[0]}" line; }
IFS= read -r -u "${FB[0]}" line
"$sms" ${SMS_ARGS:-} --broker "${line#endpoint }" --base-url "http://127.0.0.1:$(cat "$dir/port")" \
  --worker-id bench --concurrency "$conc" --from +15005550006 2>"$dir/worker.log" &
w=$!
pids+=($w)
say wait-ready
say acks on # as pregond: every report acknowledged (the journal forgets it)
# utime and stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat)
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
say bench 20000 "$senders"
echo "warm-up: $line"
read -r wu0 ws0 < <(ticks $w)
say bench "$n" "$senders"
read -r wu1 ws1 < <(ticks $w)
echo "concurrency=$conc senders=$senders: $line"
awk -v u=$((wu1 - wu0)) -v s=$((ws1 - ws0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {
  printf "worker cpu during the run: %.1f us/msg (user %.1f, sys %.1f)\n",
    (u + s) / hz * 1e6 / n, u / hz * 1e6 / n, s / hz * 1e6 / n }'
echo "cpu: worker $(ps -o times= -p $w)s sandbox $(ps -o times= -p $sb)s broker $(ps -o times= -p $fb)s"
kill -TERM "$w"
wait "$w"
tail -1 "$dir/worker.log"
