#!/usr/bin/env bash
# run.sh BUILD_DIR — `pregonctl submit` against the files people have (issue 15): every input
# of inputs/ (cases.txt says the exit code, the jobs ACCEPTED and what stderr must say), then
# what cannot be a file in git: a directory as FILE, a 5 MB job in the middle of a batch (only
# it is REJECTED job.fields/job-too-large, the others are answered), a cp1252 file sends
# nothing, non-ASCII ids REJECTED bad-job-id, a batch answered BUSY (Redis gone: exit 4), no
# pregond (exit 3). Real redis-server and pregond over ZeroMQ; private sockets.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/submit_files"
. "$src/tests/integration/it_lib.sh"
it_begin submit-files

pg_redis_start "$dir" || exit 1
front="ipc://$dir/front"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "$front", backend: "ipc://$dir/back", events: "", hooks: ""}
policies: $here/policies
templates: $src/deploy/templates.yaml
channels: sms
security: {curve: 0}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }

# submit FILE [ARGS]: verdicts on $dir/out, messages on $dir/err, exit code in $rc
submit() { local f=$1; shift; "$ctl" submit --endpoint "$front" --json --timeout 10 "$@" "$f" >"$dir/out" 2>"$dir/err"; rc=$?; }
accepted() { grep -c '"verdict":"ACCEPTED"' "$dir/out"; }

# --- 1. the files of inputs/
while IFS='|' read -r file want_rc want_acc want_err; do
  file=$(echo "$file" | xargs); want_rc=$(echo "$want_rc" | xargs); want_acc=$(echo "$want_acc" | xargs)
  want_err=$(echo "$want_err" | sed 's/^ *//; s/ *$//')
  case "$file" in ''|'#'*) continue ;; esac
  submit "$here/inputs/$file"
  [ "$rc" = "$want_rc" ] && ok || ko "$file: exit $rc, want $want_rc: $(cat "$dir/err")"
  [ "$(accepted)" = "$want_acc" ] && ok || ko "$file: $(accepted) ACCEPTED, want $want_acc: $(cat "$dir/out" "$dir/err")"
  [ "$want_err" = - ] || { grep -Eq "$want_err" "$dir/err" && ok || ko "$file: stderr lacks /$want_err/: $(cat "$dir/err")"; }
done <"$here/cases.txt"

# --- 2. what each case means beyond its counts
submit "$here/inputs/excel-es-semicolon.csv"  # submitted again: the same ids, DUPLICATE
[ "$(grep -c '"verdict":"DUPLICATE"' "$dir/out")" = 3 ] && ok || ko "semicolon CSV again: $(cat "$dir/out")"
submit "$here/inputs/excel-cp1252.csv"
[ ! -s "$dir/out" ] && grep -q "nothing sent" "$dir/err" && ok || ko "cp1252: something was sent: $(cat "$dir/out")"
iconv -f cp1252 -t utf-8 "$here/inputs/excel-cp1252.csv" >"$dir/converted.csv"
submit "$dir/converted.csv"  # the command the message suggests makes it work
[ "$rc" = 0 ] && [ "$(accepted)" = 3 ] && ok || ko "converted cp1252: exit $rc: $(cat "$dir/out" "$dir/err")"
submit "$here/inputs/non-ascii-id.jsonl"
grep -q '"job_id":"","verdict":"REJECTED","rule":"job.fields","reason":"bad-job-id"' "$dir/out" \
  && ok || ko "non-ASCII id not REJECTED bad-job-id: $(cat "$dir/out")"
submit "$here/inputs/bad-contact.jsonl"
grep -q '"job_id":"bc-2","verdict":"REJECTED","rule":"job.fields","reason":"bad-phone"' "$dir/out" \
  && ok || ko "bad contact: $(cat "$dir/out")"
submit "$here/inputs/PLAIN.CSV" --jsonl  # the format said: read as JSON Lines, every line bad
[ "$rc" = 1 ] && grep -q "PLAIN.CSV:1: error" "$dir/err" && ok || ko "--jsonl not obeyed: $(cat "$dir/err")"
sed 's/;/|/g' "$here/inputs/excel-es-semicolon.csv" | sed 's/semi-/pipe-/; s/d-semi/d-pipe/' >"$dir/pipes.csv"
submit "$dir/pipes.csv" --delimiter '|'
[ "$rc" = 0 ] && [ "$(accepted)" = 3 ] && ok || ko "--delimiter '|': exit $rc: $(cat "$dir/out" "$dir/err")"

# --- 3. a directory as FILE
submit "$here/inputs"
[ "$rc" = 2 ] && grep -q "is a directory" "$dir/err" && ok || ko "directory: exit $rc: $(cat "$dir/err")"

# --- 4. one 5 MB job in the middle of a batch: only it is refused, the others answered
/usr/bin/python3 - "$here/inputs/busy.jsonl" "$dir/big.jsonl" <<'PY'
import json, sys
jobs = [json.loads(l) for l in open(sys.argv[1])]
out = open(sys.argv[2], "w")
for i, j in enumerate(jobs):
    j["job_id"] = j["job_id"].replace("busy", "big"); j["debtor_id"] += "big"
    if i == 1:
        j["variables"]["nombre"] = "x" * (5 << 20)
    out.write(json.dumps(j) + "\n")
PY
submit "$dir/big.jsonl"
[ "$rc" = 1 ] && ok || ko "a 5 MB job: exit $rc, want 1: $(cat "$dir/err")"
[ "$(accepted)" = 2 ] && ok || ko "a 5 MB job took its batch along: $(cat "$dir/out" "$dir/err")"
grep -q '"job_id":"big-2","verdict":"REJECTED","rule":"job.fields","reason":"job-too-large"' "$dir/out" \
  && ok || ko "the 5 MB job's verdict: $(cat "$dir/out")"
# and jobs whose batch would pass the frame limit are cut into several batches
submit "$here/inputs/channel-case.jsonl" --max-frame-bytes 4096 --batch 500
[ "$rc" = 0 ] && [ "$(grep -c DUPLICATE "$dir/out")" = 3 ] && ok || ko "small frames: exit $rc: $(cat "$dir/out" "$dir/err")"

# --- 5. BUSY: Redis gone, every job BUSY, exit 4 (resubmit)
pg_redis_stop
wait_for 10 grep -qi "redis.*\(lost\|unreachable\|down\)" "$dir/pregond.log" || true
submit "$here/inputs/busy.jsonl"
[ "$rc" = 4 ] && ok || ko "a batch answered BUSY: exit $rc, want 4: $(cat "$dir/out" "$dir/err")"
[ "$(grep -c '"verdict":"BUSY"' "$dir/out")" = 3 ] && ok || ko "BUSY verdicts: $(cat "$dir/out")"
grep -q "submit the file again" "$dir/err" && ok || ko "BUSY summary: $(cat "$dir/err")"

# --- 6. no pregond: exit 3
"$ctl" submit --endpoint "ipc://$dir/nobody" --timeout 1 "$here/inputs/busy.jsonl" >"$dir/out" 2>"$dir/err"
rc=$?
[ "$rc" = 3 ] && grep -q "no answer from pregond" "$dir/err" && ok || ko "no pregond: exit $rc: $(cat "$dir/err")"

echo "submit_files: $pass passed, $fail failed"
[ $fail = 0 ]
