#!/usr/bin/python3
# check.py DIR N — the archive holds exactly N records, each once: prints "records unique".
import glob, json, sys
d, n = sys.argv[1], int(sys.argv[2])
recs, ids, jobs = 0, set(), set()
for p in glob.glob(d + "/s*/*.jsonl"):
    for l in open(p, "rb"):
        o = json.loads(l)
        if "kind" in o:
            continue
        recs += 1
        ids.add((o["sh"], o["id"]))
        jobs.add(o["job"])
print(recs, len(ids), len(jobs))
sys.exit(0 if recs == n == len(ids) == len(jobs) else 1)
