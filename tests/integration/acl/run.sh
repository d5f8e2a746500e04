#!/usr/bin/env bash
# run.sh BUILD_DIR — pregon under the deploy ACL (deploy/users.acl rendered by deploy/redis-acl.sh
# for this run's password files), every part real:
#  1. the ACL grants pregond every command pregon.lua's functions and pregond's C code send
#     (ACL DRYRUN per command: a redis.call added without its ACL line fails here);
#  2. a campaign end to end as user pregond: pregonctl submit, pregon-sms, pregon-sandbox with
#     delivery callbacks and a STOP reply through pregon-hooks (admission, lease, report, webhook
#     map, inbound event, opt-out: every function pregond calls); Redis's ACL LOG stays empty;
#  3. what the users cannot do (redis-cli --user): pregond FLUSHALL, CONFIG SET, KEYS, keys
#     outside its prefix, EVAL; pregonctl writing a job; pregon-audit (disabled) logging in, and,
#     enabled, anything but reading the audit streams; nobody without credentials;
#  4. pregonctl as its user: suppress add/list/remove, explain, redis key/stats/audit, with
#     flags or --config; without credentials it says NOAUTH;
#  5. a permission taken away while pregond runs: BUSY, the refusal logged once however many
#     calls fail, admitting again once the ACL is loaded back;
#  6. a wrong password: pregond fails closed (BUSY), says WRONGPASS once, never the password;
#     a password file of mode 0644: refused at start (exit 78), naming the mode; a user without
#     a password: exit 78.
# PG_REDIS_CLUSTER=1: the same on a Redis Cluster node (cluster.acl).
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/it_lib.sh"
it_begin acl
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token FROM=+15005550006

# --- the deploy ACL, rendered for this run -----------------------------------------------------
mkdir -m 700 "$dir/pw"
"$src/deploy/redis-acl.sh" --passwords "$dir/pw" "$dir/users.acl" 2>"$dir/acl.log" \
  || { echo "redis-acl.sh: $(cat "$dir/acl.log")"; exit 1; }
export PG_REDIS_USER=admin PG_REDIS_PASSWORD_FILE="$dir/pw/redis-admin.password"
pg_redis_start "$dir" --aclfile "$dir/users.acl" || exit 1
rcli() { pg_rcli "$@"; } # the test's own look at Redis: as admin
# as USER ARGS...: redis-cli as one of the ACL's users (its password through the environment)
as() { local u=$1; shift; REDISCLI_AUTH=$(cat "$dir/pw/redis-$u.password") redis-cli -s "$PG_REDIS_SOCK" --user "$u" "$@" 2>&1; }
pctl=(--redis-socket "$PG_REDIS_SOCK" --redis-user pregonctl --redis-password-file "$dir/pw/redis-pregonctl.password")
rkey() { "$ctl" redis key "$@" "${pctl[@]}"; }
acl_denials() { rcli acl log | grep -c '^reason$'; }

