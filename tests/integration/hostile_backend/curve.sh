#!/usr/bin/env bash
# curve.sh BUILD_DIR — the backend probes with CURVE on: keys from `pregonctl keys new`, each
# worker key bound to its channels and worker-table slots; real redis-server, pregond (loopback
# TCP), pregon-sms (key sms1: sms, 2 slots) and pregon-sandbox; hostile_worker.py with keys of
# its own. Checked:
#   1. a worker key bound to voice announcing sms is refused, told (Halt) and given nothing;
#   2. the leases a key's worker holds, reported by a worker of another key under the very same
#      worker id (its routing id taken over): ignored, counted as not the holder's, the jobs
#      never re-dispatched; the real worker sends every other job once;
#   3. a key of 3 slots cannot hold a 4th entry (refused and counted), and the real worker's
#      key still has its room: 20 of 20 sent.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/hostile_backend"
. "$src/tests/integration/it_lib.sh"
it_begin hostile-curve
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token

pg_redis_start "$dir" || exit 1
protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || { echo "protoc failed"; exit 1; }
mkdir -p "$dir/own" "$dir/keys"
newkey() { "$ctl" keys new "$@" --dir "$dir/own" >/dev/null || { echo "keys new $* failed"; exit 1; }; }
newkey pregond --role broker
newkey acme --role client --tenants acme
newkey sms1 --role worker --channels sms --worker-slots 2
newkey voice1 --role worker --channels voice --worker-slots 2
newkey evil --role worker --channels sms --worker-slots 3
newkey evil2 --role worker --channels sms --worker-slots 2
for k in acme sms1 voice1 evil evil2; do cp "$dir/own/$k.pub" "$dir/keys/"; done
export PREGON_KEY_FILE="$dir/own/acme.key" PREGON_BROKER_KEY_FILE="$dir/own/pregond.pub"
export HOSTILE_BROKER_PUB="$dir/own/pregond.pub"

"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --latency-ms 400 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", events: "", hooks: ""}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
channels: sms,voice
dispatch: {lease_ms: 20000, heartbeat_ms: 200, max_credit: 40}
YAML
: >"$dir/pregond.log"
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
bound() { grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "$1 tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2; }
front=$(bound frontend) back=$(bound backend)
hostile() { /usr/bin/python3 "$here/hostile_worker.py" "$1" "$back" "$dir" "${@:2}"; }
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" \
  --broker "$back" --key-file "$dir/own/sms1.key" --broker-key-file "$dir/own/pregond.pub" \
  --base-url "$sb" --from +15005550006 --heartbeat-ms 200 --concurrency 64 \
  --policy-dir "$src/tests/integration/e2e/policies" 2>>"$dir/sms.log" &
pids+=($!)
wait_for 10 grep -q "worker sms-.* joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/sms.log" "$dir/pregond.log"; exit 1; }

jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, prefix, n, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"job_id": f"{prefix}-{i}", "tenant": "acme", "campaign": "hostile",
            "debtor_id": f"{prefix}-d{i}", "channel": "sms", "contact": f"+52178{base + i:06d}",
            "template_id": "aviso_mora_sms", "jurisdiction": "RC", "time_zone": "UTC",
            "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta",
            "monto": "$100", "telefono": "800", "enlace": "x.co"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "$front" --json "$1" 2>>"$dir/submit.log" | grep -c '"verdict":"ACCEPTED"'; }
