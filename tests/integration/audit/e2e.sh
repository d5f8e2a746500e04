#!/usr/bin/env bash
# e2e.sh BUILD_DIR — the audit of a campaign, every part real: redis-server, pregond,
# pregon-sms, pregon-sandbox (signed delivery callbacks) and pregon-hooks, and pregon-audit
# draining the audit streams the whole time. Then:
#  1. the archive matches the campaign one to one: every job's decision record is its verdict
#     (code and rule), every accepted job has exactly one DISPATCHED, SENT and DELIVERED record,
#     the SENT record's provider id is the job's, and the sandbox received exactly as many
#     messages as there are DISPATCHED records;
#  2. `pregonctl audit debtor` of a debtor with delivered, deferred and rejected jobs shows each
#     with its rule, local time and zone, masked contact, template and provider id, as a table,
#     CSV, JSON and a printable HTML page whose header names the seal covering it (valid);
#  3. export (CSV, JSON lines) and stats count the same records; verify finds it intact.
# PG_REDIS_CLUSTER=1: on a cluster node.
set -uo pipefail
build=$1
src=${PG_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
here="$src/tests/integration/audit"
. "$src/tests/integration/it_lib.sh"
it_begin audit-e2e
py=/usr/bin/python3
export AC=AC00000000000000000000000000000000 TOKEN=sandbox-token FROM=+15005550006
state() { rcli hget "$(rkey job "$1" "$2" "$3")" s; }
pg_redis_start "$dir" || exit 1
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pg}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 0}   # plaintext: loopback endpoints only
policies: $here/policies
templates: $src/deploy/templates.yaml
dispatch: {lease_ms: 10000, heartbeat_ms: 200}
YAML
"$build/broker/audit/pregon-audit" keygen --key "$dir/audit.key" --pub "$dir/audit.pub" || exit 1
"$build/broker/audit/pregon-audit" drain --config "$dir/pregon.yaml" --dir "$dir/archive" --key "$dir/audit.key" \
  --idle-ms 50 2>"$dir/audit.log" &
pids+=($!); audit_pid=$!
"$build/broker/pregond" --config "$dir/pregon.yaml" 2>"$dir/pregond.log" &
pids+=($!)
wait_for 10 grep -q "pregond: serving" "$dir/pregond.log" || { echo "pregond did not start"; cat "$dir/pregond.log"; exit 1; }
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/hooks/pregon-hooks" \
  --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" --heartbeat-ms 200 2>"$dir/hooks.log" &
pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log" || { echo "pregon-hooks did not start"; cat "$dir/hooks.log"; exit 1; }
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
"$build/channels/sandbox/pregon-sandbox" --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --callbacks --callback-delay-ms 50 2>"$dir/sandbox.log" &
pids+=($!)
wait_for 10 test -s "$dir/sandbox.port" || { echo "sandbox did not start"; cat "$dir/sandbox.log"; exit 1; }
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
TWILIO_ACCOUNT_SID=$AC TWILIO_AUTH_TOKEN=$TOKEN "$build/channels/sms/pregon-sms" \
  --broker "ipc://$dir/back" --base-url "$sb" --from $FROM --heartbeat-ms 200 \
  --status-callback "$hooks/twilio/sms/status" --policy-dir "$here/policies" 2>>"$dir/sms.log" &
pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log" || { echo "worker never joined"; cat "$dir/sms.log"; exit 1; }

# the campaign: 20 debtors with one job each, and debtor dd (Santiago) with four: two delivered,
# a third deferred by the daily cap, a fourth to a suppressed number (rejected)
"$ctl" suppress add --tenant acme --contact +5215570000099 --who compliance --why "asked by letter" \
  --redis-socket "$dir/redis.sock" >/dev/null || ko "suppress add"
$py - "$dir/jobs.jsonl" <<'PY'
import json, sys
def job(i, d, c, tz="America/Bogota"):
    return {"job_id": f"j{i}", "tenant": "acme", "campaign": "dic", "debtor_id": d, "debt_id": "L1",
            "channel": "sms", "contact": c, "template_id": "aviso_mora_sms", "jurisdiction": "AU",
            "time_zone": tz, "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta",
            "monto": "$100", "telefono": "800", "enlace": "x.co"}}
with open(sys.argv[1], "w") as f:
    for i in range(20):
        f.write(json.dumps(job(i, f"d{i}", f"+52155700{i:05d}")) + "\n")
    for k, c in enumerate(["+5215570000050", "+5215570000050", "+5215570000050", "+5215570000099"]):
        f.write(json.dumps(job(100 + k, "dd", c, "America/Santiago")) + "\n")
