#!/usr/bin/env bash
# bench_callgrind.sh [BUILD_DIR] [JOBS] — bench_e2e.sh with pregond under valgrind's callgrind:
# instructions (Ir) per job of each pregond it starts (the first: admission alone; the second:
# end to end). Instruction counts do not depend on what else the machine runs, so two builds
# compare within ~1% where CPU seconds on a shared machine move by 10-20% (NOTES-perf.md).
# The counts include each process's start (~17M Ir: ~2k per job at 10000 jobs).
# Needs valgrind (apt-get install valgrind: a benchmark tool, not installed by deploy/install-deps.sh).
# Output files stay in $CG_DIR (default a new /tmp/pregon-cg.XXXXXX) for callgrind_annotate.
set -euo pipefail
build=$(cd "${1:-build-bench}" && pwd)
jobs=${2:-10000}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${CG_DIR:-$(mktemp -d /tmp/pregon-cg.XXXXXX)}
z="$out/build"
mkdir -p "$z/broker" "$z/channels/sms" "$z/channels/sandbox"
ln -sf "$build/broker/pregonctl" "$z/broker/pregonctl"
ln -sf "$build/channels/sms/pregon-sms" "$z/channels/sms/pregon-sms"
ln -sf "$build/channels/sandbox/pregon-sandbox" "$z/channels/sandbox/pregon-sandbox"
printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --callgrind-out-file=%s/pregond.%%p.cg %s "$@"\n' \
  "$out" "$build/broker/pregond" >"$z/broker/pregond"
chmod +x "$z/broker/pregond"
bash "$src/tests/bench/bench_e2e.sh" "$z" "$jobs" >"$out/bench_e2e.out" 2>&1
phase=(admission end-to-end)
k=0
for f in $(ls -tr "$out"/pregond.*.cg); do
  awk -v j="$jobs" -v p="${phase[$k]:-other}" -v f="$f" '/^summary:/ {
    printf "pregond %-10s %14d Ir  %8.0f Ir per job  (%s)\n", p, $2, $2 / j, f; exit }' "$f"
  k=$((k + 1))
done
