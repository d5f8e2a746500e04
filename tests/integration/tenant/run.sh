#!/usr/bin/env bash
# run.sh BUILD_DIR — tenant binding of the frontend and the events feed. Real redis-server and
# pregond; clients over real ZeroMQ (tenant_client.py: the real protobuf contract).
#   - the feed's topics are "TENANT\x1fTYPE": a subscriber to a tenant's prefix gets that
#     tenant's events only, an old-style subscription to a type ("verdict") gets nothing;
#   - a peer that sends messages that are no subscriptions (an XSUB) makes pregond drop what it
#     cannot attribute and bind the feed again: subscribers reconnect and are served again.
# Free ports and private sockets: runs never collide.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/tenant"
. "$src/tests/integration/it_lib.sh"
it_begin tenant

pg_redis_start "$dir" || exit 1
protoc --python_out="$dir" -I "$src/proto" "$src/proto/pregon.proto" || { echo "protoc failed"; exit 1; }
client() { /usr/bin/python3 "$here/tenant_client.py" "$dir" "$@"; }
# bg ARGS...: the client in the background, its own pid in $pids (not a subshell's)
bg() { /usr/bin/python3 "$here/tenant_client.py" "$dir" "$@" & pids+=($!); bg_pid=$!; }
front="ipc://$dir/front"

# start_pregond: starts it on $dir/pregon.yaml; sets $events to the feed's bound endpoint
start_pregond() {
  : >"$dir/pregond.log"
  "$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
  pids+=($!); pregond_pid=$!
  wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
  events=$(grep -m1 "pregond: serving" "$dir/pregond.log" | grep -o "events tcp://[0-9.]*:[0-9]*" | cut -d' ' -f2)
  [ -n "$events" ] || { echo "no events endpoint in: $(grep serving "$dir/pregond.log")"; exit 1; }
}
# stop_pregond: TERM, and its stop line in $stop_line
stop_pregond() {
  kill -TERM "$pregond_pid"; wait "$pregond_pid" 2>/dev/null
  stop_line=$(grep "pregond: stopping" "$dir/pregond.log")
}
# seen OUT JOB: subscriber OUT (its file $dir/OUT.out) received an event of job JOB
seen() { grep -q "\"job_id\": \"$2\"" "$dir/$1.out" 2>/dev/null; }
# warm TENANT OUT...: submits a new job of TENANT; true once every OUT received its event (a
# subscription is applied when pregond has read it: poll with this until it is)
w=0
warm() {
  local tenant=$1 o; shift
  w=$((w + 1))
  client submit "$front" "$tenant" "w$w" "wd$w" >/dev/null
  for o in "$@"; do seen "$o" "w$w" || return 1; done
}
# only OUT TENANT: every event OUT received is of TENANT, by topic and by content
only() {
  /usr/bin/python3 - "$dir/$1.out" "$2" <<'PY'
import json, sys
bad = [l for l in open(sys.argv[1]) if (lambda e: e["tenant"] != sys.argv[2] or
       not e["topic"].startswith(sys.argv[2] + "\\x1f"))(json.loads(l))]
sys.exit(1 if bad else 0)
PY
}

cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "$front", backend: "ipc://$dir/back", events: "tcp://127.0.0.1:*", hooks: ""}
policies: $here/policies
templates: $src/deploy/templates.yaml
channels: sms
security: {curve: 0}
YAML

# --- 1. plaintext: topics, prefixes, and a feed bound again after messages that are no
#        subscriptions (every peer is the anonymous key here, which may read every tenant)
start_pregond
bg sub "$events" "$dir/all.out" ""
bg sub "$events" "$dir/acme.out" 'acme\x1f'
bg sub "$events" "$dir/acmev.out" 'acme\x1fverdict'
bg sub "$events" "$dir/old.out" 'verdict'
wait_for 15 warm acme all acme acmev || ko "the subscribers never received an event of acme"
client submit "$front" beta b1 bd1 >"$dir/b1.out"
client submit "$front" acme a1 ad1 >"$dir/a1.out"
grep -q '"code": "ACCEPTED"' "$dir/b1.out" && grep -q '"code": "ACCEPTED"' "$dir/a1.out" && ok \
  || ko "plaintext submissions: $(cat "$dir/b1.out" "$dir/a1.out")"
wait_for 10 sh -c "grep -q '\"b1\"' '$dir/all.out' && grep -q '\"a1\"' '$dir/all.out' && grep -q '\"a1\"' '$dir/acme.out' && grep -q '\"a1\"' '$dir/acmev.out'" \
  && ok || ko "events of b1 and a1 not received: $(cat "$dir/all.out")"
grep -qF '{"topic": "acme\\x1fverdict", "type": "verdict", "tenant": "acme", "job_id": "a1"}' "$dir/all.out" \
  && grep -qF '{"topic": "beta\\x1fverdict", "type": "verdict", "tenant": "beta", "job_id": "b1"}' "$dir/all.out" \
  && ok || ko "topic format: $(grep -e '"a1"' -e '"b1"' "$dir/all.out")"
seen acme b1 && ko "the acme\\x1f subscriber received beta's event" || ok
only acme acme && only acmev acme && ok || ko "an acme subscriber received another tenant's event: $(cat "$dir/acme.out" "$dir/acmev.out")"
[ ! -s "$dir/old.out" ] && ok || ko "an old-style subscription to \"verdict\" received: $(cat "$dir/old.out")"
# an XSUB sends a message that is no subscription, then subscriptions: those read before the
# queue is empty cannot be attributed, are dropped, and the feed is bound again
sub_hex=$(for i in $(seq 1 100); do printf '01%s ' "$(printf 'x%03d' "$i" | od -An -tx1 | tr -d ' \n')"; done)
bg xsub "$events" 026a756e6b $sub_hex; xsub_pid=$bg_pid
wait_for 10 grep -q "events: a subscriber sent a message that is no subscription" "$dir/pregond.log" \
  && ok || ko "no line about the XSUB's message"
wait_for 10 grep -q "events: bound again on $events (subscriptions dropped)" "$dir/pregond.log" \
  && ok || ko "the feed was not bound again: $(grep events: "$dir/pregond.log")"
kill -TERM "$xsub_pid"
# the subscribers reconnected and subscribed again by themselves
: >"$dir/acme.out"
wait_for 15 warm acme all acme acmev && ok || ko "subscribers not served after the feed was bound again"
only acme acme && ok || ko "after the rebind the acme subscriber received: $(cat "$dir/acme.out")"
stop_pregond
echo "$stop_line" | grep -q "tenant binding: 0 jobs tenant-forbidden, event subscriptions 0 refused, 0 narrowed, [1-9][0-9]* dropped" \
  && ok || ko "stop line: $stop_line"

echo "tenant: $pass passed, $fail failed"
[ "$fail" = 0 ]
