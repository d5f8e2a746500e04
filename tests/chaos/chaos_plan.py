#!/usr/bin/python3
"""chaos_plan.py — the chaos campaign and its kill schedule, drawn from one seed.

Writes into OUT: jobs.jsonl (the campaign, in submission order, for `pregonctl submit`),
debtors.json (each debtor's zone and contact point, for the checker) and plan.json (the kills:
which process, after how many provider requests, and how long it stays down). The same seed and
sizes always give the same files, so CHAOS_SEED=N replays a campaign and its kill points (the
exact instant of a kill still depends on the machine's speed). This file decides nothing about
what is legal: the policy (policies/CHAOS.yaml) and pregond do, and chaos_check.py verifies.

Usage: chaos_plan.py --seed N --jobs N --kills N --start EPOCH --out DIR
  --start is pregond's clock (offset) at the start, so the plan knows which zones are open.
"""
import argparse
import datetime
import json
import os
import random
import zoneinfo

# Debtor zones and their weights. With pregond's clock at 06:59:4x UTC (chaos.sh sets the offset):
# Tokyo, Kolkata, Madrid are open now; UTC opens seconds later (its jobs are deferred, then
# released at 07:00 while processes are being killed); Bogota stays closed for hours (its jobs
# must still be deferred at the end, never sent).
ZONES = [("Asia/Tokyo", 25), ("Asia/Kolkata", 15), ("Europe/Madrid", 20), ("UTC", 30),
         ("America/Bogota", 10)]
JOBS_PER_DEBTOR = [(1, 25), (2, 25), (3, 30), (4, 20)]  # caps allow 2 a day: 3 and 4 defer
KINDS = ["pregond", "worker", "redis"]
TEMPLATE_VARS = {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100",
                 "telefono": "800"}


def weighted(rng, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def opens_within(zone, start, seconds):
    """True when 07:00-22:00 local is open at some instant in [start, start + seconds]."""
    for t in (start, start + seconds):
        h = datetime.datetime.fromtimestamp(t, zoneinfo.ZoneInfo(zone)).hour
        if 7 <= h < 22:
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--jobs", type=int, required=True)
    ap.add_argument("--kills", type=int, required=True)
    ap.add_argument("--start", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    debtors, jobs = {}, []
    d = 0
    while len(jobs) < a.jobs:
        name = f"d{d:06d}"
        zone = weighted(rng, ZONES)
        debtors[name] = {"zone": zone, "contact": f"+57300{d:07d}"}
        for k in range(min(weighted(rng, JOBS_PER_DEBTOR), a.jobs - len(jobs))):
            jid = f"c{len(jobs):06d}"
            jobs.append({"job_id": jid, "tenant": "chaos", "campaign": "chaos", "debtor_id": name,
                         "debt_id": "L1", "channel": "sms", "contact": debtors[name]["contact"],
                         "template_id": "aviso_mora_sms", "jurisdiction": "CHAOS",
                         "time_zone": zone,
                         # the job id travels in the text: the sandbox's record names the job
                         "variables": dict(TEMPLATE_VARS, enlace=f"j/{jid}")})
        d += 1
    rng.shuffle(jobs)  # a debtor's jobs are spread over the whole submission, and over the kills

    # what a run without faults sends: 2 a day per debtor in a zone open during the run
    per_debtor = {}
    for j in jobs:
        per_debtor[j["debtor_id"]] = per_debtor.get(j["debtor_id"], 0) + 1
    expected = sum(min(n, 2) for name, n in per_debtor.items()
                   if opens_within(debtors[name]["zone"], a.start, 60))

    kinds = KINDS[:]
    rng.shuffle(kinds)
    kinds = (kinds * (a.kills // 3 + 1))[:min(a.kills, 3)]
    kinds += [rng.choice(KINDS) for _ in range(a.kills - len(kinds))]
    points = sorted(rng.uniform(0.03, 0.80) for _ in range(a.kills))
    kills = [{"kind": k, "at_requests": max(1, int(p * expected)),
              "jitter_ms": rng.randrange(0, 250), "down_ms": rng.randrange(0, 1500)}
             for k, p in zip(kinds, points)]

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "jobs.jsonl"), "w") as f:
        for j in jobs:
            f.write(json.dumps(j, separators=(",", ":")) + "\n")
    with open(os.path.join(a.out, "debtors.json"), "w") as f:
        json.dump(debtors, f)
    with open(os.path.join(a.out, "plan.json"), "w") as f:
        json.dump({"seed": a.seed, "jobs": len(jobs), "debtors": len(debtors),
                   "expected_sends": expected, "kills": kills}, f, indent=1)


if __name__ == "__main__":
    main()
