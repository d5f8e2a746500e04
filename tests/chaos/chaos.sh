#!/usr/bin/env bash
# chaos.sh — a campaign through every real part while pregond, the SMS worker and Redis are
# killed with SIGKILL at points a seeded RNG chooses, then an audit of what happened.
#
# Parts: redis-server with AOF (appendfsync always by default: see --appendfsync), pregond,
# pregon-sms, pregon-sandbox (the provider, with latency, a few 5xx and signed status callbacks)
# and pregon-hooks (the callbacks back to pregond). pregonctl submits the campaign, again for the
# jobs whose verdict a kill swallowed, as a campaign system would. Each kill waits until the
# sandbox has received the planned number of requests (chaos_plan.py), then kill -9, a planned
# down time, a restart, and a poll until the process serves again. When the campaign has
# drained, chaos_check.py reads the sandbox's record (what the provider received), the audit
# streams and the job hashes, and checks: 0 lost, 0 sent twice, 0 cap or window violations,
# every transition audited; it splits UNKNOWN into in flight at a kill and never started.
# This script only runs processes and collects; the verdict is chaos_check.py's.
#
# Usage: chaos.sh [--build DIR] [--jobs N] [--kills N] [--seed N] [--appendfsync always|everysec]
#   CHAOS_SEED=N is --seed N (the seed is printed; it replays the campaign and its kill points);
#   CHAOS_STRICT_UNKNOWN=1 fails the run when a job that never started ends UNKNOWN; KEEP=1
#   keeps the temp dir (logs, the sandbox's record, the audit, the checker's report).
# ctest's chaos.campaign runs the default size (about a minute under the sanitizer build); the
# benchmark-style run is e.g. `tests/chaos/chaos.sh --build build-test --jobs 40000 --kills 8`.
set -uo pipefail
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
here="$src/tests/chaos"
build=${PG_BUILD_DIR:-$src/build}
jobs_n=12000 kills_n=8 seed=${CHAOS_SEED:-} fsync=always
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --jobs) jobs_n=$2; shift 2 ;;
    --kills) kills_n=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --appendfsync) fsync=$2; shift 2 ;;
    *) echo "usage: chaos.sh [--build DIR] [--jobs N] [--kills N] [--seed N] [--appendfsync always|everysec]" >&2; exit 2 ;;
  esac
done
case $fsync in always | everysec) ;; *) echo "chaos: --appendfsync always|everysec" >&2; exit 2 ;; esac
[ -n "$seed" ] || seed=$(( $(od -An -N4 -tu4 /dev/urandom) % 1000000000 ))
py=/usr/bin/python3
. "$src/tests/integration/it_lib.sh"
it_begin chaos
t0=$SECONDS
echo "chaos: seed $seed (CHAOS_SEED=$seed reproduces), $jobs_n jobs, $kills_n kills, appendfsync $fsync, dir $dir"
now_ms() { date +%s%3N; }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; } # planned chaos, not a wait
logline() { echo "chaos: [$((SECONDS - t0))s] $*"; }

# --- Redis: AOF on; kill -9 and a restart on the same directory must keep what it acknowledged
redis_args=(--appendonly yes --appendfsync "$fsync")
pg_redis_start "$dir" "${redis_args[@]}" || exit 1
redis_gone() { ! s_pg_redis_alive "$PG_REDIS_PID"; }
redis_restart() {
  cat "$dir/redis.log" >>"$dir/redis-all.log" # pg_redis_start empties redis.log
  pg_redis_start "$dir" "${redis_args[@]}"
}

# --- the provider: latency (requests in flight when a worker dies), a few 5xx (retries),
#     status callbacks to pregon-hooks
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --latency-ms 20 --jitter-ms 60 --p5xx 0.01 --seed "$seed" --callbacks --callback-delay-ms 200 \
  2>"$dir/sandbox.log" &
pids+=($!); sandbox_pid=$!
wait_for 20 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"

# --- pregond: private ipc sockets; its clock starts at 06:59:45 UTC (test.clock_offset_s), so
#     the UTC debtors' jobs are deferred and released at 07:00 in the middle of the kills
now=$(date -u +%s)
start=$(( now - now % 86400 + 7 * 3600 - 15 ))
[ "$start" -gt "$now" ] || start=$((start + 86400))
offset=$((start - now))
# Plaintext: every socket is a private ipc:// path (tests/integration/curve covers CURVE).
# CHAOS_PREGOND_EXTRA is appended verbatim (one line per setting).
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg, shards: 16}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
policies: $here/policies
templates: $src/deploy/templates.yaml
limits: {max_batch: 1000, no_worker_warn_s: 60}
dispatch: {lease_ms: 4000, heartbeat_ms: 200, max_attempts: 5}
test: {clock_offset_s: $offset}
security: {curve: 0}
${CHAOS_PREGOND_EXTRA:-}
YAML
serving() { grep -c "pregond: serving" "$dir/pregond.log" 2>/dev/null; }
start_pregond() {
  local before; before=$(serving)
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pids+=($!); pregond_pid=$!
  wait_for 30 sh -c "[ \"\$(grep -c 'pregond: serving' '$dir/pregond.log')\" -gt ${before:-0} ]"
}
: >"$dir/pregond.log"
start_pregond || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }

