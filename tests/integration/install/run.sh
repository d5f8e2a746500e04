#!/usr/bin/env bash
# run.sh BUILD_DIR — `cmake --install` into a temp prefix, then use only what was installed:
#  - every pregon* program of the build is in PREFIX/bin; the configuration is in PREFIX/etc/pregon
#    and PREFIX/share/pregon (deploy/CMakeLists.txt), and no .lua file is (they are embedded);
#  - a second install keeps an edited etc/pregon/pregon.yaml;
#  - the installed pregond --help, pregonctl policy-check on the installed policies (the golden
#    verdicts of tests/integration/policy_check);
#  - the installed redis.conf is accepted by this redis-server (its dir pointed at a temp dir, its
#    ACL rendered by the installed redis-acl.sh from the installed users.acl): AOF on,
#    noeviction, the default user disabled;
#  - the installed pregond, started from an unrelated working directory with a config next to the
#    installed pregon.yaml (relative policies/templates), admits a job through Redis.
set -uo pipefail
build=$(cd "$1" && pwd)
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$src/tests/integration/redis_lib.sh"
dir=$(mktemp -d /tmp/pregon-install.XXXXXX)
export STATE_DIRECTORY="$dir" # where pregon-sms keeps its journal (<worker-id>.journal)
prefix="$dir/prefix" etc="$dir/prefix/etc/pregon" share="$dir/prefix/share/pregon"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  pg_redis_stop
  acli shutdown nosave >/dev/null 2>&1
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
# redis-cli as the ACL's admin on the Redis started with the installed redis.conf (section 4)
acli() { REDISCLI_AUTH=$(cat "$dir/acl/redis-admin.password" 2>/dev/null) redis-cli -s "$dir/conf.sock" --user admin "$@"; }
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done; }

# 1. the install
if "${CMAKE:-cmake}" --install "$build" --prefix "$prefix" >"$dir/install.log" 2>&1; then ok; else ko "cmake --install: $(cat "$dir/install.log")"; exit 1; fi
for p in pregond pregonctl pregon-sms pregon-sandbox; do
  [ -x "$prefix/bin/$p" ] && ok || ko "not installed: bin/$p"
done
while IFS= read -r p; do # a program added later without its install() line
  [ -x "$prefix/bin/$(basename "$p")" ] && ok || ko "built but not installed: $p (add install(TARGETS ...))"