requests() { curl -s "$sb/_sandbox/requests?limit=100000" >"$dir/requests.json"; }
sent() { requests; /usr/bin/python3 -c "import json,sys; print(sum(1 for r in json.load(open(sys.argv[1])) if r.get('to','').startswith(sys.argv[2])))" "$dir/requests.json" "$1"; }
twice() { requests; /usr/bin/python3 -c "
import collections, json, sys
c = collections.Counter(r.get('to') for r in json.load(open(sys.argv[1])) if r.get('to','').startswith(sys.argv[2]))
print(sum(1 for v in c.values() if v > 1))" "$dir/requests.json" "$1"; }
wait_sent() { wait_for "$3" sh -c "[ \"\$(curl -s '$sb/_sandbox/requests?limit=100000' | grep -o '\"to\":\"$1' | wc -l)\" -ge $2 ]"; }

# 1. a voice key offering sms
HOSTILE_KEY_FILE="$dir/own/voice1.key" hostile greedy 5 2 >"$dir/voice.out" 2>&1
grep -q '"dispatched": 0, "halts": [1-9]' "$dir/voice.out" && ok || ko "a voice key on sms: $(cat "$dir/voice.out")"
grep -q "refused: key voice1 may not serve channel sms" "$dir/pregond.log" && ok \
  || ko "no refusal line for voice1: $(grep voice1 "$dir/pregond.log")"

# 2. evil's worker evil-holder holds 5 leases; evil2 reports them under the same worker id
HOSTILE_KEY_FILE="$dir/own/evil.key" HOSTILE_OTHER_KEY_FILE="$dir/own/evil2.key" \
  HOSTILE_OTHER_ID=evil-holder hostile hold 5 20 "$dir/held.txt" >"$dir/hold.out" 2>&1 &
hold_pid=$!
wait_for 10 grep -q "worker evil-holder joined" "$dir/pregond.log" || ko "evil-holder never joined"
jobs "$dir/h.jsonl" h 80 100000
[ "$(submit "$dir/h.jsonl")" = 80 ] && ok || ko "campaign h not accepted: $(tail -3 "$dir/submit.log")"
wait "$hold_pid"
echo "probe 2 (CURVE): $(cat "$dir/hold.out")"
n_held=$(grep -c . "$dir/held.txt")
[ "$n_held" = 5 ] && ok || ko "evil-holder got $n_held leases, want 5"
held=$(awk '{print $2}' "$dir/held.txt")
wait_sent "+5217810" $((80 - n_held)) 30 || ko "campaign h: $(sent +5217810) of $((80 - n_held)) sent"
settled() {
  local bad=0 i st
  for i in $(seq 0 79); do
    st=$(rcli hmget "$(rkey job acme "h-d$i" "h-$i")" s att | tr '\n' ' ')
    if grep -qx "h-$i" <<<"$held"; then
      case $st in "dispatched 1 " | "unknown 1 ") ;; *) bad=$((bad + 1)); echo "held job h-$i: $st" ;; esac
    else
      [ "$st" = "sent 1 " ] || { bad=$((bad + 1)); echo "job h-$i: $st"; }
    fi
  done >"$dir/settled.out"
  [ "$bad" = 0 ]
}
wait_for 30 settled && ok || ko "another key's reports changed jobs: $(head -5 "$dir/settled.out")"
[ "$(twice +5217810)" = 0 ] && ok || ko "$(twice +5217810) jobs sent twice"
grep -q "halted" "$dir/pregond.log" && ko "a CONFIG_ERROR of another key halted: $(grep halted "$dir/pregond.log")" || ok

# 3. evil has 3 slots: a 4th worker of its is refused; sms1's room is its own
HOSTILE_KEY_FILE="$dir/own/evil.key" hostile flood 6 4 >"$dir/flood.out" 2>&1 &
flood_pid=$!
wait_for 10 grep -q "worker flood-.* (key evil) refused: its key has its 3 worker-table entries in use" "$dir/pregond.log" \
  && ok || ko "a 4th entry of a 3-slot key: $(grep 'flood-' "$dir/pregond.log" | tail -3)"
jobs "$dir/f.jsonl" f 20 200000
[ "$(submit "$dir/f.jsonl")" = 20 ] && ok || ko "batch f not accepted"
wait_sent "+5217820" 20 20 && ok || ko "sms1 sent $(sent +5217820) of 20 next to a full key"
wait "$flood_pid"

kill -TERM "$pregond_pid"; wait "$pregond_pid"
stop=$(grep "stopping: reports ignored" "$dir/pregond.log")
echo "pregond: $stop"
foreign=$(sed -n 's/.* \([0-9]*\) not from the lease.s holder.*/\1/p' <<<"$stop")
refused=$(sed -n 's/.* \([0-9]*\) workers refused.*/\1/p' <<<"$stop")
[ "${foreign:-0}" = 25 ] && ok || ko "reports of another key: ${foreign:-none} counted, want 25"
[ "${refused:-0}" -ge 2 ] && ok || ko "refusals not counted: $stop"
grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$dir/pregond.log" "$dir/sms.log" \
  && ko "sanitizer: $(grep -hE -A5 'AddressSanitizer|runtime error' "$dir/pregond.log" "$dir/sms.log" | head -20)" || ok
echo "hostile backend (CURVE): $pass passed, $fail failed"
[ "$fail" = 0 ]