export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token
"$build/channels/hooks/pregon-hooks" --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" \
  --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!); hooks_pid=$!
wait_for 20 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
curl -sf "$sb/_sandbox/twilio-sms/config" -d "{\"callbacks\": true}" >/dev/null || ko "sandbox config"

# The worker keeps its name across restarts (--worker-id), as a deployed one does (a systemd
# unit's instance name): what a restarted worker can tell pregond about its predecessor's jobs
# is tied to that name. pregond logs "joined" or "ready again" for it.
joined() { grep -cE "worker chaos-sms (joined|ready again) on sms" "$dir/pregond.log" 2>/dev/null; }
start_worker() {
  local before; before=$(joined)
  "$build/channels/sms/pregon-sms" --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
    --worker-id chaos-sms --concurrency 32 --heartbeat-ms 200 \
    --status-callback "$hooks/twilio/sms/status" 2>>"$dir/sms.log" &
  pids+=($!); worker_pid=$!
  wait_for 30 sh -c "[ \"\$(grep -cE 'worker chaos-sms (joined|ready again) on sms' '$dir/pregond.log')\" -gt ${before:-0} ]"
}
start_worker || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }

# --- the campaign and the kill schedule, from the seed
"$py" "$here/chaos_plan.py" --seed "$seed" --jobs "$jobs_n" --kills "$kills_n" --start "$start" \
  --out "$dir" || exit 1
"$py" -c 'import json,sys; p=json.load(open(sys.argv[1])); print("chaos: %d jobs over %d debtors, %d sends expected; kills: %s" % (p["jobs"], p["debtors"], p["expected_sends"], ", ".join("%s@%d" % (k["kind"], k["at_requests"]) for k in p["kills"])))' "$dir/plan.json"

# --- the submitter: every job until it has a verdict; a kill can swallow a batch's answer
#     (pregonctl times out) and a Redis outage answers BUSY: both are submitted again
submitter() {
  local round=0 left="$dir/jobs.jsonl" n
  while :; do
    round=$((round + 1))
    "$build/broker/pregonctl" submit --endpoint "ipc://$dir/front" --json --timeout 5 --batch 250 \
      --window 2 "$left" >>"$dir/verdicts.jsonl" 2>>"$dir/submit.log"
    left="$dir/left.$round.jsonl"
    n=$("$py" - "$dir/jobs.jsonl" "$dir/verdicts.jsonl" "$left" <<'PY'
import json, sys
final = {"ACCEPTED", "DEFERRED", "REJECTED", "EXPIRED", "DUPLICATE"}
done = set()
for line in open(sys.argv[2]):
    v = json.loads(line)
    if v["verdict"] in final:
        done.add(v["job_id"])
n = 0
with open(sys.argv[3], "w") as out:
    for line in open(sys.argv[1]):
        if json.loads(line)["job_id"] not in done:
            out.write(line)
            n += 1
print(n)
PY
)
    [ "$n" = 0 ] && { echo "$round" >"$dir/submit.rounds"; return 0; }
    [ $SECONDS -ge $((t0 + 240)) ] && { echo "chaos: $n jobs still without a verdict after $round rounds"; return 1; }
    sleep 0.3 # back off before submitting BUSY and unanswered jobs again
  done
}
: >"$dir/verdicts.jsonl"
submitter &
submit_pid=$!

