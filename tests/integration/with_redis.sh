#!/usr/bin/env bash
# with_redis.sh CMD [ARGS] — runs CMD with a private redis-server on a Unix socket in a temp dir
# (no TCP port, so parallel runs never collide), exported as PG_REDIS_SOCK; stops it afterwards.
set -euo pipefail
dir=$(mktemp -d /tmp/pregon-redis.XXXXXX)
sock="$dir/redis.sock"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" \
  --save '' --appendonly no --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
cleanup() {
  redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 200); do   # wait until it answers: poll, don't sleep blindly
  redis-cli -s "$sock" ping 2>/dev/null | grep -q PONG && break
  sleep 0.05
done
redis-cli -s "$sock" ping | grep -q PONG || { echo "redis-server did not start"; cat "$dir/redis.log"; exit 1; }
PG_REDIS_SOCK="$sock" "$@"
