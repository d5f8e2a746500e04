#!/usr/bin/python3
# gen.py N SHARDS OUT [OLD] — N audit records of schema v2 spread over SHARDS shards, as
# redis-cli --pipe input (RESP XADD commands) in OUT. OLD > 0: shard 0's first OLD records get
# explicit stream ids two and one days ago (jurisdiction TEST), so shard 0 has closed segments.
import sys, time
n, shards, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
old = int(sys.argv[4]) if len(sys.argv) > 4 else 0
now = int(time.time() * 1000)
day = 86400000
kinds = ["ACCEPTED", "DEFERRED", "REJECTED", "DISPATCHED", "SENT", "DELIVERED"]
def resp(args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
with open(out, "wb") as f:
    for i in range(n):
        s = i % shards
        rid = "*"
        at = now
        jur = "CL"
        if s == 0 and i // shards < old:
            k = i // shards
            base = (now // day - 2 + (1 if k >= old // 2 else 0)) * day + 3600000
            at = base + k
            rid = "%d-0" % at
            jur = "TEST"
        kind = kinds[i % len(kinds)]
        f.write(resp(["XADD", "pg:{s%d}:audit" % s, rid, "v", "2", "at", str(at), "job", "j%d" % i,
            "tenant", "acme", "debtor", "d%d" % (i % 5000), "channel", "sms", "from", "new",
            "to", kind, "attempt", "0", "debt", "L1", "campaign", "c1",
            "contact", "+5215550%06d" % (i % 5000), "rule", "cl.hours" if kind == "DEFERRED" else "",
            "reason", "", "until", "", "pid", "", "pcode", "", "local", "2026-12-03T10:00:00-03:00",
            "zone", "America/Santiago", "counters", "1 of 2 in 1d", "detail", "",
            "template", "aviso_mora_sms", "jurisdiction", jur]))
