#!/usr/bin/env bash
# run.sh BUILD_DIR api|openapi|python — pregon-api in front of a real pregond (CURVE on, keys
# made by pregonctl keys new), pregon-sms and pregon-sandbox, on free ports; then
#   api:     api_test.py (batches, verdicts equal to pregonctl submit's, tenant isolation,
#            SSE verdict and report events, limits, errors);
#   openapi: openapi_check.py (every operation of api/openapi.yaml answers, every answer
#            validates against its schema);
#   python:  the Python client's tests (clients/python/tests) against the same stack.
# Prints the processes' logs when a check failed; KEEP=1 keeps the folder.
set -uo pipefail
build=$1 mode=${2:-api}
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/api"
. "$src/tests/integration/it_lib.sh"
it_begin "api-$mode"
for m in jsonschema yaml zmq google.protobuf; do
  /usr/bin/python3 -c "import $m" 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks $m (deploy/install-deps.sh)"; exit 0; }
done

pg_redis_start "$dir" || exit 1
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"

mkdir -p "$dir/own" "$dir/keys"
newkey() { "$ctl" keys new "$@" --dir "$dir/own" >/dev/null || { echo "pregonctl keys new $* failed"; exit 1; }; }
newkey pregond --role broker
newkey gateway --role client --tenants '*'   # pregon-api: its tokens decide the tenants
newkey ctl --role client --tenants '*'       # the ZeroMQ path the API is compared with
newkey sms --role worker --channels sms
cp "$dir/own/gateway.pub" "$dir/own/ctl.pub" "$dir/own/sms.pub" "$dir/keys/"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*", hooks: ""}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $here/policies
templates: $src/deploy/templates.yaml
channels: sms
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
bound() { grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "$1 tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2; }
front=$(bound frontend) back=$(bound backend) events=$(bound events)
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token \
  "$build/channels/sms/pregon-sms" --broker "$back" --base-url "$sb" --from +15005550006 \
  --key-file "$dir/own/sms.key" --broker-key-file "$dir/own/pregond.pub" --worker-id sms-1 \
  --heartbeat-ms 200 --policy-dir "$here/policies" 2>"$dir/sms.log" &
pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/pregond.log" "$dir/sms.log"; exit 1; }

# tokens: acme's, beta's, ops' (both), and one for the rate test
hash() { printf '%s\n' "$1" | "$build/api/pregon-api" --hash-token; }
{
  echo "# pregon-api tokens: SHA-256 HASH TENANTS NAME"
  echo "$(hash tok-acme) acme acme-crm"
  echo "$(hash tok-beta) beta beta-crm"
  echo "$(hash tok-ops) acme,beta ops"
  echo "$(hash tok-rate) acme rate"
} >"$dir/tokens"
"$build/api/pregon-api" --listen 127.0.0.1:0 --tokens "$dir/tokens" --config "$dir/pregon.yaml" \
  --frontend "$front" --events "$events" --key-file "$dir/own/gateway.key" \
  --broker-key-file "$dir/own/pregond.pub" --max-body 2000000 --max-jobs 2000 --rate 100 \
  --timeout-ms 20000 2>"$dir/api.log" &
pids+=($!)
wait_for 10 grep -q "pregon-api: serving" "$dir/api.log" || { echo "pregon-api did not start"; cat "$dir/api.log"; exit 1; }
port=$(grep -m1 "pregon-api: serving" "$dir/api.log" | sed 's/.*(port \([0-9]*\)).*/\1/')
base="http://127.0.0.1:$port"
export PG_API="$base" PG_DIR="$dir" PG_CTL="$ctl" PG_FRONT="$front" PG_EVENTS="$events"
export PG_CTL_KEY="$dir/own/ctl.key" PG_BROKER_PUB="$dir/own/pregond.pub" PG_SRC="$src"
export PG_SANDBOX="$sb"

case "$mode" in
  api) /usr/bin/python3 "$here/api_test.py"; rc=$? ;;
  openapi) /usr/bin/python3 "$here/openapi_check.py" "$src/api/openapi.yaml"; rc=$? ;;
  python)
    # `pip install clients/python` (a copy: the build writes into the package folder) into a
    # venv over the system's zmq and protobuf; offline, hence --no-build-isolation
    cp -r "$src/clients/python" "$dir/client"
    /usr/bin/python3 -m venv --system-site-packages "$dir/venv" &&
      PREGON_PROTO="$src/proto/pregon.proto" "$dir/venv/bin/pip" install -q --no-build-isolation \
        --no-deps --no-index "$dir/client" >"$dir/pip.log" 2>&1 ||
      { echo "pip install clients/python failed"; cat "$dir/pip.log"; exit 1; }
    (cd "$dir" && "$dir/venv/bin/python" -m unittest discover -s "$src/clients/python/tests" -v); rc=$?
    # and the build tree's generated module, as the ctest build provides it
    [ $rc = 0 ] && { PYTHONPATH="$src/clients/python:$build/clients/python" /usr/bin/python3 -c \
      "import pregon; print('build tree module:', pregon.client.pb.__file__)" || rc=1; } ;;
esac
if [ $rc != 0 ]; then
  for f in pregond api sms; do echo "--- $f.log"; tail -30 "$dir/$f.log"; done
fi
exit $rc
