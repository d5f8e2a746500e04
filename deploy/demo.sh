#!/usr/bin/env bash
# demo.sh — the demo command: install what is missing, build, and show pregon deciding.
#
# Stage 1 (this release): the policy engine. It evaluates deploy/examples/scenarios.jsonl — jobs
# at night, on holidays, over caps, to forbidden roles, across time zones — against the shipped
# presets with `pregonctl policy-check` and prints each verdict and a summary. It needs no Redis
# yet: pregond, the channel workers and the provider sandbox join it in the next stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash deploy/install-deps.sh
echo "== building (release) into build-demo/"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-demo -j"$(nproc)" --target pregonctl >/dev/null

echo "== verdicts for deploy/examples/scenarios.jsonl (debtor-local times)"
out=$(mktemp); trap 'rm -f "$out"' EXIT
build-demo/broker/pregonctl policy-check --policy deploy/policies \
  --scenarios deploy/examples/scenarios.jsonl >"$out"
python3 - "$out" <<'PY' 2>/dev/null || cat "$out"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'scenario':36} {'verdict':9} {'rule':24} {'until':26} local time")
for r in rows:
    print(f"{r['id']:36} {r['verdict']:9} {str(r['rule'] or '-'):24} {str(r['until'] or '-'):26} {r.get('local','')}")
c = collections.Counter(r['verdict'] for r in rows)
print("\nsummary: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
PY
