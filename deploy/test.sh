#!/usr/bin/env bash
# test.sh — the test command: install what is missing, build with ASan+UBSan, run every test.
# Usage: deploy/test.sh            (from anywhere; builds into build-test/ at the project root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash deploy/install-deps.sh

echo "== format check (.clang-format)"
bad=0
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=1; }
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ "$bad" -eq 0 ] || { echo "run clang-format -i on the files above"; exit 1; }

echo "== build (-O2, ASan + UBSan: optimizer-only warnings are errors too)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREGON_SANITIZE=ON >/dev/null
cmake --build build-test -j"$(nproc)"

echo "== tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-test
ctest --output-on-failure --timeout 600 -j"$(nproc)"

# ---- fuzzing (tests/fuzz; docs/fuzzing.md): where clang-14 is installed, build the libFuzzer
# targets in build-fuzz/ and run each for 20 s, two at a time; a crash fails the run ----------
cd "$root"
if command -v clang-14 >/dev/null; then
  echo "== fuzz (tests/fuzz/run.sh --seconds 20: clang-14, libFuzzer + ASan + UBSan)"
  tests/fuzz/run.sh --seconds 20 --jobs 2
else
  echo "== fuzz: skipped (clang-14 is not installed)"
fi
# ---- end of fuzzing ------------------------------------------------------------------------
