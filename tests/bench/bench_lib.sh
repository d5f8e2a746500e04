# bench_lib.sh — sourced by the end-to-end benchmarks (bench_e2e.sh, bench_release.sh): a
# private temp dir removed on exit with every process started, polling helpers, Redis on a Unix
# socket, the sandbox on a free port, the job generator. Expects `build` and `src` to be set.
# PG_REDIS_CLUSTER=1: Redis is a cluster node owning all slots (tests/integration/redis_lib.sh).
# CURVE=1: pregond's sockets are CURVE servers and pregon-sms and pregonctl connect with keys
# made by `pregonctl keys new` (make_keys, once per run); CURVE=0 (default): plaintext.
. "$src/tests/integration/redis_lib.sh"
dir=$(mktemp -d /tmp/pregon-bench.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pg_redis_stop
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap bench_cleanup EXIT
# wait_for SECONDS CMD...: polls CMD until it succeeds
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }
now_ms() { date +%s%3N; }

# start_redis: on $dir/redis.sock ($dir/redis.pid its process id)
start_redis() { pg_redis_start "$dir"; }

# load_functions: the state machine library (store/pregon.lua), for baselines that call it
load_functions() { redis-cli -s "$dir/redis.sock" FUNCTION LOAD REPLACE "$(cat "$src/store/pregon.lua")" >/dev/null; }

# start_sandbox [ARGS...]: keeps few records (the benchmarks only count); sets sb (base URL)
start_sandbox() {
  "$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sb.port" \
    --max-records 20000 "$@" 2>"$dir/sb.log" &
  pids+=($!)
  wait_for 10 test -s "$dir/sb.port"
  sb="http://127.0.0.1:$(cat "$dir/sb.port")"
}

# sandbox_wait N: one long poll until the sandbox has received N SMS requests (no poller
# competing for the CPU being measured)
sandbox_wait() {
  local got
  got=$(curl -sS --max-time 700 "$sb/_sandbox/wait?provider=twilio-sms&total=$1&timeout_ms=600000" 2>&1) || true
  grep -q '"reached": *true' <<<"$got" || echo "sandbox wait: ${got:-no answer}" >&2
}
sandbox_total() { curl -s "$sb/_sandbox/stats" | grep -o '"twilio-sms":{"total":[0-9]*' | grep -o '[0-9]*$' || echo 0; }

# make_jobs FILE N PREFIX JURISDICTION ZONE: N SMS jobs, one per debtor, ids PREFIX0..
make_jobs() {
  python3 - "$@" <<'PY'
import json, sys
path, n, prefix, jurisdiction, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
v = {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800", "enlace": "x.co"}
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "bench", "debtor_id": f"{prefix}-d{i}",
            "channel": "sms", "contact": f"+5255{10000000 + i}", "template_id": "aviso_mora_sms",
            "jurisdiction": jurisdiction, "time_zone": zone, "variables": v}) + "\n")
PY
}

# make_keys: pregond's, a client's and a worker's CURVE keys in $dir/own, the admitted .pub
# files in $dir/keys (once per run; CURVE=1 uses them)
make_keys() {
  [ -f "$dir/own/pregond.key" ] && return 0
  mkdir -p "$dir/own" "$dir/keys"
  "$build/broker/pregonctl" keys new pregond --role broker --dir "$dir/own" >/dev/null
  "$build/broker/pregonctl" keys new bench --role client --tenants '*' --dir "$dir/own" >/dev/null
  "$build/broker/pregonctl" keys new sms --role worker --channels sms --dir "$dir/own" >/dev/null
  cp "$dir/own/bench.pub" "$dir/own/sms.pub" "$dir/keys/"
}
# client_keys NAME: the flags of a client holding $dir/own/NAME.key when CURVE=1, else none
client_keys() {
  [ "${CURVE:-0}" = 1 ] && echo "--key-file $dir/own/$1.key --broker-key-file $dir/own/pregond.pub"
  return 0
}

# start_worker [ARGS...]: one pregon-sms on ipc://$dir/back against the sandbox
start_worker() {
  TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token \
    "$build/channels/sms/pregon-sms" --broker "ipc://$dir/back" --base-url "$sb" $(client_keys sms) \
    --from +15005550006 --concurrency "${CONCURRENCY:-512}" "$@" 2>>"$dir/sms.log" &
  pids+=($!)
}

# submit FILE: pregonctl submit, batches of 1000, 8 in flight; its summary in FILE.out
submit() { "$build/broker/pregonctl" submit --endpoint "ipc://$dir/front" --batch 1000 --window 8 $(client_keys bench) "$1" >"$1.out"; }

# start_pregond [CLOCK_OFFSET_S]: pregond on ipc:// endpoints with the benchmark policies;
# sets pregond_pid and waits until it serves
start_pregond() {
  [ "${CURVE:-0}" = 1 ] && make_keys
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: ${CURVE:-0}, secret_key_file: "$dir/own/pregond.key", keys: "$dir/keys"}
policies: $src/tests/bench/policies
templates: $src/deploy/templates.yaml
limits: {max_queue: 10000000}
test: {clock_offset_s: ${1:-0}}
YAML
  local serving
  serving=$(grep -c "pregond: serving" "$dir/pregond.log" 2>/dev/null || true)
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pregond_pid=$!
  pids+=($pregond_pid)
  wait_for 10 sh -c "[ \"\$(grep -c 'pregond: serving' '$dir/pregond.log')\" -gt ${serving:-0} ]"
}
