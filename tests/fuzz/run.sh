#!/usr/bin/env bash
# run.sh — builds the libFuzzer targets (clang-14, build-fuzz/ at the project root) and runs each
# for a while, two at a time, from its seed corpus (corpus/TARGET, in git) plus the inputs earlier
# runs found (build-fuzz/corpus/TARGET, not in git). Prints per target the executions, runs/s and
# coverage; exits 1 when any target crashed, leaked, hung or broke a property (the input is then
# build-fuzz/artifacts/TARGET/crash-*: add it to corpus/TARGET/ with the fix).
# Usage: tests/fuzz/run.sh [--seconds N (default 20)] [--jobs J (default 2)] [--no-build]
#                          [TARGET...]   (default: every fuzz_*.c; a TARGET is e.g. "hooks")
# deploy/test.sh runs it with the defaults; a nightly run: tests/fuzz/run.sh --seconds 600.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build-fuzz"
seconds=20 jobs=2 build=1 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$here"/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
command -v clang-14 >/dev/null || { echo "run.sh: clang-14 is not installed" >&2; exit 2; }

if [ "$build" -eq 1 ]; then
  echo "== fuzz build (clang-14, libFuzzer + ASan + UBSan) in build-fuzz/"
  cmake -S "$root" -B "$out" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPREGON_FUZZ=ON >/dev/null
  cmake --build "$out" -j"$jobs" --target fuzz >/dev/null
fi

# One target: its log, its working corpus, its artifacts. Never writes into corpus/ (git).
run_one() {
  local t=$1 bin="$out/tests/fuzz/fuzz_$1" dict=()
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$out/tmp"
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  # TMPDIR: the loaders' inputs are files (fz_lib.c); a crashed run leaves its folder there
  TMPDIR="$out/tmp" ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
           -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" "${dict[@]}" \
           "$out/corpus/$t" "$here/corpus/$t" >"$out/logs/$t.log" 2>&1
}
export -f run_one
export out here seconds
mkdir -p "$out/logs"
rm -f "$out"/logs/*.log "$out"/logs/*.rc
echo "== fuzzing ${#targets[@]} targets, ${seconds} s each, $jobs at a time"
printf '%s\n' "${targets[@]}" |
  xargs -P "$jobs" -I{} bash -c 'run_one {}; echo $? >"$out/logs/{}.rc"' || true

failed=0
printf '%-14s %12s %9s %8s %8s %8s  %s\n' target execs runs/s cov ft corpus result
for t in "${targets[@]}"; do
  log="$out/logs/$t.log"
  rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" != 0 ]; then
    result="FAILED (exit $rc): $(ls "$out/artifacts/$t" 2>/dev/null | head -1), log $log"
    failed=1
  fi
  printf '%-14s %12s %9s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
         "${ft:-?}" "${corp:-?}" "$result"
done
if [ "$failed" -ne 0 ]; then
  for t in "${targets[@]}"; do
    [ "$(cat "$out/logs/$t.rc" 2>/dev/null)" = 0 ] && continue
    echo "---- $t (last lines of $out/logs/$t.log)"
    grep -v '^#[0-9]' "$out/logs/$t.log" | tail -40
  done
  exit 1
fi
