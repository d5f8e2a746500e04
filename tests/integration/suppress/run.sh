#!/usr/bin/env bash
# suppress/run.sh PREGONCTL — `pregonctl suppress add|remove|list|import` end to end against the
# redis-server with_redis.sh started (PG_REDIS_SOCK), and `pregonctl explain` seeing what they
# did; exit codes, messages, the CSV format and the audit records each change writes.
set -uo pipefail
ctl=$1
here=$(cd "$(dirname "$0")" && pwd)
src=${PG_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
tmp=$(mktemp -d /tmp/pregon-supp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
R=(--redis-socket "$PG_REDIS_SOCK")
passed=0 failed=0
pipe_has() { [ "$(grep -c "$@")" != 0 ]; }  # grep -q reading all its input (see redis_lib.sh)
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# expect RC DESCRIPTION -- CMD...: runs CMD (output in $tmp/out, $tmp/err), checks its exit code
expect() {
  local want=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else ko "$what: exit $rc, want $want: $(cat "$tmp/out" "$tmp/err")"; fi
}
has() { grep -q -- "$2" "$tmp/$1" && ok || ko "$3: no \"$2\" in: $(cat "$tmp/$1")"; }

expect 0 "add a number" -- "$ctl" suppress add "${R[@]}" --tenant acme --contact +573001112233 \
  --rule opt-out --who ops:ana --why "asked by phone"
has out "added: contact +573001112233 of tenant acme on \*, rule opt-out" "add"
expect 0 "the same again" -- "$ctl" suppress add "${R[@]}" --tenant acme --contact +573001112233 \
  --rule opt-out --who ops:ana --why "asked by phone"
has out "^same:" "repeat"
expect 1 "another rule without --replace" -- "$ctl" suppress add "${R[@]}" --tenant acme \
  --contact +573001112233 --rule operator --who ops:ana --why x
has out "kept: .* has rule opt-out (--replace to replace it)" "kept"
expect 0 "a debtor's sms" -- "$ctl" suppress add "${R[@]}" --tenant acme --debtor d7 --channel sms \
  --who ops:ana --why "complaint"
expect 0 "a debt" -- "$ctl" suppress add "${R[@]}" --tenant acme --debt L9 --rule cease \
  --who ops:ana --why "lawyer's letter"
expect 0 "an e-mail address" -- "$ctl" suppress add "${R[@]}" --tenant beta --contact Ana@Example.COM \
  --channel email --rule opt-out --who ops:ana --why unsubscribe
expect 2 "a number that is not E.164" -- "$ctl" suppress add "${R[@]}" --tenant acme --contact 300111 \
  --channel sms --who ops:ana --why x
has err "phone\|contact point" "invalid number"
expect 2 "an unknown channel" -- "$ctl" suppress add "${R[@]}" --tenant acme --debtor d1 \
  --channel fax --who ops:ana --why x
expect 2 "no --who" -- "$ctl" suppress add "${R[@]}" --tenant acme --debtor d1 --why x
expect 2 "two selectors" -- "$ctl" suppress add "${R[@]}" --tenant acme --debtor d1 --debt L1 \
  --who a --why x

expect 0 "list" -- "$ctl" suppress list "${R[@]}"
has out "acme  *contact  *+573001112233  *\*  *opt-out" "list: the number"
has out "acme  *debtor  *d7  *sms  *operator" "list: the debtor"
has out "beta  *contact  *ana@example.com  *email" "list: the address, lowercased"
[ "$(grep -c '+573001112233' "$tmp/out")" = 1 ] && ok || ko "a contact suppression listed more than once"
expect 0 "list --csv --tenant acme" -- "$ctl" suppress list "${R[@]}" --csv --tenant acme
head -1 "$tmp/out" | pipe_has -x 'tenant,scope,value,channel,rule,at,who,why' && ok || ko "csv header"
[ "$(wc -l <"$tmp/out")" = 4 ] && ok || ko "acme's csv: $(cat "$tmp/out")"
cp "$tmp/out" "$tmp/acme.csv"

# explain sees what admission would
expect 0 "explain" -- "$ctl" explain "${R[@]}" --policies "$src/tests/integration/policies" \
  --tenant acme --debtor anyone --channel sms --jurisdiction TEST --tz America/Bogota \
  --contact +573001112233 --json
has out '"verdict":"REJECTED","local":"[^"]*","rule":"suppressed.contact:opt-out","reason":"suppressed"' "explain"

# remove: only-if-rule, then for real, then nothing left
expect 1 "remove with another rule" -- "$ctl" suppress remove "${R[@]}" --tenant acme \
  --contact +573001112233 --rule operator --who ops:ana --why x
has out "kept: .* has rule opt-out" "remove kept"
expect 0 "remove" -- "$ctl" suppress remove "${R[@]}" --tenant acme --contact +573001112233 \
  --rule opt-out --who ops:ana --why "asked again"
has out "removed: contact +573001112233 of tenant acme on \* (rule opt-out)" "removed"
expect 1 "remove again" -- "$ctl" suppress remove "${R[@]}" --tenant acme --contact +573001112233 \
  --who ops:ana --why x
has out "absent" "absent"

# import: a regulator's list with bad lines; good lines applied, bad ones reported by line
cat >"$tmp/dnc.csv" <<'CSV'
tenant,scope,value,channel,rule,why
acme,contact,+573005550001,,regulator-dnc,SIC registry 2026-03
acme,contact,+57300,sms,regulator-dnc,too short

acme,debtor,d8,*,cease,"quoted, with a comma"
acme,account,x,*,regulator-dnc,bad scope
acme,contact,someone@example.com,sms,regulator-dnc,address on sms
acme,debt,L10,voice,Not A Rule,bad rule
beta,contact,1234567890123456,messenger,opt-out,a PSID
acme,contact,+573005550002,*,regulator-dnc
CSV
expect 1 "import with bad lines" -- "$ctl" suppress import "${R[@]}" "$tmp/dnc.csv" --who ops:bulk
has err "dnc.csv:3: phone must be E.164" "line 3"
has err "dnc.csv:6: scope must be contact, debtor or debt" "line 6 (after a blank line)"
has err "dnc.csv:7: contact point does not fit the channel" "line 7"
has err "dnc.csv:8: rule:" "line 8"
has err "dnc.csv:10: 5 columns, the header has 6" "line 10"
has out "8 lines: 3 added, 0 changed, 0 unchanged, 0 replaced, 0 kept (another rule in force), 5 bad" "summary"
expect 0 "list after import" -- "$ctl" suppress list "${R[@]}" --csv
grep -q '"acme","contact","+573005550001","\*","regulator-dnc",[^,]*,"ops:bulk","SIC registry 2026-03"' "$tmp/out" && ok || ko "imported line: $(cat "$tmp/out")"
grep -q '"acme","debtor","d8","\*","cease",[^,]*,"ops:bulk","quoted, with a comma"' "$tmp/out" && ok || ko "quoted line"
grep -q '"beta","contact","1234567890123456","messenger"' "$tmp/out" && ok || ko "PSID line"
expect 0 "an import all good" -- "$ctl" suppress import "${R[@]}" "$tmp/acme.csv" --who ops:bulk
# the removed number comes back; the two others are the same but for who (audited as changes)
has out "3 lines: 1 added, 2 changed, 0 unchanged, 0 replaced, 0 kept" "list --csv imports again"
printf 'tenant,scope,value\nacme,debt,L1\n' >"$tmp/short.csv"
expect 1 "a header missing a column" -- "$ctl" suppress import "${R[@]}" "$tmp/short.csv" --who x
has err "short.csv:1: header: column \"channel\" missing" "bad header"

# every change audited once: 4 adds, 3 imported, 3 imported again (1 added, 2 changed), 1 remove;
# the repeat and the kept ones wrote nothing
expect 0 "audit" -- "$ctl" redis audit "${R[@]}"
n_sup=$(grep -c '"to":"SUPPRESSED"' "$tmp/out")
n_uns=$(grep -c '"to":"UNSUPPRESSED"' "$tmp/out")
[ "$n_sup" = 10 ] && ok || ko "$n_sup SUPPRESSED records, want 10"
[ "$n_uns" = 1 ] && ok || ko "$n_uns UNSUPPRESSED records, want 1"
grep '"to":"UNSUPPRESSED"' "$tmp/out" | pipe_has '"who":"ops:ana".*"why":"asked again"\|"why":"asked again"' && ok || ko "who and why audited: $(grep UNSUPP "$tmp/out")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
