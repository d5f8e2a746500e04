#!/usr/bin/env bash
# run.sh BUILD_DIR — CURVE on pregond's sockets, every part real: keys made by `pregonctl keys
# new`, redis-server, pregond with security.curve 1 on loopback TCP, pregonctl submit and
# handshake.py (pyzmq's socket monitor) as clients.
#  1. a client key submits; an unknown key and a worker key cannot even connect to the
#     frontend (nothing reaches Redis) and pregond counts the denials; a worker key is let into
#     the backend, a hooks key into the hooks socket, a client key into events; plaintext is
#     refused; pregon-sms and pregon-hooks connect with their keys;
#  2. a key removed from the folder + SIGHUP: new connections refused; put back + SIGHUP:
#     accepted again; a bad file in the folder + SIGHUP keeps the old set; a hooks peer that
#     stays connected while its key is removed is answered before, refused after (counted);
#  3. start-up refusals, exit 78 with the reason: the secret key file at 0644 (names the mode),
#     a missing key setting, curve 0 with a non-loopback endpoint; curve 0 on loopback starts
#     with the plaintext warning.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/curve"
. "$src/tests/integration/it_lib.sh"
it_begin curve
py=/usr/bin/python3 # pyzmq with CURVE

pg_redis_start "$dir" || exit 1
mkdir -p "$dir/own" "$dir/keys"
newkey() { "$ctl" keys new "$@" --dir "$dir/own" >/dev/null || ko "keys new $*"; }
newkey pregond --role broker
newkey acme --role client --tenants acme
newkey sms1 --role worker --channels sms
newkey hooks1 --role hooks
newkey stranger --role client --tenants acme # never installed
cp "$dir/own/acme.pub" "$dir/own/sms1.pub" "$dir/own/hooks1.pub" "$dir/keys/"
[ "$(stat -c %a "$dir/own/acme.key")" = 600 ] && ok || ko "acme.key is $(stat -c %a "$dir/own/acme.key"), not 600"
"$ctl" keys new acme --role client --tenants '*' --dir "$dir/own" 2>"$dir/again.err" && ko "keys new overwrote acme"
grep -q "refusing to overwrite" "$dir/again.err" && ok || ko "keys new again: $(cat "$dir/again.err")"

