#!/usr/bin/env bash
# drain.sh BUILD_DIR [RECORDS] [KILLS] — pregon-audit against a real redis-server:
#  1. RECORDS (default 100,000) audit records over 16 shards (shard 0's first ones two and one
#     days old, so it has closed segments) drained while pregon-audit is killed with SIGKILL KILLS
#     times (default 5) at random points, restarted each time: afterwards every stream is empty
#     and nothing is pending, the archive holds every record exactly once, `pregonctl audit
#     verify` finds every chain whole, the index counts every record (and again after reindex);
#  2. tampering with a copy (a record edited, removed, two swapped, one appended at the end, one
#     appended after a checkpoint, a whole segment removed) makes verify exit 1 naming it;
#  3. retention: a jurisdiction kept 1 day loses its expired segment whole, the removal is a
#     signed record and verify still finds the chain whole; a preset below 2 years is refused.
# The long version: RECORDS=1000000 KILLS=20 (tests/integration/audit/drain.sh BUILD 1000000 20).
# PG_REDIS_CLUSTER=1: on a cluster node (every call one slot).
set -uo pipefail
build=$1
records=${2:-100000}
kills=${3:-5}
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/audit"
. "$src/tests/integration/it_lib.sh"
it_begin audit-drain
audit="$build/broker/audit/pregon-audit"
py=/usr/bin/python3
pg_redis_start "$dir" || exit 1
"$audit" keygen --key "$dir/k.pem" --pub "$dir/k.pub" || { echo "keygen failed"; exit 1; }
streams_left() { local n=0 s; for s in $(seq 0 15); do n=$((n + $(pg_rcli xlen "pg:{s$s}:audit"))); done; echo $n; }
pending_left() { local n=0 s p; for s in $(seq 0 15); do p=$(pg_rcli xpending "pg:{s$s}:audit" pregon-audit 2>/dev/null | head -1); n=$((n + ${p:-0})); done; echo $n; }

# --- 1. a drain killed at random points -----------------------------------------------------------
$py "$here/gen.py" "$records" 16 "$dir/records.resp" 600
pg_rcli --pipe <"$dir/records.resp" >"$dir/pipe.out" 2>&1 || { echo "redis-cli --pipe: $(cat "$dir/pipe.out")"; exit 1; }
[ "$(streams_left)" = "$records" ] && ok || ko "loaded $(streams_left) records, want $records"
dargs=(drain --dir "$dir/a" --key "$dir/k.pem" --redis-socket "$PG_REDIS_SOCK" --batch 500)
drain() { "$audit" "${dargs[@]}" "$@"; }
t0=$SECONDS
# first, 3 kills exactly between a batch's fsync and its XACK (the window a random kill rarely
# hits): the next run is delivered those records again and must skip them
for k in 3 7 11; do
  PREGON_AUDIT_TEST_KILL_AFTER=$k "$audit" "${dargs[@]}" --once 2>>"$dir/drain.log"
  echo "exact kill after $k batches: $(streams_left) records left in Redis" >>"$dir/kills.log"
done
RANDOM=${SEED:-$$}
for k in $(seq 1 "$kills"); do
  "$audit" "${dargs[@]}" 2>>"$dir/drain.log" & # the process itself: $! is what is killed
  p=$!
  # a random point: 20..800 ms into this run (the drain takes seconds: most kills land mid-write)
  sleep "0.$(printf '%03d' $((20 + RANDOM % 780)))"
  kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
  echo "kill $k: $(streams_left) records left in Redis" >>"$dir/kills.log"
done
drain --once 2>>"$dir/drain.log" && ok || ko "the last drain failed: $(tail -5 "$dir/drain.log")"
drain_s=$((SECONDS - t0))
mid=$(awk -v n="$records" '{ if ($3 > 0 && $3 < n) m++ } END { print m + 0 }' "$dir/kills.log")
[ "$mid" -ge 1 ] && ok || ko "no kill landed mid-drain: $(cat "$dir/kills.log")"
[ "$(streams_left)" = 0 ] && ok || ko "records left in Redis: $(streams_left)"
dups=$(grep -o '[0-9]* records delivered again were written before' "$dir/drain.log" | awk '{ s += $1 } END { print s + 0 }')
[ "$dups" -ge 3 ] && ok || ko "no run skipped the records a killed one wrote and never acknowledged ($dups)"
[ "$(pending_left)" = 0 ] && ok || ko "entries pending: $(pending_left)"
out=$($py "$here/check.py" "$dir/a" "$records") && ok || ko "archive records, distinct ids, distinct jobs: $out (want $records each)"
"$ctl" audit verify --dir "$dir/a" --pub "$dir/k.pub" >"$dir/verify.out" 2>&1 && ok || ko "verify after the kills: $(cat "$dir/verify.out")"
grep -q "intact: $records records" "$dir/verify.out" && ok || ko "verify counts: $(cat "$dir/verify.out")"
idx_count() { "$ctl" audit stats --dir "$dir/a" --json | $py -c 'import json,sys; print(sum(r["count"] for r in json.load(sys.stdin)))'; }
[ "$(idx_count)" = "$records" ] && ok || ko "the index counts $(idx_count) records, want $records"
rm -f "$dir/a/index.sqlite"*
"$audit" reindex --dir "$dir/a" 2>"$dir/reindex.log" && [ "$(idx_count)" = "$records" ] && ok \
  || ko "reindex: $(cat "$dir/reindex.log"), $(idx_count) records"
