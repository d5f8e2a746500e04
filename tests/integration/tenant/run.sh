#!/usr/bin/env bash
# run.sh BUILD_DIR — tenant binding of the frontend and the events feed. Real redis-server and
# pregond; clients over real ZeroMQ (tenant_client.py: the real protobuf contract).
#   - the feed's topics are "TENANT\x1fTYPE": a subscriber to a tenant's prefix gets that
#     tenant's events only, an old-style subscription to a type ("verdict") gets nothing;
#   - a peer that sends messages that are no subscriptions (an XSUB) makes pregond drop what it
#     cannot attribute and bind the feed again: subscribers reconnect and are served again.
#   - over CURVE, client-a (bound to acme), client-b (beta), ops ('*'): client-a's jobs for beta
#     are REJECTED auth.tenant/tenant-forbidden, in a batch of its own too, leaving nothing under
#     beta (no job record, no history, no audit record, no event), so beta's own job of the same
#     id is ACCEPTED, not DUPLICATE, and beta's debtor's one contact a day is still there;
#     subscribers to everything receive their key's tenants only, ops both, client-a's
#     subscription to beta is refused; after SIGHUP with client-a bound to beta instead, the
#     feed is bound again and client-a's subscriber receives beta's events, not acme's.
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
  client submit "$front" "$tenant:w$w:wd$w" >/dev/null
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
client submit "$front" beta:b1:bd1 >"$dir/b1.out"
client submit "$front" acme:a1:ad1 >"$dir/a1.out"
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
echo "$stop_line" | pipe_has "tenant binding: 0 jobs tenant-forbidden, event subscriptions 0 refused, 0 narrowed, [1-9][0-9]* dropped" \
  && ok || ko "stop line: $stop_line"

