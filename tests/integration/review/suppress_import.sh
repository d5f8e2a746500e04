#!/usr/bin/env bash
# suppress_import.sh PREGONCTL — `pregonctl suppress import` on hostile CSV, against the
# redis-server with_redis.sh started (PG_REDIS_SOCK): a byte order mark and CRLF line ends (as
# spreadsheets export), a 2 MB cell, a NUL byte, quotes and commas in a cell, a line break inside
# a quoted value, an unterminated quote at the end. Good lines are applied, bad ones reported by
# line, nothing crashes.
set -uo pipefail
ctl=$1
tmp=$(mktemp -d /tmp/pregon-review-csv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
R=(--redis-socket "$PG_REDIS_SOCK")
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

printf '\xef\xbb\xbftenant,scope,value,channel,rule,why\r\nacme,contact,+573001110001,*,regulator-dnc,bom\r\n' >"$tmp/bom.csv"
"$ctl" suppress import "${R[@]}" "$tmp/bom.csv" --who ops:review >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && ok || ko "BOM + CRLF: exit $rc: $(cat "$tmp/out" "$tmp/err")"
grep -q "1 lines: 1 added" "$tmp/out" && ok || ko "BOM + CRLF: $(cat "$tmp/out" "$tmp/err")"

/usr/bin/python3 - "$tmp/hostile.csv" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"tenant,scope,value,channel,rule,why\n")
    f.write(b"acme,contact,+573001110002,*,regulator-dnc," + b"w" * 2000000 + b"\n")
    f.write(b"acme,contact,+57300111\x000003,*,regulator-dnc,nul\n")
    f.write(b'acme,contact,"+573001110004",*,regulator-dnc,"a ""quoted"" why, with comma"\n')
    f.write(b'acme,contact,"+573001110005\n",*,regulator-dnc,multi\n')
    f.write(b'acme,contact,+573001110006,*,regulator-dnc,"unterminated\n')
    f.write(b'acme,contact,+573001110007,*,regulator-dnc,ok\n')
PY
"$ctl" suppress import "${R[@]}" "$tmp/hostile.csv" --who ops:review >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && ok || ko "hostile: exit $rc, want 1 (bad lines): $(cat "$tmp/out" "$tmp/err")"
grep -q "1 added.* 4 bad" "$tmp/out" && ok || ko "hostile: $(cat "$tmp/out")"
for l in 2 3 5 8; do grep -q "hostile.csv:$l: " "$tmp/err" && ok || ko "line $l not reported: $(cat "$tmp/err")"; done
"$ctl" suppress list "${R[@]}" --tenant acme --csv >"$tmp/list" 2>&1
grep -q '+573001110004.*a ""quoted"" why, with comma' "$tmp/list" && ok || ko "quoted why: $(cat "$tmp/list")"
grep -q '+573001110001' "$tmp/list" && ok || ko "BOM file's line not listed"
[ "$(grep -c '+57300111000[23567]' "$tmp/list")" = 0 ] && ok || ko "a bad line applied: $(cat "$tmp/list")"
echo "suppress_import: $pass passed, $fail failed"
[ "$fail" = 0 ]
