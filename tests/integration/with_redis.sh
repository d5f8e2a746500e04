#!/usr/bin/env bash
# with_redis.sh CMD [ARGS] — runs CMD with a private redis-server on a Unix socket in a temp dir
# (no TCP port, so parallel runs never collide), exported as PG_REDIS_SOCK; stops it afterwards.
# PG_REDIS_CLUSTER=1: the server is a Redis Cluster node owning all 16384 slots, on a free
# loopback port (PG_REDIS_PORT) as well as the socket, so every cross-slot call of CMD fails as
# on a real cluster (see redis_lib.sh). The ctest entries cluster.* run tests this way.
set -euo pipefail
. "$(dirname "$0")/redis_lib.sh"
dir=$(mktemp -d /tmp/pregon-redis.XXXXXX)
cleanup() {
  pg_redis_stop
  rm -rf "$dir"
}
trap cleanup EXIT
pg_redis_start "$dir" || exit 1
"$@"
