#!/usr/bin/env bash
# run.sh PREGONCTL — policy-check against the shipped presets (golden verdicts) and bad input.
set -uo pipefail
ctl=$1
here=$(cd "$(dirname "$0")" && pwd)
src=${PG_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

# 1. the presets give the verdicts POLICY.md implies (checked by hand into presets.expected.jsonl)
"$ctl" policy-check --policy "$src/deploy/policies" --scenarios "$here/presets.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok || ko "presets: exit $rc: $(cat "$tmp/err")"
if diff -u "$here/presets.expected.jsonl" "$tmp/out" >"$tmp/diff"; then ok; else ko "presets differ:"; cat "$tmp/diff"; fi

# 2. bad lines: one error line each, the good line still evaluated, exit 1, no crash
"$ctl" policy-check --policy "$src/deploy/policies" --scenarios "$here/bad.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && ok || ko "bad input: exit $rc, want 1"
n=$(wc -l <"$tmp/err")
[ "$n" -eq 8 ] && ok || ko "bad input: $n error lines, want 8: $(cat "$tmp/err")"
for want in 'bad.jsonl:1: error: bad-timezone: "Mars/Olympus"' 'bad.jsonl:2: error: bad-channel: "carrier-pigeon"' \
            'bad.jsonl:3: error: unknown-policy: "XX"' 'bad.jsonl:4: error:' 'bad.jsonl:5: error: "at" must be' \
            'bad.jsonl:6: error: unknown field "chanel"' 'bad.jsonl:7: error: a scenario must be a JSON object' \
            'bad.jsonl:8: error: history[0]: "at"'; do
  grep -qF "$want" "$tmp/err" && ok || ko "missing error line: $want"
done
grep -q '"id":"fine","verdict":"ACCEPTED"' "$tmp/out" && ok || ko "the good line after bad ones was not evaluated"
grep -q '"id":"unknown-zone","verdict":"REJECTED","rule":"job.fields","reason":"bad-timezone"' "$tmp/out" && ok || ko "unknown zone is not REJECTED bad-timezone"

# 2b. what a line holds is quoted on stderr: escapes, no raw control byte, still one line
printf '{"\\u001b[2J\\u2028chanel":"sms"}\n' >"$tmp/esc.jsonl"
"$ctl" policy-check --policy "$src/deploy/policies" --scenarios "$tmp/esc.jsonl" >"$tmp/out" 2>"$tmp/err"
grep -qF 'esc.jsonl:1: error: unknown field "\x1b[2J\xe2\x80\xa8chanel"' "$tmp/err" && ok || ko "hostile field name not escaped: $(cat -v "$tmp/err")"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && ! grep -q $'\e' "$tmp/err" && ok || ko "raw control bytes on stderr: $(cat -v "$tmp/err")"

# 3. bad policies: one line FILE:LINE:COL, exit 2
printf 'id: BAD\nwindows:\n  - id: bad.hours\n    channels: [smss]\n    daily: "07:00-19:00"\n' >"$tmp/BAD.yaml"
echo '{"tz":"America/Bogota","channel":"sms","at":"2026-03-11T10:00:00-05:00"}' >"$tmp/one.jsonl"
"$ctl" policy-check --policy "$tmp/BAD.yaml" --scenarios "$tmp/one.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && ok || ko "bad policy: exit $rc, want 2"
grep -qE "BAD.yaml:4:[0-9]+: .*smss" "$tmp/err" && ok || ko "bad policy message: $(cat "$tmp/err")"
printf 'id: BAD\nwindows: [\n' >"$tmp/BAD.yaml"
"$ctl" policy-check --policy "$tmp/BAD.yaml" --scenarios "$tmp/one.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -qE "BAD.yaml:[0-9]+:[0-9]+: " "$tmp/err" && ok || ko "malformed yaml: exit $rc: $(cat "$tmp/err")"
"$ctl" policy-check --policy "$tmp/nope.yaml" --scenarios "$tmp/one.jsonl" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && ok || ko "missing policy file"
# a single-policy file needs no "policy" field in the scenario
"$ctl" policy-check --policy "$src/deploy/policies/CO.yaml" --scenarios "$tmp/one.jsonl" >"$tmp/out" 2>"$tmp/err"
grep -q '"verdict":"ACCEPTED"' "$tmp/out" && ok || ko "single policy file: $(cat "$tmp/out" "$tmp/err")"
# garbage bytes never crash it
head -c 4096 /dev/urandom >"$tmp/junk.jsonl"
"$ctl" policy-check --policy "$src/deploy/policies" --scenarios "$tmp/junk.jsonl" >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] || [ $rc -eq 0 ] && ok || ko "random bytes: exit $rc"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
