#!/usr/bin/env bash
# bench_audit.sh [BUILD_DIR] [DRAIN_RECORDS] [QUERY_RECORDS] — pregon-audit's figures (not in
# ctest; a Release build: cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release):
#  1. drain: DRAIN_RECORDS (default 200,000) audit records over 16 shards through a real Redis
#     into the archive (fsync per batch, index on), records/s; against the baseline measured in
#     the same run: the same records read by `pregonctl redis audit` (XRANGE over every shard,
#     what an export did before pregon-audit), and the drain without its index;
#  2. a debtor query over QUERY_RECORDS (default 10,000,000) records: the segments are
#     generated synthetically (gen_segments.py; pushing 10M through Redis needs ~5 GB of Redis
#     memory and far longer), indexed by `pregon-audit reindex`, then `pregonctl audit debtor`
#     of one debtor (median of 5, ms) against the baseline of scanning the segments for it
#     (grep -c, one pass, as any query without the index would);
#  3. bytes per record on disk: segments, index.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-rel}
nd=${2:-200000}
nq=${3:-10000000}
. "$src/tests/bench/bench_lib.sh"
audit="$build/broker/audit/pregon-audit"
ctl="$build/broker/pregonctl"
py=/usr/bin/python3
start_redis
"$audit" keygen --key "$dir/k.pem" --pub "$dir/k.pub"
ms() { date +%s%3N; }
load() { $py "$src/tests/integration/audit/gen.py" "$nd" 16 "$dir/r.resp" && redis-cli -s "$dir/redis.sock" --pipe <"$dir/r.resp" >/dev/null; }

# 1. drain
load
t=$(ms); "$ctl" redis audit --redis-socket "$dir/redis.sock" >/dev/null; base=$(( $(ms) - t ))
t=$(ms); "$audit" drain --once --dir "$dir/a" --key "$dir/k.pem" --redis-socket "$dir/redis.sock" 2>/dev/null; drain=$(( $(ms) - t ))
load
t=$(ms); "$audit" drain --once --no-index --dir "$dir/b" --key "$dir/k.pem" --redis-socket "$dir/redis.sock" 2>/dev/null; drain_ni=$(( $(ms) - t ))
seg_bytes=$(cat "$dir"/a/s*/*.jsonl | wc -c); idx_bytes=$(du -cb "$dir"/a/index.sqlite* | tail -1 | cut -f1)
echo "drain: $nd records in $drain ms = $(( nd * 1000 / drain )) records/s (index on); $(( nd * 1000 / drain_ni )) records/s without the index"
echo "baseline: pregonctl redis audit (XRANGE, no write) $(( nd * 1000 / base )) records/s; drain/baseline = $(awk -v a="$base" -v b="$drain" 'BEGIN{printf "%.2f", a/b}')"
echo "bytes per record: $(( seg_bytes / nd )) in segments, $(( idx_bytes / nd )) in the index"
"$ctl" audit verify --dir "$dir/a" --pub "$dir/k.pub"
rm -rf "$dir/a" "$dir/b"

# 2. a debtor query over nq records
t=$(ms); $py "$src/tests/bench/gen_segments.py" "$dir/q" "$nq" 16 1000000; gen=$(( $(ms) - t ))
t=$(ms); "$audit" reindex --dir "$dir/q" 2>/dev/null; reindex=$(( $(ms) - t ))
q_bytes=$(cat "$dir"/q/s*/*.jsonl | wc -c); qi_bytes=$(du -cb "$dir"/q/index.sqlite* | tail -1 | cut -f1)
echo "synthetic: $nq records in $gen ms; reindex $reindex ms ($(( nq / (reindex / 1000 + 1) )) records/s); $(( q_bytes / nq )) bytes per record in segments, $(( qi_bytes / nq )) in the index"
times=()
for d in d123 d4567 d98765 d500000 d999999; do
  t=$(ms); n=$("$ctl" audit debtor --dir "$dir/q" --tenant acme --debtor "$d" --format csv | wc -l); times+=($(( $(ms) - t )))
done
med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
t=$(ms); scan=$(cat "$dir"/q/s*/*.jsonl | grep -c '"debtor":"d123",' || true); scan_ms=$(( $(ms) - t ))
echo "debtor query over $nq records: median $med ms (${times[*]}), $((n - 1)) records of the debtor; baseline scan of the segments $scan_ms ms ($scan records): $(( scan_ms / (med > 0 ? med : 1) ))x"