# --- 1. every command pregond sends is granted -------------------------------------------------
# dryrun CMD: ACL DRYRUN pregond CMD on a key of the prefix, with as many dummy arguments as
# the command's arity takes
dryrun() {
  local a=() out n
  for n in 0 1 2 3 4 5 6; do
    out=$(rcli acl dryrun pregond "$1" 'pg:{s0}:x' "${a[@]}" 2>&1)
    grep -q "wrong number of arguments" <<<"$out" || break
    a+=(1)
  done
  echo "$out"
}
cmds=$( { grep -o "redis\.p\?call('[A-Za-z_]*'" "$src/store/pregon.lua" | cut -d"'" -f2
  grep -ho 'redis\(Append\)\?Command([^"]*"[A-Z_]*' "$src"/broker/*.c "$src"/store/*.c "$src"/ratelimit/*.c | sed 's/.*"//'
  grep -ho 'argv\[0\] = "[A-Z_]*"\|a\[k++\] = "[A-Z_]*"\|S_ARG("[A-Z_]*")' "$src"/broker/*.c "$src"/store/*.c "$src"/ratelimit/*.c | grep -o '"[A-Z_]*"' | tr -d '"'
} | tr a-z A-Z | sort -u)
# pregonctl's own (st_suppress's list and check are not pregond's, but they live in store/)
for c in $cmds; do
  case $c in HSCAN | SMEMBERS | FUNCTION) continue ;; esac
  out=$(dryrun "$c")
  [ "$out" = OK ] && ok || ko "deploy/users.acl does not give pregond $c (used in the code): $out"
done
[ "$(wc -w <<<"$cmds")" -ge 20 ] && ok || ko "found only $(wc -w <<<"$cmds") commands in the code: the grep broke"
out=$(rcli acl dryrun pregond function load x); [ "$out" = OK ] && ok || ko "pregond cannot FUNCTION LOAD: $out"

# --- 2. a campaign as user pregond ------------------------------------------------------------
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$PG_REDIS_SOCK", prefix: pg, user: pregond, password_file: pw/redis-pregond.password}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only (tests/integration/curve covers CURVE)
policies: $src/tests/integration/e2e/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!); pregond_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
grep -q "redis DOWN" "$dir/pregond.log" && ko "pregond could not use Redis as user pregond: $(cat "$dir/pregond.log")" || ok
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --callbacks --callback-delay-ms 50 --inbound-url "$hooks/twilio/sms/inbound" 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
curl -sf "$sb/_sandbox/twilio-sms/replies" -d '[{"number": "+5215570000001", "body": "STOP"}]' >/dev/null || ko "reply script refused"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" \
  --broker "ipc://$dir/back" --base-url "$sb" --from $FROM --heartbeat-ms 200 \
  --status-callback "$hooks/twilio/sms/status" --policy-dir "$src/tests/integration/e2e/policies" \
  2>>"$dir/sms.log" &
pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }
# jobs FILE PREFIX DEBTOR:CONTACT... — one job each, tenant acme
jobs() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
path, prefix = sys.argv[1:3]
with open(path, "w") as f:
    for i, pair in enumerate(sys.argv[3:]):
        d, c = pair.split(":")
        f.write(json.dumps({"job_id": f"{prefix}{i}", "tenant": "acme", "campaign": "acl",
            "debtor_id": d, "channel": "sms", "contact": c, "template_id": "aviso_mora_sms",
            "jurisdiction": "RC", "time_zone": "UTC", "variables": {"acreedor": "Acme",
            "nombre": "Ana", "producto": "tarjeta", "monto": "$100", "telefono": "800",
            "enlace": "x.co"}}) + "\n")
PY
}
submit() { "$ctl" submit --endpoint "ipc://$dir/front" --json "$1" 2>/dev/null; }
state() { rcli hget "$(rkey job acme "$1" "$2")" s; }
args=(); for i in $(seq 0 9); do args+=("d$i:+521557000000$i"); done
jobs "$dir/a.jsonl" a "${args[@]}"
submit "$dir/a.jsonl" >"$dir/a.out"
[ "$(grep -c '"verdict":"ACCEPTED"' "$dir/a.out")" = 10 ] && ok || ko "campaign: $(cat "$dir/a.out")"
delivered() { for i in $(seq 0 9); do [ "$(state d$i a$i)" = delivered ] || return 1; done; }
wait_for 30 delivered && ok || ko "not all DELIVERED: $(for i in $(seq 0 9); do echo -n "$(state d$i a$i) "; done)"
# +5215570000001 answered STOP: pregond wrote the opt-out (pg_sup_add) as user pregond
optout() { "$ctl" suppress list --tenant acme "${pctl[@]}" 2>/dev/null | pipe_has 5215570000001; }
wait_for 15 optout && ok || ko "the STOP was not applied: $("$ctl" suppress list --tenant acme "${pctl[@]}" 2>&1)"
jobs "$dir/b.jsonl" b x1:+5215570000001
submit "$dir/b.jsonl" >"$dir/b.out"
grep -q '"verdict":"REJECTED","rule":"suppressed.contact:opt-out"' "$dir/b.out" && ok || ko "after STOP: $(cat "$dir/b.out")"
[ "$(acl_denials)" = 0 ] && ok || ko "Redis refused something during the campaign: $(rcli acl log)"
grep -q "redis unavailable\|redis refuses" "$dir/pregond.log" && ko "pregond lost Redis during the campaign: $(grep redis "$dir/pregond.log")" || ok

# --- 3. what the users cannot do --------------------------------------------------------------
denied() { grep -q "NOPERM\|no permissions" <<<"$1"; }
set -f # the words of each command below are its arguments, "*" included
for c in "flushall" "flushdb" "config set maxmemory 1" "config get maxmemory" "keys *" \
         "get other:key" "set other:key 1" "eval return 1 0" "function flush" "acl list" \
         "del pg:{s0}:dataset" "scan 0" "client list" "monitor" "subscribe x"; do
  # shellcheck disable=SC2086
  out=$(as pregond $c)
  denied "$out" && ok || ko "pregond may run '$c': $out"
done
set +f
# the library's version is filled in: pregonctl (no function|load) finds it current
v=$(as pregonctl fcall_ro pg_version 0)
[[ $v =~ ^[0-9a-f]{16}$ ]] && ok || ko "pg_version answers '$v', not a version: every client would load the library again"
k=$(rkey job acme d0 a0)
out=$(as pregonctl hset "$k" s queued); denied "$out" && ok || ko "pregonctl may write a job: $out"
out=$(as pregonctl hget "$k" s); [ "$out" = delivered ] && ok || ko "pregonctl cannot read a job: $out"
out=$(as pregonctl flushall); denied "$out" && ok || ko "pregonctl may FLUSHALL: $out"
out=$(as pregonctl xtrim "pg:{s0}:audit" maxlen 0); denied "$out" && ok || ko "pregonctl may trim the audit: $out"
out=$(redis-cli -s "$PG_REDIS_SOCK" get "$k" 2>&1); grep -q NOAUTH <<<"$out" && ok || ko "no credentials, yet: $out"
# pregon-audit: the audit streams and its group's commands, nothing else (it drains in 7.)
out=$(as pregon-audit xadd "pg:{s0}:audit" '*' forged 1); denied "$out" && ok || ko "pregon-audit may XADD: $out"
out=$(as pregon-audit xdel "pg:{s0}:audit" 0-1); denied "$out" && ok || ko "pregon-audit may XDEL: $out"
out=$(as pregon-audit xrange "pg:{s0}:audit" - + count 1); denied "$out" && ok || ko "pregon-audit may XRANGE: $out"
out=$(as pregon-audit hget "$k" s); denied "$out" && ok || ko "pregon-audit may read a job: $out"
out=$(as pregon-audit xreadgroup group g c count 1 streams "$k" '>'); denied "$out" && ok || ko "pregon-audit may read a job key as a stream: $out"

# --- 4. pregonctl as its user -----------------------------------------------------------------
"$ctl" suppress add --tenant acme --debtor dx --who ops --why "acl test" "${pctl[@]}" >"$dir/sa.out" 2>&1 \
  && ok || ko "pregonctl suppress add: $(cat "$dir/sa.out")"
"$ctl" suppress list --tenant acme "${pctl[@]}" 2>&1 | pipe_has "dx" && ok || ko "suppress list: no dx"
"$ctl" suppress remove --tenant acme --debtor dx --who ops --why "acl test" "${pctl[@]}" >"$dir/sr.out" 2>&1 \
  && ok || ko "pregonctl suppress remove: $(cat "$dir/sr.out")"
[ -n "$(rkey history acme d0)" ] && ok || ko "pregonctl redis key"
"$ctl" redis stats --json "${pctl[@]}" >"$dir/stats.out" 2>&1 && grep -q '"audit":' "$dir/stats.out" && ok || ko "redis stats: $(cat "$dir/stats.out")"
"$ctl" redis audit --count 3 "${pctl[@]}" >"$dir/audit.out" 2>&1 && [ "$(wc -l <"$dir/audit.out")" -ge 3 ] && ok || ko "redis audit: $(cat "$dir/audit.out")"
"$ctl" explain --tenant acme --debtor d1 --channel sms --jurisdiction RC --tz UTC --json \
  --policies "$src/tests/integration/e2e/policies" "${pctl[@]}" >"$dir/explain.out" 2>&1 \
  && grep -q '"contacts":1' "$dir/explain.out" && ok || ko "explain: $(cat "$dir/explain.out")"
# the same credentials from --config (pregond's file: redis.user/password_file), the user
# swapped for pregonctl's
sed 's|user: pregond, password_file: pw/redis-pregond.password|user: pregonctl, password_file: pw/redis-pregonctl.password|' \
  "$dir/pregon.yaml" >"$dir/ctl.yaml"
"$ctl" suppress list --config "$dir/ctl.yaml" >"$dir/sl.out" 2>&1 && grep -q 5215570000001 "$dir/sl.out" && ok \
  || ko "pregonctl --config with redis.user: $(cat "$dir/sl.out")"
"$ctl" suppress list --redis-socket "$PG_REDIS_SOCK" >"$dir/noauth.out" 2>&1; rc=$?
[ $rc = 3 ] && grep -q NOAUTH "$dir/noauth.out" && ok || ko "pregonctl without credentials: exit $rc: $(cat "$dir/noauth.out")"
"$ctl" redis stats --redis-socket "$PG_REDIS_SOCK" --redis-user pregonctl \
  --redis-password-file "$dir/pw/redis-pregond.password" >"$dir/wrong.out" 2>&1; rc=$?
[ $rc = 3 ] && grep -q 'WRONGPASS' "$dir/wrong.out" && ! grep -qF "$(cat "$dir/pw/redis-pregond.password")" "$dir/wrong.out" \
  && ok || ko "pregonctl with a wrong password: exit $rc: $(cat "$dir/wrong.out")"

# the levers: pregonctl's read-mostly user may not pause or cancel; pregon-operator may
popr=(--redis-socket "$PG_REDIS_SOCK" --redis-user pregon-operator --redis-password-file "$dir/pw/redis-pregon-operator.password")
"$ctl" pause --tenant acme --campaign zz --who ops --why "acl test" "${pctl[@]}" >"$dir/pp.out" 2>&1 \
  && ko "pregonctl's user may pause: $(cat "$dir/pp.out")" || ok
"$ctl" pause --tenant acme --campaign zz --who ops --why "acl test" "${popr[@]}" >"$dir/po.out" 2>&1 \
  && "$ctl" pauses "${pctl[@]}" | pipe_has zz && ok || ko "pregon-operator pause / pregonctl pauses: $(cat "$dir/po.out")"
"$ctl" resume --tenant acme --campaign zz --who ops --why "acl test" "${popr[@]}" >"$dir/pr.out" 2>&1 \
  && ok || ko "pregon-operator resume: $(cat "$dir/pr.out")"
"$ctl" jobs cancel --tenant acme --campaign zz --who ops --why "acl test" "${popr[@]}" >"$dir/pc.out" 2>&1 \
  && grep -q "cancelled 0," "$dir/pc.out" && ok || ko "pregon-operator jobs cancel: $(cat "$dir/pc.out")"
"$ctl" jobs show --tenant acme --debtor d0 --job a0 "${pctl[@]}" >"$dir/js.out" 2>&1 \
  && grep -q "to=DISPATCHED" "$dir/js.out" && ok || ko "pregonctl jobs show: $(head -5 "$dir/js.out")"

# --- 5. a permission taken away while pregond runs --------------------------------------------
rcli acl log reset >/dev/null
rcli acl setuser pregond -xadd >/dev/null # every transition writes its audit record
# refusals counted by Redis (ACL LOG: one entry per reason, object and user, with a count)
refusals() { rcli acl log | grep -A1 '^count$' | grep -v '^count$\|^--$' | awk '{n += $1} END {print n + 0}'; }
i=0
busy_again() { # one more submission, BUSY; true once Redis has refused pregond 5 times
  i=$((i + 1))
  jobs "$dir/c.jsonl" c$i "c$i:+5215571000$((10 + i))"
  submit "$dir/c.jsonl" >"$dir/c.out"
  grep -q '"verdict":"BUSY"' "$dir/c.out" || ko "admission without XADD: $(cat "$dir/c.out")"
  [ "$(refusals)" -ge 5 ]
}
wait_for 20 busy_again && ok || ko "Redis refused pregond $(refusals) times in 20 s: $(rcli acl log)"
n=$(grep -c "redis refuses pregond a command" "$dir/pregond.log")
[ "$n" = 1 ] && ok || ko "the refusal logged $n times, want once: $(grep redis "$dir/pregond.log")"
rcli acl log | grep -A1 '^object$' | pipe_has -x xadd && ok || ko "Redis's ACL LOG does not name xadd: $(rcli acl log)"
rcli acl load >/dev/null
jobs "$dir/d.jsonl" d e1:+5215571100009
admitted() { submit "$dir/d.jsonl" >"$dir/d.out"; grep -q '"verdict":"ACCEPTED"' "$dir/d.out"; }
wait_for 10 admitted && ok || ko "not admitting after ACL LOAD: $(cat "$dir/d.out")"
kill -TERM "$pregond_pid"; wait "$pregond_pid"; pids=("${pids[@]/$pregond_pid}")

# --- 6. a wrong password; a loose password file; a user without a password --------------------
printf 'not-the-password\n' >"$dir/pw/wrong.password"; chmod 600 "$dir/pw/wrong.password"
sed 's|password_file: pw/redis-pregond.password|password_file: pw/wrong.password|' "$dir/pregon.yaml" >"$dir/wrong.yaml"
rcli acl log reset >/dev/null
"$build/broker/pregond" --config "$dir/wrong.yaml" 2>"$dir/wrong.log" &
pids+=($!); wrong_pid=$!
wait_for 10 grep -q "pregond: serving" "$dir/wrong.log" || ko "pregond with a wrong password did not serve (failing closed): $(cat "$dir/wrong.log")"
grep -q "redis DOWN (failing closed)" "$dir/wrong.log" && ok || ko "no 'failing closed' at start: $(cat "$dir/wrong.log")"
auth_tries() { [ "$(refusals)" -ge 3 ]; }
jobs "$dir/w.jsonl" w w1:+5215571200001
submit "$dir/w.jsonl" >"$dir/w.out"
grep -q '"verdict":"BUSY"' "$dir/w.out" && ok || ko "a job with Redis refusing pregond: $(cat "$dir/w.out")"
wait_for 10 auth_tries || ko "pregond did not try to reconnect 3 times: $(rcli acl log)"
n=$(grep -c WRONGPASS "$dir/wrong.log")
[ "$n" = 1 ] && ok || ko "WRONGPASS logged $n times, want once: $(cat "$dir/wrong.log")"
grep "WRONGPASS" "$dir/wrong.log" | pipe_has 'user "pregond" (password from redis.password_file .*wrong.password)' && ok \
  || ko "the refusal does not say who and which file: $(grep WRONGPASS "$dir/wrong.log")"
grep -qF "not-the-password" "$dir/wrong.log" && ko "pregond logged the password" || ok
kill -TERM "$wrong_pid"; wait "$wrong_pid"; pids=("${pids[@]/$wrong_pid}")

cp "$dir/pw/redis-pregond.password" "$dir/pw/loose.password"; chmod 644 "$dir/pw/loose.password"
sed 's|password_file: pw/redis-pregond.password|password_file: pw/loose.password|' "$dir/pregon.yaml" >"$dir/loose.yaml"
"$build/broker/pregond" --config "$dir/loose.yaml" 2>"$dir/loose.log"; rc=$?
[ $rc = 78 ] && ok || ko "pregond with a 0644 password file: exit $rc, want 78"
grep -q "loose.password: mode 0644" "$dir/loose.log" && ok || ko "the refusal does not name the mode: $(cat "$dir/loose.log")"
grep -qF "$(cat "$dir/pw/redis-pregond.password")" "$dir/loose.log" && ko "pregond logged the password" || ok
sed 's|, password_file: pw/redis-pregond.password||' "$dir/pregon.yaml" >"$dir/nopw.yaml"
env -u PREGON_REDIS_PASSWORD "$build/broker/pregond" --config "$dir/nopw.yaml" 2>"$dir/nopw.log"; rc=$?
[ $rc = 78 ] && grep -q 'redis.user "pregond" is set but no password' "$dir/nopw.log" && ok \
  || ko "a user without a password: exit $rc: $(cat "$dir/nopw.log")"
# the password from the environment instead of a file: pregond is admitted again
: >"$dir/env.log"
PREGON_REDIS_PASSWORD=$(cat "$dir/pw/redis-pregond.password") "$build/broker/pregond" --config "$dir/nopw.yaml" 2>"$dir/env.log" &
env_pid=$!; pids+=($env_pid)
wait_for 10 grep -q "pregond: serving" "$dir/env.log" && ! grep -q "redis DOWN" "$dir/env.log" && ok \
  || ko "pregond with PREGON_REDIS_PASSWORD: $(cat "$dir/env.log")"

# --- 7. pregon-audit as its user: drains every shard's stream, the ACL log stays empty ------------
# no pregond writes records any more while they are counted and drained
kill -TERM "$env_pid" 2>/dev/null; wait "$env_pid" 2>/dev/null
acl_before=$(acl_denials)
audit_records=0; for s in $(seq 0 15); do audit_records=$((audit_records + $(rcli xlen "pg:{s$s}:audit"))); done
"$build/broker/audit/pregon-audit" keygen --key "$dir/audit.key" --pub "$dir/audit.pub" || ko "pregon-audit keygen"
"$build/broker/audit/pregon-audit" drain --once --dir "$dir/archive" --key "$dir/audit.key" --redis-socket "$PG_REDIS_SOCK" \
  --redis-user pregon-audit --redis-password-file "$dir/pw/redis-pregon-audit.password" 2>"$dir/audit-drain.log" \
  && ok || ko "pregon-audit drain as its user: $(cat "$dir/audit-drain.log")"
left=0; for s in $(seq 0 15); do left=$((left + $(rcli xlen "pg:{s$s}:audit"))); done
[ "$audit_records" -gt 0 ] && [ "$left" = 0 ] && ok || ko "pregon-audit drained $audit_records records and left $left"
grep -q "stopped: $audit_records records written" "$dir/audit-drain.log" && ok || ko "drained: $(tail -1 "$dir/audit-drain.log")"
[ "$(acl_denials)" = "$acl_before" ] && ok || ko "pregon-audit was refused something: $(rcli acl log 1)"
"$ctl" audit verify --dir "$dir/archive" --pub "$dir/audit.pub" >"$dir/verify.out" 2>&1 && ok || ko "verify: $(cat "$dir/verify.out")"

echo "acl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
