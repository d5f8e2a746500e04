# it_lib.sh — sourced by the integration scripts that run real processes: the one place that
# knows their private temp dir, check counters, process cleanup and polling.
#
#   it_begin NAME   a temp dir $dir (/tmp/pregon-NAME.XXXXXX), counters, cleanup on exit (every
#                   process in $pids stopped, the private redis-server too; KEEP=1 keeps $dir)
#   ok / ko MSG     count a passed / failed check (ko prints MSG)
#   wait_for S CMD  poll CMD every 0.1 s for up to S seconds (never a blind sleep)
#   rcli, rkey      redis-cli on the private Redis; pregonctl's key of a job, history, ...
# Needs $src (the source tree) and $build set; sources redis_lib.sh.
. "$src/tests/integration/redis_lib.sh"
pass=0 fail=0
pids=()
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
it_cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
  pg_redis_stop
  wait 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
}
it_begin() {
  dir=$(mktemp -d "/tmp/pregon-$1.XXXXXX")
  export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
  trap it_cleanup EXIT
}
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done; }
rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
ctl="$build/broker/pregonctl"
rkey() { "$ctl" redis key "$@" --redis-socket "$dir/redis.sock"; }