PY
"$ctl" submit --endpoint "ipc://$dir/front" --json "$dir/jobs.jsonl" >"$dir/verdicts.out" 2>"$dir/submit.log" \
  || ko "submit: $(cat "$dir/submit.log")"
accepted=$(grep -c '"verdict":"ACCEPTED"' "$dir/verdicts.out")
[ "$accepted" = 22 ] && ok || ko "accepted $accepted of 24, want 22: $(cat "$dir/verdicts.out")"
delivered() { local n=0 j; for j in $(grep '"verdict":"ACCEPTED"' "$dir/verdicts.out" | grep -o '"job_id":"[^"]*"' | cut -d'"' -f4); do
  d=$(grep "\"job_id\": \"$j\"" "$dir/jobs.jsonl" | grep -o '"debtor_id": "[^"]*"' | cut -d'"' -f4)
  [ "$(state acme "$d" "$j")" = delivered ] || return 1; done; }
wait_for 30 delivered || ko "not every accepted job was delivered"
drained() { local s; for s in $(seq 0 15); do [ "$(rcli xlen "pg:{s$s}:audit")" = 0 ] || return 1; done; }
wait_for 20 drained && ok || ko "pregon-audit left records in Redis"
kill -TERM "$audit_pid"; wait "$audit_pid"
grep -q "stopped:" "$dir/audit.log" && ok || ko "pregon-audit: $(cat "$dir/audit.log")"

# 1. one to one
"$ctl" audit export --dir "$dir/archive" --from 2000-01-01 --to 2100-01-01 --format jsonl >"$dir/all.jsonl" 2>"$dir/export.err" \
  || ko "export: $(cat "$dir/export.err")"