# --- 2. CURVE: client-a bound to acme, client-b to beta, ops to every tenant
mkdir -p "$dir/own" "$dir/keys"
"$ctl" keys new pregond --role broker --dir "$dir/own" >/dev/null
"$ctl" keys new client-a --role client --tenants acme --dir "$dir/own" >/dev/null
"$ctl" keys new client-b --role client --tenants beta --dir "$dir/own" >/dev/null
"$ctl" keys new ops --role client --tenants '*' --dir "$dir/own" >/dev/null
cp "$dir/own/client-a.pub" "$dir/own/client-b.pub" "$dir/own/ops.pub" "$dir/keys/"
sed -i "s|^security: .*|security: {curve: 1, secret_key_file: \"$dir/own/pregond.key\", keys: \"$dir/keys\"}|" "$dir/pregon.yaml"
# as KEY CMD...: CMD as the client of key KEY (tenant_client.py reads these)
as() { local key=$1; shift; PG_SERVER_KEY="$dir/own/pregond.pub" PG_CLIENT_KEY="$dir/own/$key.key" "$@"; }
rm -f "$dir"/*.out
start_pregond
# every subscriber asks for everything but a-beta, which asks for beta only
as client-a bg sub "$events" "$dir/a.out" ""
as client-a bg sub "$events" "$dir/a-beta.out" 'beta\x1f'
as client-b bg sub "$events" "$dir/b.out" ""
as ops bg sub "$events" "$dir/ops.out" ""
wait_for 15 as client-a warm acme a ops || ko "client-a's and ops' subscribers never received acme's events"
wait_for 15 as client-b warm beta b ops || ko "client-b's subscriber never received beta's events"
wait_for 10 grep -q 'events: client-a subscribed to "beta\\x1f", no tenant it may read: refused' "$dir/pregond.log" \
  && ok || ko "client-a's subscription to beta not refused: $(grep events: "$dir/pregond.log")"
# client-a submits beta's job x1 first, and x2 for beta's debtor cd2, and in one batch its own
# a5 with beta's x4: beta's are REJECTED tenant-forbidden, its own is admitted
as client-a client submit "$front" beta:x1:cd1 >"$dir/x1-a.out"
as client-a client submit "$front" beta:x2:cd2 >"$dir/x2-a.out"
as client-a client submit "$front" acme:a5:ad5 beta:x4:cd4 >"$dir/mixed-a.out"
forbidden='"code": "REJECTED", "rule": "auth.tenant", "reason": "tenant-forbidden"'
grep -qF "{\"job_id\": \"x1\", $forbidden}" "$dir/x1-a.out" && grep -qF "{\"job_id\": \"x2\", $forbidden}" "$dir/x2-a.out" \
  && ok || ko "client-a's jobs for beta: $(cat "$dir/x1-a.out" "$dir/x2-a.out")"
grep -qF '{"job_id": "a5", "code": "ACCEPTED"' "$dir/mixed-a.out" && grep -qF "{\"job_id\": \"x4\", $forbidden}" "$dir/mixed-a.out" \
  && ok || ko "client-a's mixed batch: $(cat "$dir/mixed-a.out")"
# nothing of them under beta: no job record, no contact on cd2's history, no audit record
for j in cd1:x1 cd2:x2 cd4:x4; do
  [ "$(rcli exists "$(rkey job beta "${j%%:*}" "${j#*:}")")" = 0 ] && ok || ko "a job record for beta's ${j#*:}"
done
[ "$(rcli exists "$(rkey history beta cd2)")" = 0 ] && ok || ko "beta's debtor cd2 has a history: $(rcli hgetall "$(rkey history beta cd2)")"
"$ctl" redis audit --redis-socket "$dir/redis.sock" >"$dir/audit.out" 2>&1
grep -qE '"(x1|x2|x4)"' "$dir/audit.out" && ko "audit records of client-a's beta jobs: $(grep -E '"(x1|x2|x4)"' "$dir/audit.out")" || ok
# beta's own x1 is new to beta (not DUPLICATE), and cd2's one contact a day is still there
as client-b client submit "$front" beta:x1:cd1 >"$dir/x1-b.out"
as client-b client submit "$front" beta:x3:cd2 >"$dir/x3-b.out"
grep -qF '{"job_id": "x1", "code": "ACCEPTED"' "$dir/x1-b.out" && ok || ko "beta's own x1: $(cat "$dir/x1-b.out")"
grep -qF '{"job_id": "x3", "code": "ACCEPTED"' "$dir/x3-b.out" && ok || ko "beta's cd2 after client-a's x2: $(cat "$dir/x3-b.out")"
# the feed: each key its tenants' events, ops both, nobody an event of a refused job
wait_for 10 sh -c "grep -q '\"x3\"' '$dir/ops.out' && grep -q '\"x3\"' '$dir/b.out' && grep -q '\"a5\"' '$dir/a.out'" \
  && ok || ko "events of x3 and a5 not received: ops $(wc -l <"$dir/ops.out"), b $(wc -l <"$dir/b.out"), a $(wc -l <"$dir/a.out")"
only a acme && ok || ko "client-a's subscriber to everything received: $(grep -v '"tenant": "acme"' "$dir/a.out")"
only b beta && ok || ko "client-b's subscriber to everything received: $(grep -v '"tenant": "beta"' "$dir/b.out")"
[ ! -s "$dir/a-beta.out" ] && ok || ko "client-a's subscription to beta received: $(cat "$dir/a-beta.out")"
grep -q '"tenant": "acme"' "$dir/ops.out" && grep -q '"tenant": "beta"' "$dir/ops.out" && ok \
  || ko "ops received: $(cut -c1-60 "$dir/ops.out" | sort | uniq -c)"
[ "$(grep -cE '"job_id": "x1"' "$dir/ops.out")" = 1 ] && ! grep -qE '"job_id": "x[24]"' "$dir/ops.out" && ok \
  || ko "events of refused jobs: $(grep -E '"job_id": "x[124]"' "$dir/ops.out")"
# SIGHUP with client-a bound to beta now: the feed is bound again and its subscriptions decided
# for the key as it is; its submissions for acme are refused now
sed -i 's/^tenants: .*/tenants: ["beta"]/' "$dir/keys/client-a.pub"
kill -HUP "$pregond_pid"
wait_for 10 grep -q "events: bound again on $events (keys reloaded)" "$dir/pregond.log" && ok \
  || ko "the feed was not bound again at the reload: $(grep -e events: -e reload "$dir/pregond.log")"
: >"$dir/a.out"
wait_for 15 as client-b warm beta a && ok || ko "client-a's subscriber never received beta's events after the reload"
as ops client submit "$front" acme:a9:ad9 >/dev/null
wait_for 10 grep -q '"a9"' "$dir/ops.out" && ok || ko "ops did not receive a9"
as ops warm beta ops a >/dev/null # an event after a9's: a9 had its chance to reach client-a
only a beta && ok || ko "client-a's subscriber after the reload received: $(grep -v '"tenant": "beta"' "$dir/a.out")"
as client-a client submit "$front" acme:a10:ad10 >"$dir/a10.out"
grep -qF "{\"job_id\": \"a10\", $forbidden}" "$dir/a10.out" && ok || ko "client-a's acme job after the reload: $(cat "$dir/a10.out")"
stop_pregond
echo "$stop_line" | pipe_has -E "tenant binding: 4 jobs tenant-forbidden, event subscriptions [1-9][0-9]* refused, [1-9][0-9]* narrowed" \
  && ok || ko "stop line: $stop_line"

echo "tenant: $pass passed, $fail failed"
[ "$fail" = 0 ]