config() { # config FILE SECURITY SOCKETS
  cat >"$1" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: $3
security: $2
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
}
tcp='{frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", events: "tcp://127.0.0.1:*", hooks: "tcp://127.0.0.1:*"}'
config "$dir/pregon.yaml" '{curve: 1, secret_key_file: own/pregond.key, keys: keys}' "$tcp"
: >"$dir/pregond.log" # before the background process opens it: wait_for greps it at once
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
grep -q "CURVE on: 3 keys admitted" "$dir/pregond.log" && ok || ko "start line: $(grep CURVE "$dir/pregond.log")"
bound() { grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "$1 tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2; }
front=$(bound frontend) back=$(bound backend) events=$(bound events) hooks=$(bound hooks)

job() { # job ID: one SMS job of tenant acme
  printf '{"job_id": "%s", "tenant": "acme", "debtor_id": "d-%s", "debt_id": "L1", "channel": "sms", "contact": "+15550001000", "template_id": "aviso_mora_sms", "jurisdiction": "E2E", "time_zone": "UTC", "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800", "enlace": "x.co"}}\n' "$1" "$1" >"$dir/$1.jsonl"
}
submit() { # submit ID KEY: the job, as the client holding own/KEY.key
  job "$1"
  "$ctl" submit --endpoint "$front" --json --timeout "${3:-10}" --key-file "$dir/own/$2.key" \
    --broker-key-file "$dir/own/pregond.pub" "$dir/$1.jsonl" >"$dir/$1.out" 2>"$dir/$1.err"
}
admitted() { grep -qE '"verdict":"(ACCEPTED|DEFERRED)"' "$dir/$1.out"; }
stored() { [ "$(rcli exists "$(rkey job acme "d-$1" "$1")")" = 1 ]; }
hs() { "$py" "$here/handshake.py" "$@" 2>>"$dir/hs.err"; }

# 1. who may connect where
submit j-ok acme && admitted j-ok && ok || ko "a client key could not submit: $(cat "$dir/j-ok.out" "$dir/j-ok.err")"
stored j-ok && ok || ko "the admitted job is not in Redis"
submit j-stranger stranger 2 && ko "an unknown key submitted: $(cat "$dir/j-stranger.out")"
admitted j-stranger && ko "an unknown key's job was admitted"
stored j-stranger && ko "an unknown key's job reached Redis" || ok
submit j-worker sms1 2 && ko "a worker key submitted: $(cat "$dir/j-worker.out")"
stored j-worker && ko "a worker key's job reached Redis" || ok
grep -q "denied a CURVE handshake from 127.0.0.1: unknown key .* on the frontend socket" "$dir/pregond.log" \
  && ok || ko "the unknown key's denial is not logged"
grep -q "denied a CURVE handshake from 127.0.0.1: key sms1 (worker) may not use the frontend socket" \
  "$dir/pregond.log" && ok || ko "the worker key's denial is not logged"
check_hs() { # check_hs WANT ENDPOINT TYPE [KEY]
  local got
  if [ -n "${4:-}" ]; then got=$(hs "$2" "$3" "$dir/own/$4.key" "$dir/own/pregond.pub"); else got=$(hs "$2" "$3"); fi
  [ "$got" = "$1" ] && ok || ko "handshake $3 ${4:-plaintext} on $2: $got, wanted $1"
}
check_hs ok "$back" dealer sms1
check_hs denied "$back" dealer acme
check_hs ok "$hooks" dealer hooks1
check_hs denied "$hooks" dealer sms1
check_hs ok "$events" sub acme
check_hs denied "$events" sub hooks1
check_hs denied "$front" dealer     # plaintext against a CURVE server
check_hs denied "$front" dealer stranger
# the real clients: pregon-sms joins with its key, pregon-hooks sees pregond (healthz 200)
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=token \
  "$build/channels/sms/pregon-sms" --broker "$back" --base-url http://127.0.0.1:9 --from +15005550006 \
  --heartbeat-ms 200 --key-file "$dir/own/sms1.key" --broker-key-file "$dir/own/pregond.pub" 2>"$dir/sms.log" &
pids+=($!); sms_pid=$!
wait_for 10 grep -q "worker .* joined on sms" "$dir/pregond.log" && ok || ko "pregon-sms with its key did not join: $(cat "$dir/sms.log")"
grep -q "CURVE key sms1" "$dir/sms.log" && ok || ko "pregon-sms start line: $(head -3 "$dir/sms.log")"
kill -TERM "$sms_pid"; wait "$sms_pid"
TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=token \
  "$build/channels/hooks/pregon-hooks" --listen 127.0.0.1:0 --broker "$hooks" --heartbeat-ms 200 \
  --key-file "$dir/own/hooks1.key" --broker-key-file "$dir/own/pregond.pub" 2>"$dir/hooks.log" &
pids+=($!); hooks_pid=$!
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || ko "pregon-hooks did not start: $(cat "$dir/hooks.log")"
hooks_http=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks_http/healthz' >/dev/null" && ok || ko "pregon-hooks with its key never saw pregond"
kill -TERM "$hooks_pid"; wait "$hooks_pid"

# 2. the keys folder, reloaded on SIGHUP
reloads() { grep -c "reload: [0-9]* keys" "$dir/pregond.log"; }
hup() { local before; before=$(reloads); kill -HUP "$pregond_pid"; wait_for 10 sh -c "[ \$(grep -c 'reload: [0-9]* keys' '$dir/pregond.log') -gt $before ]" || ko "no reload line"; }
rm "$dir/keys/acme.pub"
hup
grep -q "reload: key acme removed" "$dir/pregond.log" && ok || ko "removal not logged"
check_hs denied "$front" dealer acme
submit j-removed acme 2 && ko "a removed key submitted"
stored j-removed && ko "a removed key's job reached Redis" || ok
cp "$dir/own/acme.pub" "$dir/keys/"
hup
grep -q "reload: key acme added" "$dir/pregond.log" && ok || ko "addition not logged"
submit j-back acme && admitted j-back && ok || ko "a key put back could not submit: $(cat "$dir/j-back.err")"
printf 'role: client\npublic: "not a key"\ntenants: "*"\n' >"$dir/keys/broken.pub"
kill -HUP "$pregond_pid"
wait_for 10 grep -q "reload: keys kept as they were: .*broken.pub" "$dir/pregond.log" && ok || ko "a bad folder was not refused"
rm "$dir/keys/broken.pub"
check_hs ok "$front" dealer acme # the old set kept
# a peer stays connected while its key is revoked: its messages are refused from the reload on
protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || ko "protoc failed"
PYTHONPATH="$dir" "$py" "$here/revoked.py" "$hooks" "$dir/own/hooks1.key" "$dir/own/pregond.pub" \
  "$dir/revoked.go" >"$dir/revoked.out" 2>&1 &
revoked_pid=$!
wait_for 10 grep -q answered "$dir/revoked.out" || ko "the hooks key was not answered: $(cat "$dir/revoked.out")"
rm "$dir/keys/hooks1.pub"
hup
touch "$dir/revoked.go"
wait "$revoked_pid"
[ "$(tail -1 "$dir/revoked.out")" = refused ] && ok || ko "revoked while connected: $(cat "$dir/revoked.out")"

kill -TERM "$pregond_pid"; wait "$pregond_pid"
denied=$(grep -o "[0-9]* CURVE handshakes denied" "$dir/pregond.log" | cut -d' ' -f1)
# stranger, sms1 on the frontend, acme on the backend, sms1 on hooks, hooks1 on events, stranger,
# acme removed (twice); plaintext is no CURVE handshake at all: refused by libzmq, not counted
[ "${denied:-0}" -ge 8 ] && ok || ko "denials counted: ${denied:-none} (8 handshakes were refused)"
grep -q " 1 messages from revoked keys" "$dir/pregond.log" && ok || ko "the revoked key's message not counted"

# 3. start-up refusals and the plaintext warning
start_fails() { # start_fails NAME PATTERN: pregond with $dir/NAME.yaml exits 78 saying PATTERN
  timeout 10 "$build/broker/pregond" --config "$dir/$1.yaml" 2>"$dir/$1.log"
  local rc=$?
  [ $rc = 78 ] && ok || ko "$1: exit $rc, wanted 78: $(cat "$dir/$1.log")"
  grep -q "$2" "$dir/$1.log" && ok || ko "$1: no \"$2\" in: $(cat "$dir/$1.log")"
}
cp -p "$dir/own/pregond.key" "$dir/own/loose.key"
chmod 644 "$dir/own/loose.key"
config "$dir/loose.yaml" '{curve: 1, secret_key_file: own/loose.key, keys: keys}' "$tcp"
start_fails loose "own/loose.key: mode 0644"
config "$dir/nokeys.yaml" '{curve: 1, secret_key_file: own/pregond.key}' "$tcp"
start_fails nokeys "security.keys is not set"
config "$dir/nofolder.yaml" '{curve: 1, secret_key_file: own/pregond.key, keys: nowhere}' "$tcp"
start_fails nofolder "security.keys .*nowhere: No such file"
config "$dir/open.yaml" '{curve: 0}' '{frontend: "tcp://0.0.0.0:*", backend: "ipc://'"$dir"'/b", events: "", hooks: ""}'
start_fails open "sockets.frontend tcp://0.0.0.0:\* is not a loopback endpoint"
config "$dir/plain.yaml" '{curve: 0}' '{frontend: "tcp://127.0.0.1:*", backend: "ipc://'"$dir"'/b", events: "ipc://'"$dir"'/e", hooks: "tcp://127.0.0.2:*"}'
: >"$dir/plain.log"
"$build/broker/pregond" --config "$dir/plain.yaml" 2>>"$dir/plain.log" &
pids+=($!); plain_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/plain.log" && ok || ko "plaintext on loopback did not start: $(cat "$dir/plain.log")"
grep -q "WARNING: security.curve is 0: every socket is PLAINTEXT" "$dir/plain.log" && ok || ko "no plaintext warning"
kill -TERM "$plain_pid"; wait "$plain_pid"

echo "integration.curve: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "--- pregond.log"; tail -20 "$dir/pregond.log"; }
[ "$fail" -eq 0 ]