done < <(find "$build/broker" "$build/channels" -type f -perm -u+x -name 'pregon*' 2>/dev/null)
for d in "$etc" "$share"; do
  for f in pregon.yaml redis.conf users.acl templates.yaml; do
    cmp -s "$src/deploy/$f" "$d/$f" && ok || ko "$d/$f missing or not the shipped file"
  done
  for f in "$src"/deploy/policies/*.yaml; do
    cmp -s "$f" "$d/policies/$(basename "$f")" && ok || ko "$d/policies/$(basename "$f") missing"
  done
done
[ -z "$(find "$prefix" -name '*.lua')" ] && ok || ko "a .lua file was installed: $(find "$prefix" -name '*.lua')"

# 2. an edited configuration survives the next install; the shipped copy in share/ is renewed
echo "# edited by the operator" >>"$etc/pregon.yaml"
echo "# stale" >>"$share/pregon.yaml"
"${CMAKE:-cmake}" --install "$build" --prefix "$prefix" >"$dir/install2.log" 2>&1 || ko "second install: $(cat "$dir/install2.log")"
[ "$(tail -1 "$etc/pregon.yaml")" = "# edited by the operator" ] && ok || ko "the second install overwrote etc/pregon/pregon.yaml"
cmp -s "$src/deploy/pregon.yaml" "$share/pregon.yaml" && ok || ko "the second install did not renew share/pregon/pregon.yaml"

cd "$dir" || exit 1 # from here on nothing may depend on the source tree or the working directory

# 3. the installed programs run
out=$("$prefix/bin/pregond" --help 2>&1); rc=$?
[ $rc = 0 ] && grep -q "usage: pregond" <<<"$out" && ok || ko "pregond --help: exit $rc: $out"
"$prefix/bin/pregonctl" policy-check --policy "$etc/policies" \
  --scenarios "$src/tests/integration/policy_check/presets.jsonl" >"$dir/presets.out" 2>"$dir/presets.err"
rc=$?
[ $rc = 0 ] && ok || ko "installed pregonctl policy-check: exit $rc: $(cat "$dir/presets.err")"
diff -q "$src/tests/integration/policy_check/presets.expected.jsonl" "$dir/presets.out" >/dev/null && ok \
  || ko "installed policies give other verdicts: $(diff "$src/tests/integration/policy_check/presets.expected.jsonl" "$dir/presets.out" | head -5)"
for p in pregon-sms pregon-sandbox; do
  "$prefix/bin/$p" --help >"$dir/help.out" 2>&1 && ok || ko "$p --help: $(cat "$dir/help.out")"
done

# 4. the installed redis.conf, its data dir pointed at a temp dir (redis-server refuses a
#    missing dir even when overridden later on the command line), on a private socket
mkdir "$dir/redis-data"
sed -e "s|^dir /var/lib/pregon/redis\$|dir $dir/redis-data|" \
    -e "s|^aclfile /etc/pregon/redis-users.acl\$|aclfile $dir/redis-users.acl|" "$etc/redis.conf" >"$dir/redis.conf"
grep -q "^dir $dir/redis-data\$" "$dir/redis.conf" && ok || ko "redis.conf has no 'dir /var/lib/pregon/redis' line"
grep -q "^aclfile $dir/redis-users.acl\$" "$dir/redis.conf" && ok || ko "redis.conf has no 'aclfile /etc/pregon/redis-users.acl' line"
mkdir -m 700 "$dir/acl"
"$share/redis-acl.sh" --passwords "$dir/acl" "$dir/redis-users.acl" 2>"$dir/acl.log" && ok \
  || ko "the installed redis-acl.sh: $(cat "$dir/acl.log")"
(redis-server "$dir/redis.conf" --port 0 --unixsocket "$dir/conf.sock" </dev/null >"$dir/conf-redis.log" 2>&1 &)
conf_ping() { acli ping 2>/dev/null | pipe_has PONG; }
if wait_for 10 conf_ping; then
  ok
  # without credentials: nothing (the default user is off)
  out=$(redis-cli -s "$dir/conf.sock" ping 2>&1)
  grep -q NOAUTH <<<"$out" && ok || ko "redis.conf's ACL lets an unauthenticated client in: $out"
  acli info persistence | tr -d '\r' >"$dir/persistence"
  grep -q '^aof_enabled:1$' "$dir/persistence" && ok || ko "redis.conf: AOF not on: $(cat "$dir/persistence")"
  for kv in "appendfsync everysec" "maxmemory-policy noeviction" "protected-mode yes" "save " \
            "bind 127.0.0.1 -::1"; do
    got=$(acli config get "${kv%% *}" | tail -1)
    [ "$got" = "${kv#* }" ] && ok || ko "redis.conf: ${kv%% *} is '$got', want '${kv#* }'"
  done
  acli shutdown >/dev/null 2>&1
else
  ko "redis-server refused the installed redis.conf: $(cat "$dir/conf-redis.log")"
fi

# 5. the installed pregond admits a job: relative paths resolved against its config's folder,
#    the Redis scripts embedded
pg_redis_start "$dir" || exit 1
sed -e "s|^  socket: \"\"|  socket: \"$PG_REDIS_SOCK\"|" \
    -e "s|^  frontend: .*|  frontend: ipc://$dir/front|" -e "s|^  backend: .*|  backend: ipc://$dir/back|" \
    -e "s|^  events: .*|  events: \"\"|" -e "s|^  hooks: .*|  hooks: \"\"|" \
    -e "s|^  curve: 1 |  curve: 0 |" "$etc/pregon.yaml" >"$etc/test.yaml"
"$prefix/bin/pregond" --config "$etc/test.yaml" 2>"$dir/pregond.log" &
pids+=($!)
npol=$(ls "$etc/policies" | wc -l)
if wait_for 10 grep -q "pregond: serving" "$dir/pregond.log"; then
  grep -q "serving as .*, $npol policies, [1-9][0-9]* templates$" "$dir/pregond.log" && ok \
    || ko "pregond did not load the installed policies and templates: $(cat "$dir/pregond.log")"
  cat >"$dir/job.jsonl" <<'JSON'
{"job_id": "inst-1", "tenant": "acme", "debtor_id": "d-1", "channel": "sms", "contact": "+573001234567", "template_id": "aviso_mora_sms", "jurisdiction": "CO", "time_zone": "America/Bogota", "variables": {"nombre": "Ana", "monto": "$1", "producto": "p", "fecha": "1/1", "enlace": "x.co", "acreedor": "Acme", "telefono": "800"}}
JSON
  "$prefix/bin/pregonctl" submit --endpoint "ipc://$dir/front" --json --timeout 20 "$dir/job.jsonl" >"$dir/submit.out" 2>&1
  grep -qE '"verdict":"(ACCEPTED|DEFERRED)"' "$dir/submit.out" && ok || ko "installed pregond: $(cat "$dir/submit.out")"
else
  ko "installed pregond did not start: $(cat "$dir/pregond.log")"
fi

[ "$fail" -eq 0 ] || { echo "--- pregond.log"; tail -5 "$dir/pregond.log" 2>/dev/null; }
# the systemd units: installed, and accepted by systemd-analyze verify once their paths point
# into this prefix (a unit whose program this build did not make is left out, and said so)
if command -v systemd-analyze >/dev/null; then
  bindir=$(grep -h -o 'ExecStart=[^ ]*/pregond' "$share/systemd/pregond.service" | sed 's|ExecStart=||; s|/pregond$||')
  mkdir -p "$dir/units"
  for u in "$share"/systemd/*.service; do
    [ -f "$u" ] || continue
    sed "s|$bindir/|$prefix/bin/|g" "$u" >"$dir/units/$(basename "$u")"
  done
  [ -f "$dir/units/pregond.service" ] && [ -f "$dir/units/pregon-worker@.service" ] && ok || ko "systemd units not installed: $(ls "$share/systemd" 2>&1)"
  for u in "$dir"/units/*.service; do
    prog=$(grep -o "ExecStart=[^ ]*" "$u" | sed 's|ExecStart=||; s|%i|sms|')
    case "$prog" in "$prefix"/bin/*) [ -x "$prog" ] || { echo "  (not verified: $(basename "$u"): $prog not built)"; continue; } ;; esac
    sed "s|pregon-%i|pregon-sms|" "$u" >"$u.v" && mv "$u.v" "$u"
    systemd-analyze verify --man=no "$u" >"$dir/verify.log" 2>&1 && ok || ko "systemd-analyze verify $(basename "$u"): $(cat "$dir/verify.log")"
  done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