# --- the kills
: >"$dir/kills.jsonl"
sandbox_total() { curl -s "$sb/_sandbox/stats" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["received"])' 2>/dev/null; }
kill_one() { # KIND: kill -9, record when, stay down, restart, wait until it serves again
  local kind=$1 down_ms=$2 at total up=1 submitting=false
  kill -0 "$submit_pid" 2>/dev/null && submitting=true
  total=$(sandbox_total)
  at=$(now_ms)
  case $kind in
    pregond) kill -KILL "$pregond_pid"; wait "$pregond_pid" 2>/dev/null ;;
    worker) kill -KILL "$worker_pid"; wait "$worker_pid" 2>/dev/null ;;
    redis) kill -KILL "$PG_REDIS_PID"; wait_for 30 redis_gone ;;
  esac
  sleep_ms "$down_ms"
  case $kind in
    pregond) start_pregond || up=0 ;;
    worker) start_worker || up=0 ;;
    redis) redis_restart || up=0 ;;
  esac
  printf '{"kind":"%s","at_ms":%s,"sandbox_total":%s,"up_ms":%s,"restarted":%s,"submitting":%s}\n' \
    "$kind" "$at" "${total:-0}" "$(now_ms)" "$up" "$submitting" >>"$dir/kills.jsonl"
  logline "killed $kind at $total provider requests$($submitting && echo ' (while submitting)'), down ${down_ms} ms, $([ $up = 1 ] && echo back || echo 'NOT back')"
  [ $up = 1 ] || ko "$kind did not come back after its kill"
}
n_kills=$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["kills"]))' "$dir/plan.json")
for i in $(seq 0 $((n_kills - 1))); do
  read -r kind at jitter down < <("$py" -c 'import json,sys; k=json.load(open(sys.argv[1]))["kills"][int(sys.argv[2])]; print(k["kind"], k["at_requests"], k["jitter_ms"], k["down_ms"])' "$dir/plan.json" "$i")
  # the long poll answers once the sandbox has `at` requests (or after 60 s without progress)
  for try in 1 2 3; do
    r=$(curl -s "$sb/_sandbox/wait?total=$at&timeout_ms=20000")
    grep -q '"reached": *true' <<<"$r" && break
  done
  grep -q '"reached": *true' <<<"$r" || logline "kill $i: the sandbox never reached $at requests ($r): killing now"
  sleep_ms "$jitter"
  kill_one "$kind" "$down"
done

# --- drain: every verdict in, nothing ready, leased, in retry or deferred-and-due; callbacks done
wait "$submit_pid" || ko "the submitter gave up"
shards=16
drained() {
  local st due now_s
  # not before the UTC debtors' window has opened (their deferred jobs released) on pregond's clock
  [ $(( $(date +%s) + offset )) -ge $((start + 20)) ] || return 1
  st=$("$ctl" redis stats --json --redis-socket "$dir/redis.sock" 2>/dev/null) || return 1
  "$py" -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["ready.sms"] == 0 and s["leased"] == 0 and s["retry"] == 0 else 1)' <<<"$st" 2>/dev/null || return 1
  now_s=$(( $(date +%s) + offset ))
  due=$(for s in $(seq 0 $((shards - 1))); do echo "ZCOUNT pg:{s$s}:deferred -inf $now_s"; done | rcli | awk '{n += $1} END {print n + 0}')
  [ "$due" = 0 ] || return 1
  curl -s "$sb/_sandbox/stats" | "$py" -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["callbacks"]["pending"] == 0 else 1)'
}
wait_for 120 drained || ko "the campaign did not drain: $("$ctl" redis stats --redis-socket "$dir/redis.sock" 2>&1 | tr '\n' ' ')"
logline "drained"

# --- collect, then check
curl -s "$sb/_sandbox/requests?limit=1000000" >"$dir/requests.json"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.jsonl" 2>"$dir/audit.err" || ko "pregonctl redis audit: $(cat "$dir/audit.err")"
first_job=$(head -1 "$dir/jobs.jsonl" | "$py" -c 'import json,sys; j=json.load(sys.stdin); print(j["tenant"], j["debtor_id"], j["job_id"])')
key_probe=$(rkey job $first_job)
elapsed=$((SECONDS - t0))
CHAOS_KEY_PROBE="$first_job $key_probe" "$py" "$here/chaos_check.py" --dir "$dir" --offset "$offset" \
  --policy "$here/policies/CHAOS.yaml" --shards "$shards" --prefix pg --seconds "$elapsed" \
  --strict-unknown "${CHAOS_STRICT_UNKNOWN:-0}" && ok || ko "chaos_check found violations (above)"

# --- the survivors stop cleanly; no sanitizer findings anywhere
kill -TERM "$worker_pid" "$pregond_pid" "$hooks_pid" "$sandbox_pid"
for p in "$worker_pid" "$pregond_pid" "$hooks_pid" "$sandbox_pid"; do
  wait "$p"; rc=$?
  [ $rc = 0 ] && ok || ko "process $p exited $rc on SIGTERM"
done
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$dir"/*.log; then
  ko "sanitizer findings: $(grep -hE 'Sanitizer|runtime error' "$dir"/*.log | head -5)"
else ok; fi

[ "$fail" -eq 0 ] || { echo "--- pregond.log"; tail -15 "$dir/pregond.log"; echo "--- sms.log"; tail -15 "$dir/sms.log"; }
echo "chaos: seed $seed: $pass passed, $fail failed in $((SECONDS - t0)) s"
[ "$fail" -eq 0 ]
