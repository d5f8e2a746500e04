#!/usr/bin/python3
# gen_segments.py DIR N SHARDS DEBTORS — writes N synthetic audit records (schema v2, chained
# like pregon-audit's: seq, prev = SHA-256 of the line before) into DIR/sS/YYYY-MM-DD.jsonl,
# spread over SHARDS shards and 30 days, DEBTORS debtors: for bench_audit.sh's debtor query
# over 10M records, which would take too long to push through Redis. No seals: verify is not
# what this measures.
import hashlib, json, os, sys, time
d, n, shards, debtors = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
days = 30
day_ms = 86400000
t0 = (int(time.time() * 1000) // day_ms - days) * day_ms
kinds = ["ACCEPTED", "DISPATCHED", "SENT", "DELIVERED", "DEFERRED", "REJECTED"]
per = n // (shards * days) + 1
for s in range(shards):
    os.makedirs(f"{d}/s{s}", exist_ok=True)
    prev, seq, i = "0" * 64, 0, s
    for day in range(days):
        name = time.strftime("%Y-%m-%d", time.gmtime((t0 + day * day_ms) // 1000))
        with open(f"{d}/s{s}/{name}.jsonl", "w") as f:
            for k in range(per):
                if i >= n:
                    break
                seq += 1
                at = t0 + day * day_ms + k * (day_ms // per)
                kind = kinds[i % 6]
                rec = {"seq": seq, "prev": prev, "sh": s, "id": f"{at}-{k}", "v": "2", "at": str(at),
                       "job": f"j{i}", "tenant": "acme", "debtor": f"d{i % debtors}", "channel": "sms",
                       "from": "new", "to": kind, "attempt": "1", "debt": "L1", "campaign": f"c{day}",
                       "contact": f"+52155{i % debtors:08d}", "rule": "cl.daily" if kind == "DEFERRED" else "",
                       "reason": "", "until": "", "pid": "", "pcode": "", "local": "2026-12-03T10:00:00-03:00",
                       "zone": "America/Santiago", "counters": "1 of 2 in day", "detail": "",
                       "template": "aviso_mora_sms", "jurisdiction": "CL"}
                line = json.dumps(rec, separators=(",", ":"))
                f.write(line + "\n")
                prev = hashlib.sha256(line.encode()).hexdigest()
                i += shards