closed=$(ls "$dir/a/s0" | wc -l)
[ "$closed" = 3 ] && tail -1 "$dir/a/s0/$(ls "$dir/a/s0" | head -1)" | pipe_has '"kind":"checkpoint"' && ok \
  || ko "shard 0: $closed segments ($(ls "$dir/a/s0")), the oldest not closed by a checkpoint"

# one archive, one drainer: a second one is refused while the first runs
"$audit" "${dargs[@]}" 2>"$dir/first.log" &
p=$!
wait_for 10 grep -q "draining 16 shards" "$dir/first.log" || ko "the first drainer did not start: $(cat "$dir/first.log")"
out=$(drain --once 2>&1); rc=$?
[ $rc = 1 ] && grep -q "another pregon-audit" <<<"$out" && ok || ko "a second drainer on the same archive: exit $rc: $out"
kill -TERM $p; wait $p

# --- 2. tampering ----------------------------------------------------------------------------------
today=$(date -u +%Y-%m-%d)
tamper() { # MODE SEGMENT (relative to the archive)
  rm -rf "$dir/t" && cp -r "$dir/a" "$dir/t"
  local want out rc
  want=$($py "$here/tamper.py" "$1" "$dir/t/$2")
  out=$("$ctl" audit verify --dir "$dir/t" --pub "$dir/k.pub" 2>&1); rc=$?
  [ $rc = 1 ] && grep -qF "$want" <<<"$out" && ok || ko "tamper $1 $2: exit $rc, want 1 naming \"$want\": $out"
}
tamper edit "s3/$today.jsonl"
tamper delete "s4/$today.jsonl"
tamper swap "s5/$today.jsonl"
tamper append "s6/$today.jsonl"
oldest=$(ls "$dir/a/s0" | head -1)
tamper after "s0/$oldest"
tamper edit "s0/$oldest"
rm -rf "$dir/t" && cp -r "$dir/a" "$dir/t" && rm "$dir/t/s0/$oldest"
out=$("$ctl" audit verify --dir "$dir/t" --pub "$dir/k.pub" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "segments removed out of band" <<<"$out" && ok || ko "a segment removed: exit $rc: $out"
"$audit" keygen --key "$dir/other.pem" --pub "$dir/other.pub" >/dev/null
out=$("$ctl" audit verify --dir "$dir/a" --pub "$dir/other.pub" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "bad signature" <<<"$out" && ok || ko "another key: exit $rc: $out"

# --- 3. retention -----------------------------------------------------------------------------------
out=$(drain --once --retain CL=30 2>&1); rc=$?
[ $rc = 2 ] && grep -q "at least 730 days" <<<"$out" && ok || ko "a preset under 2 years: exit $rc: $out"
drain --once --retain TEST=1 2>"$dir/retain.log" && ok || ko "retention run: $(cat "$dir/retain.log")"
grep -q "removed s0/$(basename "$oldest" .jsonl)" "$dir/retain.log" && [ ! -e "$dir/a/s0/$oldest" ] && [ "$(ls "$dir/a/s0" | wc -l)" = 2 ] && ok \
  || ko "retention: $(cat "$dir/retain.log"); s0 holds $(ls "$dir/a/s0")"
"$ctl" audit verify --dir "$dir/a" --pub "$dir/k.pub" >"$dir/verify2.out" 2>&1 && grep -q "1 removals recorded" "$dir/verify2.out" && ok \
  || ko "verify after retention: $(cat "$dir/verify2.out")"

bytes=$(cat "$dir"/a/s*/*.jsonl | wc -c)
echo "audit drain: $records records, $kills random kills ($mid mid-drain) and 3 exact ones ($dups duplicates skipped), ${drain_s}s; $((bytes / records)) bytes per record in segments"
echo "audit drain: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