for j in $(seq 0 19) 100 101; do rcli hget "$(rkey job acme "$([ $j -lt 100 ] && echo d$j || echo dd)" j$j)" pid; done >"$dir/pids.txt"
sent=$(curl -s "$sb/_sandbox/requests?limit=100000" | $py -c 'import json,sys; print(len(json.load(sys.stdin)))')
out=$($py - "$dir/all.jsonl" "$dir/verdicts.out" "$dir/pids.txt" "$sent" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
verdicts = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{") and '"job_id"' in l]
pids = set(l.strip() for l in open(sys.argv[3]) if l.strip())
sent = int(sys.argv[4])
bad = []
by_job = {}
for r in recs:
    if r.get("tenant") == "acme" and r.get("job"):
        by_job.setdefault(r["job"], []).append(r)
for v in verdicts:
    rs = by_job.get(v["job_id"], [])
    first = [r for r in rs if r["to"] in ("ACCEPTED", "DEFERRED", "REJECTED", "EXPIRED")]
    if len(first) != 1 or first[0]["to"] != v["verdict"] or (first[0]["rule"] or None) != (v.get("rule") or None):
        bad.append(f"{v['job_id']}: verdict {v['verdict']} {v.get('rule')}, records {[(r['to'], r.get('rule')) for r in first]}")
    if v["verdict"] == "ACCEPTED":
        for t in ("DISPATCHED", "SENT", "DELIVERED"):
            n = sum(1 for r in rs if r["to"] == t)
            if n != 1:
                bad.append(f"{v['job_id']}: {n} {t} records")
        s = [r for r in rs if r["to"] == "SENT"]
        if s and s[0].get("pid") not in pids:
            bad.append(f"{v['job_id']}: SENT pid {s[0].get('pid')} is not the job's")
        if sum(1 for r in rs if r["to"] == "CONTENT" and len(r.get("content", "")) == 64) != 1:
            bad.append(f"{v['job_id']}: not one CONTENT record")
        for r in rs:
            if r["to"] == "CONTENT":
                continue
            if r.get("campaign") != "dic" or r.get("template") != "aviso_mora_sms" or r.get("jurisdiction") != "AU" or not r.get("contact"):
                bad.append(f"{v['job_id']}: {r['to']} lacks its context: {r}")
                break
dispatched = sum(1 for r in recs if r["to"] == "DISPATCHED")
if dispatched != sent:
    bad.append(f"{dispatched} DISPATCHED records, the provider received {sent}")
print(len(verdicts), "jobs;", "; ".join(bad[:5]) if bad else "one to one")
sys.exit(1 if bad or len(verdicts) != 24 else 0)
PY
) && ok || ko "archive vs campaign: $out"

# content evidence: one body for 22 identical reminders, kept once, named by its hash
n_content=$(find "$dir/archive/content" -name '*.json' | wc -l)
[ "$n_content" = 1 ] && ok || ko "content files: $n_content, want 1 (every job rendered the same text)"
f=$(find "$dir/archive/content" -name '*.json' | head -1)
[ -n "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1).json" = "$(basename "$f")" ] && grep -q '"kind":"text"' "$f" && grep -q 'Ana' "$f" && ok \
  || ko "content file $f: $(cat "$f" 2>/dev/null)"
grep '"to":"CONTENT"' "$dir/all.jsonl" | pipe_has '"body"' && ko "a CONTENT record kept its body in the segment" || ok

# 2. the debtor report
"$ctl" audit debtor --dir "$dir/archive" --tenant acme --debtor dd --format csv >"$dir/dd.csv" 2>&1 || ko "debtor csv: $(cat "$dir/dd.csv")"
out=$($py - "$dir/dd.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
bad = []
def one(event, job, **want):
    rs = [r for r in rows if r["event"] == event and r["job"] == job]
    if len(rs) != 1:
        bad.append(f"{job} {event}: {len(rs)} rows"); return
    r = rs[0]
    if r["zone"] != "America/Santiago" or not r["local"].endswith(("-03:00", "-04:00")):
        bad.append(f"{job} {event}: local {r['local']} zone {r['zone']}")
    if r["contact"] in ("+5215570000050", "+5215570000099") or "*" not in r["contact"]:
        bad.append(f"{job} {event}: contact not masked: {r['contact']}")
    for k, v in want.items():
        if (v is True and not r[k]) or (v is not True and r[k] != v):
            bad.append(f"{job} {event}: {k} = {r[k]!r}, want {v!r}")
for j in ("j100", "j101"):
    one("ACCEPTED", j, template="aviso_mora_sms", counters=True)
    one("DISPATCHED", j)
    one("SENT", j, provider_id=True)
    one("DELIVERED", j)
one("DEFERRED", "j102", rule="au.daily", until=True, counters=True)
one("REJECTED", "j103", rule="suppressed.contact:operator", reason="suppressed")
print("; ".join(bad[:6]) if bad else f"{len(rows)} rows")
sys.exit(1 if bad else 0)
PY
) && ok || ko "debtor report: $out"
"$ctl" audit debtor --dir "$dir/archive" --tenant acme --debtor dd >"$dir/dd.txt" 2>&1 && grep -q "au.daily" "$dir/dd.txt" && ok || ko "debtor table: $(cat "$dir/dd.txt")"
"$ctl" audit debtor --dir "$dir/archive" --tenant acme --debtor dd --format json | $py -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if len(r) >= 10 and all("*" in x["contact"] for x in r if x["to"] != "CONTENT") else 1)' \
  && ok || ko "debtor json"
"$ctl" audit debtor --dir "$dir/archive" --tenant acme --debtor dd --format html --pub "$dir/audit.pub" >"$dir/dd.html" 2>&1
grep -q "Covered by seal s[0-9]*/[0-9-]* seq [0-9]* (sha256 [0-9a-f]*…, signature valid)" "$dir/dd.html" && grep -q "<td>au.daily</td>" "$dir/dd.html" && ok \
  || ko "debtor html: $(head -c 1500 "$dir/dd.html")"

# 3. export, stats, verify
"$ctl" audit export --dir "$dir/archive" --from 2000-01-01 --to 2100-01-01 --tenant acme --format csv >"$dir/all.csv" 2>/dev/null
n_json=$(grep -c '"tenant":"acme"' "$dir/all.jsonl"); n_csv=$(( $(wc -l <"$dir/all.csv") - 1 ))
[ "$n_csv" = "$n_json" ] && [ "$n_json" -gt 80 ] && ok || ko "export: $n_csv CSV rows, $n_json JSON lines of acme"
"$ctl" audit stats --dir "$dir/archive" >"$dir/stats.txt" 2>&1 && grep -q "deferral .*au.daily" "$dir/stats.txt" && grep -q "contact .*DISPATCHED" "$dir/stats.txt" && ok \
  || ko "stats: $(cat "$dir/stats.txt")"
"$ctl" audit verify --dir "$dir/archive" --pub "$dir/audit.pub" >"$dir/verify.out" 2>&1 && ok || ko "verify: $(cat "$dir/verify.out")"

echo "audit e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
