# redis_lib.sh — sourced by every script that needs a private redis-server (with_redis.sh, the
# e2e test, the benchmarks): the one place that knows how to start and stop one.
#
#   pg_redis_start DIR [REDIS-ARGS...]   start it, data/log/socket in DIR (the caller's temp dir);
#                                        exports PG_REDIS_SOCK (and PG_REDIS_PORT, see below)
#   pg_redis_stop                        SHUTDOWN NOSAVE, and wait until the process is gone
#   pg_rcli ARGS...                      redis-cli on it, with the credentials below if any
#
# PG_REDIS_USER and PG_REDIS_PASSWORD_FILE (optional): a Redis started with an ACL (REDIS-ARGS
# --aclfile FILE) whose default user is off is reached as this user (an admin: the ping, the
# cluster setup and SHUTDOWN need it), the password through REDISCLI_AUTH, never an argument.
# it_redis.h's connections use them too.
#
# Default: no TCP port at all (--port 0), only the Unix socket DIR/redis.sock: parallel runs
# never collide; PG_REDIS_PORT is unset in this mode.
#
# PG_REDIS_CLUSTER=1: a Redis Cluster node (--cluster-enabled yes) that owns all 16384 slots
# (CLUSTER ADDSLOTSRANGE 0 16383), started and polled until `cluster_state:ok`. On it, as on a
# real cluster, a command, a MULTI/EXEC or an EVAL/FCALL whose declared KEYS span two slots
# fails with "CROSSSLOT Keys in request don't hash to the same slot", and a Function or a
# `#!lua` script that touches an undeclared key of another slot fails with "Script attempted to
# access keys that do not hash to the same slot": the layout's one-slot-per-call rule is checked
# by running the tests here.
# Blind spot (Redis 7.0): a script WITHOUT a shebang line (EVAL compatibility mode) may touch
# undeclared keys of any slot the node owns, and this node owns them all; on a real cluster the
# same call fails ("Script attempted to access a non local key") as soon as a key lives on
# another master. Scripts are only fully checked here once they start with `#!lua` or are
# Functions (FUNCTION LOAD / FCALL).
# Cluster mode needs a TCP port and a cluster bus port: both are drawn at random on 127.0.0.1
# below the kernel's ephemeral range (20000-29999 and 10000-19999); if either is taken the bind
# fails, redis-server exits, and another pair is tried, so the bind itself is the lock and
# parallel runs never collide. The port is exported as PG_REDIS_PORT; the Unix socket is served
# too and is still PG_REDIS_SOCK, so clients need no change.
#
# redis-server runs in the foreground of a subshell that exits at once: it is not a child of the
# caller, so a caller's bare `wait` never waits for it. PG_REDIS_PID is its process id.

# s_pg_redis_alive PID: the process exists and is not a zombie
# (no command substitution: it runs from EXIT traps, after a bare `wait`)
s_pg_redis_alive() {
  local st
  { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
  st=${st##*) }
  [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# pipe_has GREP-ARGS...: `... | pipe_has PATTERN` is `... | grep -q PATTERN` that reads its whole
# input: grep -q exits at the first match, and under `set -o pipefail` the writer it leaves
# behind dies of SIGPIPE and fails the pipeline, a check that flakes with the output's size.
# (grep -c into a pipe: GNU grep stops early when its stdout is /dev/null.)
pipe_has() { [ "$(grep -c "$@")" != 0 ]; }

pg_rcli() {
  if [ -n "${PG_REDIS_USER:-}" ]; then
    REDISCLI_AUTH=$(cat "$PG_REDIS_PASSWORD_FILE") redis-cli -s "$PG_REDIS_SOCK" --user "$PG_REDIS_USER" "$@"
  else
    redis-cli -s "$PG_REDIS_SOCK" "$@"
  fi
}

s_pg_redis_ping() { pg_rcli ping 2>/dev/null | grep -q PONG; }

pg_redis_start() {
  local dir=$1
  shift
  PG_REDIS_SOCK="$dir/redis.sock"
  export PG_REDIS_SOCK
  unset PG_REDIS_PORT
  local base=(--unixsocket "$PG_REDIS_SOCK" --unixsocketperm 700 --dir "$dir" --save ''
    --appendonly no --daemonize no --logfile "$dir/redis.log" --pidfile "$dir/redis.pid")
  local try port bus mode=() i
  for try in $(seq 1 20); do
    if [ "${PG_REDIS_CLUSTER:-0}" = 1 ]; then
      port=$((20000 + RANDOM % 10000))
      bus=$((10000 + RANDOM % 10000))
      rm -f "$dir/nodes.conf"
      mode=(--port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-port "$bus"
        --cluster-config-file nodes.conf)
    else
      mode=(--port 0)
    fi
    : >"$dir/redis.log"
    PG_REDIS_PID=$( (redis-server "${base[@]}" "${mode[@]}" "$@" </dev/null >>"$dir/redis.log" 2>&1 &
      echo $!))
    for i in $(seq 1 200); do # until it answers or exits: poll, don't sleep blindly
      s_pg_redis_ping && break
      s_pg_redis_alive "$PG_REDIS_PID" || break
      sleep 0.05
    done
    s_pg_redis_ping && break
    if [ "${PG_REDIS_CLUSTER:-0}" = 1 ] && grep -q "Address already in use" "$dir/redis.log"; then
      continue # one of the two ports was taken: draw another pair
    fi
    echo "redis-server did not start:" >&2
    cat "$dir/redis.log" >&2
    return 1
  done
  s_pg_redis_ping || {
    echo "redis-server did not start after $try tries (ports taken?)" >&2
    return 1
  }
  if [ "${PG_REDIS_CLUSTER:-0}" = 1 ]; then
    PG_REDIS_PORT=$port
    export PG_REDIS_PORT
    local r
    r=$(pg_rcli cluster addslotsrange 0 16383)
    [ "$r" = OK ] || {
      echo "CLUSTER ADDSLOTSRANGE 0 16383: $r" >&2
      return 1
    }
    for i in $(seq 1 200); do # a fresh master turns ok within ~2 s (CLUSTER_WRITABLE_DELAY)
      pg_rcli cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      sleep 0.05
    done
    pg_rcli cluster info | grep -q '^cluster_state:ok' || {
      echo "cluster node did not reach cluster_state:ok:" >&2
      pg_rcli cluster info >&2
      return 1
    }
  fi
}

pg_redis_stop() {
  [ -n "${PG_REDIS_PID:-}" ] || return 0
  pg_rcli shutdown nosave >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 100); do
    s_pg_redis_alive "$PG_REDIS_PID" || break
    sleep 0.05
  done
  if s_pg_redis_alive "$PG_REDIS_PID" && grep -q redis "/proc/$PG_REDIS_PID/comm" 2>/dev/null; then
    kill -KILL "$PG_REDIS_PID" 2>/dev/null || true
  fi
  PG_REDIS_PID=
}
