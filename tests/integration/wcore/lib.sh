# lib.sh — sourced by the wcore tests (window.sh, fallback.sh): a private redis-server, pregond
# (re)started at a clock offset, fake WhatsApp / Messenger workers (fake_worker.py), the hooks
# side (../inbound/hooks_client.py) and the frontend (submit.py), all over real ZeroMQ.
# Needs $src, $build; sets $dir through it_begin.
here="$src/tests/integration/wcore"
. "$src/tests/integration/it_lib.sh"
py=/usr/bin/python3

wc_setup() { # NAME
  it_begin "$1"
  pg_redis_start "$dir" || exit 1
  protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || { echo "protoc failed"; exit 1; }
  : >"$dir/script.json"
}

# wc_pregond OFFSET_S [EXTRA_YAML]: (re)starts pregond with test.clock_offset_s = OFFSET_S;
# sets $hooks (its hooks endpoint) and $pregond_pid.
wc_pregond() {
  local off=$1 extra=${2:-}
  if [ -n "${pregond_pid:-}" ]; then kill -TERM "$pregond_pid"; wait "$pregond_pid" 2>/dev/null; fi
  cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "ipc://$dir/events", hooks: "tcp://127.0.0.1:*"}
security: {curve: 0}   # plaintext: ipc and loopback endpoints only
policies: ${WC_POLICIES:-$src/tests/integration/e2e/policies}
templates: $here/templates.yaml
channels: "sms,whatsapp,messenger,email"
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
test: {clock_offset_s: $off}
$extra
YAML
  : >"$dir/pregond.log"
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
  pregond_pid=$!
  pids+=($pregond_pid)
  wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
  hooks=$(grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "hooks tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2)
}

# wc_worker CHANNEL: a fake worker (WHATSAPP, MESSENGER, SMS, EMAIL) whose dispatches go to
# $dir/CHANNEL.out; its reports follow $dir/script.json.
wc_worker() {
  "$py" "$here/fake_worker.py" "ipc://$dir/back" "$dir" "$1" "$dir/$1.out" "$dir/script.json" \
    2>>"$dir/worker-$1.log" &
  pids+=($!)
  eval "worker_$1=$!"
  : >>"$dir/$1.out"
}

# wc_submit <<JSONL: prints one verdict line per job (submit.py).
wc_submit() { "$py" "$here/submit.py" "ipc://$dir/front" "$dir"; }
# verdict FILE JOB: "CODE rule reason until" of JOB's verdict in FILE.
verdict() { grep "\"job_id\": \"$2\"" "$1" | "$py" -c 'import json,sys; v=json.load(sys.stdin); print(v["code"], v["rule"], v["reason"], v["until"])'; }
# wc_event JSON: sends one InboundEvent to pregond's hooks socket; prints its ack's result.
wc_event() { echo "$1" | "$py" "$src/tests/integration/inbound/hooks_client.py" "$hooks" "$dir" | "$py" -c 'import json,sys; a=json.load(sys.stdin); print(a.get("result"), a.get("detail"))'; }
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
dispatched() { grep -q "\"job\": \"$2\"" "$dir/$1.out"; }
