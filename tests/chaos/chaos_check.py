#!/usr/bin/python3
"""chaos_check.py — the verdict on a chaos run: what the provider received against what pregon
acknowledged, recorded and audited.

Reads what chaos.sh collected in DIR: jobs.jsonl and debtors.json (the campaign), verdicts.jsonl
(every answer pregonctl got), requests.json (the sandbox's record: what the provider received,
each request naming its job in the text), audit.jsonl (`pregonctl redis audit`), kills.jsonl
(when each kill happened); and each job's hash from Redis (redis-cli --json, keys computed here
independently of st_keys.c, checked against one key pregonctl computed). Prints the figures and
writes them to DIR/figures.json. Exit 0 when every check holds, 1 otherwise. It checks:
  lost        a job answered ACCEPTED or DEFERRED (or DUPLICATE of such) that is missing, still
              queued/leased/in retry, or deferred past its instant, after the campaign drained;
  duplicated  a job the provider accepted (2xx) more than once;
  violations  contacts per debtor and local day above the policy's caps, or outside its windows,
              from the provider's arrival times on pregond's clock in the debtor's zone;
  audit       each job's records, in stream order, are a path of the state machine from "new" to
              the state its hash holds (no gap, no illegal step, attempts counted right); no
              provider request without a DISPATCHED record of its own; no job recorded sent that
              the provider never received;
  UNKNOWN     split into in flight at a worker kill (its request reached the provider in the
              1.5 s before a kill), report lost (reached the provider, no kill near it: the
              outcome was known but never recorded) and never started (never reached the
              provider; among those, jobs leased by a call Redis ran just before it was killed,
              whose answer never reached pregond). Never-started UNKNOWN fails the run only with
              --strict-unknown 1.
The state machine below mirrors README's table (store/pregon.lua is its implementation): this
checker is an independent reading, not a call of the code it checks.
"""
import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import zoneinfo

import yaml

# transition -> (states it may leave, state entered); DUPLICATE is an answer, not a transition
T = {
    "ACCEPTED": ({"new", "deferred"}, "queued"),
    "DEFERRED": ({"new", "deferred"}, "deferred"),
    "REJECTED": ({"new", "deferred", "queued"}, "rejected"),
    "EXPIRED": ({"new", "deferred"}, "expired"),
    "DISPATCHED": ({"queued"}, "dispatched"),
    "SENT": ({"dispatched"}, "sent"),
    "DELIVERED": ({"dispatched", "sent"}, "delivered"),
    "FAILED": ({"dispatched", "sent"}, "failed"),
    "RETRY": ({"dispatched"}, "retry"),
    "HANDED_BACK": ({"dispatched"}, "retry"),
    "SKIPPED": ({"dispatched"}, "deferred"),
    "UNKNOWN": ({"dispatched"}, "unknown"),
    "QUEUED": ({"retry"}, "queued"),
    "CANCELLED": ({"queued", "deferred", "retry"}, "cancelled"),
}
# outcomes about the attempt in progress: their record's attempt is the current one
ABOUT_ATTEMPT = {"SENT", "DELIVERED", "FAILED", "RETRY", "HANDED_BACK", "SKIPPED", "UNKNOWN"}
JOB_IN_TEXT = re.compile(r"\bj/(c[0-9]+)\b")
# A request that reached the provider this long before a worker kill was in flight at it: the
# sandbox answers within 80 ms (chaos.sh: --latency-ms 20 --jitter-ms 60), and a worker may take
# a while to read the answer and send its report. Only the split of the figures depends on it.
IN_FLIGHT_WINDOW_MS = 1500


def crc16(data):
    """CRC16/XMODEM, as Redis Cluster hashes keys (store/st_keys.c's shard of a debtor)."""
    crc = 0
    for c in data:
        crc ^= c << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def job_key(prefix, shards, tenant, debtor, job):
    # the campaign's ids are [a-z0-9]: nothing to escape
    return f"{prefix}:{{s{crc16(f'{tenant}:{debtor}'.encode()) % shards}}}:j:{tenant}:{debtor}:{job}"


def load_policy(path):
    """The windows (daily spans) and per-day caps of the chaos policy; other shapes refused."""
    p = yaml.safe_load(open(path))
    spans = []
    for w in p.get("windows", []):
        a, b = w["daily"].split("-")
        spans.append((a, b))
    caps = [c["limit"] for c in p.get("caps", []) if c["per"] == "day" and c["channels"] == "all"]
    if len(caps) != len(p.get("caps", [])) or set(p) - {"id", "name", "windows", "caps"}:
        sys.exit(f"chaos_check: {path}: only daily windows and per-day caps are understood")
    return spans, min(caps) if caps else None


def redis_json(sock, commands):
    """Runs commands through one pipelined redis-cli --json; one decoded reply each."""
    out = subprocess.run(["redis-cli", "-s", sock, "--json"], input="\n".join(commands) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    if len(out) != len(commands):
        sys.exit(f"chaos_check: redis-cli answered {len(out)} lines for {len(commands)} commands")
    return [json.loads(line) for line in out]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--offset", type=int, required=True, help="pregond's test.clock_offset_s")
    ap.add_argument("--policy", required=True)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--prefix", default="pg")
    ap.add_argument("--seconds", type=int, default=0, help="wall time of the run, for the figures")
    ap.add_argument("--strict-unknown", type=int, default=0)
    a = ap.parse_args()
    d = a.dir
    path = lambda name: os.path.join(d, name)
    problems = collections.defaultdict(list)  # check -> examples

    jobs = {j["job_id"]: j for j in map(json.loads, open(path("jobs.jsonl")))}
    debtors = json.load(open(path("debtors.json")))
    plan = json.load(open(path("plan.json")))
    kills = [json.loads(line) for line in open(path("kills.jsonl"))]
    worker_kills = sorted(k["at_ms"] for k in kills if k["kind"] == "worker")
    redis_kills = sorted(k["at_ms"] for k in kills if k["kind"] == "redis")

    # --- verdicts: acknowledged = ever answered ACCEPTED/DEFERRED, or DUPLICATE of one of those
    verdicts = collections.defaultdict(list)
    for v in map(json.loads, open(path("verdicts.jsonl"))):
        verdicts[v["job_id"]].append(v)
    acked, answers = set(), collections.Counter()
    for jid in jobs:
        vs = verdicts.get(jid, [])
        for v in vs:
            answers[v["verdict"]] += 1
        if any(v["verdict"] in ("ACCEPTED", "DEFERRED") or
               (v["verdict"] == "DUPLICATE" and v.get("first") in ("ACCEPTED", "DEFERRED"))
               for v in vs):
            acked.add(jid)
        elif not any(v["verdict"] in ("REJECTED", "EXPIRED", "DUPLICATE") for v in vs):
            problems["unanswered"].append(jid)

    # --- the provider's record
    requests = json.load(open(path("requests.json")))
    reqs = collections.defaultdict(list)
    foreign = 0
    for r in requests:
        m = JOB_IN_TEXT.search(r.get("body") or "")
        if m and m.group(1) in jobs:
            reqs[m.group(1)].append(r)
        else:
            foreign += 1
    accepted_by_provider = {j: [r for r in rs if 200 <= r["status"] < 300] for j, rs in reqs.items()}
    duplicated = sorted(j for j, rs in accepted_by_provider.items() if len(rs) > 1)
    for j in duplicated:
        problems["duplicated"].append(f"{j}: {len(accepted_by_provider[j])} accepted requests")

    # --- job hashes
    probe = os.environ.get("CHAOS_KEY_PROBE", "").split()
    if len(probe) == 4 and job_key(a.prefix, a.shards, *probe[:3]) != probe[3]:
        sys.exit(f"chaos_check: key layout differs from pregonctl's: {probe[3]} vs "
                 f"{job_key(a.prefix, a.shards, *probe[:3])}")
    ids = sorted(jobs)
    hashes = redis_json(os.path.join(d, "redis.sock"),
                        [f"HMGET {job_key(a.prefix, a.shards, jobs[j]['tenant'], jobs[j]['debtor_id'], j)} s att u"
                         for j in ids])
    state = {j: {"s": h[0], "att": h[1], "u": h[2]} for j, h in zip(ids, hashes)}

    # --- audit: each job's records in stream order (one job, one shard)
    audit = collections.defaultdict(list)
    for r in map(json.loads, open(path("audit.jsonl"))):
        if r.get("job") in jobs and r.get("tenant") == jobs[r["job"]]["tenant"]:
            ms, seq = r["id"].split("-")
            audit[r["job"]].append((int(r["shard"]), int(ms), int(seq), r))
    dispatched = collections.Counter()
    for jid in ids:
        recs = [x[3] for x in sorted(audit.get(jid, []), key=lambda x: x[:3])]
        cur, att = "new", 0
        for r in recs:
            frm, to = r["from"], r["to"]
            if frm == "inbound" or to == "CONTENT":  # what the debtor did; what was said
                continue
            if to in ("DUPLICATE", "FALLBACK"):  # answers and links, not transitions
                if frm != cur:
                    problems["audit"].append(f"{jid}: {to} from {frm}, job was {cur}")
                continue
            if frm != cur:
                problems["audit"].append(f"{jid}: {frm} -> {to}, but the last record left it {cur}")
            if to not in T or frm not in T[to][0]:
                problems["audit"].append(f"{jid}: illegal {frm} -> {to}")
            n = int(r.get("attempt") or 0)
            if to == "DISPATCHED":
                if n != att + 1:
                    problems["audit"].append(f"{jid}: DISPATCHED attempt {n} after attempt {att}")
                att = n
                dispatched[jid] += 1
            elif to in ABOUT_ATTEMPT and n != att:
                problems["audit"].append(f"{jid}: {to} about attempt {n}, current {att}")
            if to in ("HANDED_BACK", "SKIPPED"):
                att -= 1
            cur = T[to][1] if to in T else cur
        s = state[jid]["s"]
        if s is None and cur != "new":
            problems["audit"].append(f"{jid}: audited to {cur}, but its hash is gone")
        elif s is not None and s != cur:
            problems["audit"].append(f"{jid}: hash says {s}, its audit records end at {cur}")
        if len(reqs.get(jid, [])) > dispatched[jid]:
            problems["audit"].append(f"{jid}: {len(reqs[jid])} provider requests, "
                                     f"{dispatched[jid]} DISPATCHED records")
        if s in ("sent", "delivered") and not accepted_by_provider.get(jid):
            problems["phantom"].append(f"{jid}: {s}, never accepted by the provider")

    # --- lost, and where every acknowledged job ended
    now_s = int(datetime.datetime.now().timestamp()) + a.offset
    ends = collections.Counter()
    unknown = {"in_flight_at_kill": [], "report_lost": [], "never_started": []}
    for jid in sorted(acked):
        s = state[jid]["s"]
        if s is None:
            problems["lost"].append(f"{jid}: acknowledged, no longer in Redis")
            ends["missing"] += 1
            continue
        ends[s] += 1
        if s in ("queued", "dispatched", "retry"):
            problems["lost"].append(f"{jid}: still {s} after the campaign drained")
        elif s == "deferred" and int(state[jid]["u"] or 0) <= now_s - 5:
            problems["lost"].append(f"{jid}: deferred until {state[jid]['u']}, not released by {now_s}")
        elif s == "unknown":
            rs = reqs.get(jid, [])
            if not rs:
                unknown["never_started"].append(jid)
            else:
                last = max(r["arrival_ms"] for r in rs)
                near = any(last <= k <= last + IN_FLIGHT_WINDOW_MS for k in worker_kills)
                unknown["in_flight_at_kill" if near else "report_lost"].append(jid)
    # a never-started job leased by a pg_lease call that ran just before a Redis kill: the lease
    # is in Redis, its answer never reached pregond, no worker ever had the job
    lease_cut = []
    for jid in unknown["never_started"]:
        recs = [x for x in audit.get(jid, []) if x[3]["to"] == "DISPATCHED"]
        last_ms = max(x[1] for x in recs) if recs else 0  # the stream id: Redis's clock
        if any(k - 1000 <= last_ms <= k + 100 for k in redis_kills):
            lease_cut.append(jid)
        if a.strict_unknown:
            problems["never_started_unknown"].append(f"{jid}: UNKNOWN, never reached the provider")

    # --- caps and windows, per debtor, in the debtor's local time on pregond's clock
    spans, cap = load_policy(a.policy)
    per_day = collections.Counter()
    window_bad = []
    for jid, rs in accepted_by_provider.items():
        deb = jobs[jid]["debtor_id"]
        zone = zoneinfo.ZoneInfo(debtors[deb]["zone"])
        for r in rs:
            t = datetime.datetime.fromtimestamp(r["arrival_ms"] / 1000 + a.offset, zone)
            per_day[(deb, t.date())] += 1
            hm = t.strftime("%H:%M")
            if spans and not any(lo <= hm < hi for lo, hi in spans):
                window_bad.append(f"{jid}: sent at {t.isoformat()} ({debtors[deb]['zone']})")
    over = sorted(k for k, n in per_day.items() if cap is not None and n > cap)
    for deb, day in over:
        problems["cap"].append(f"debtor {deb}: {per_day[(deb, day)]} contacts on {day}, cap {cap}")
    problems["window"].extend(window_bad)

    figures = {
        "seed": plan["seed"], "jobs": len(jobs), "debtors": len(debtors),
        "acknowledged": len(acked), "answers": dict(answers),
        "kills": dict(collections.Counter(k["kind"] for k in kills)),
        "provider_requests": len(requests), "provider_accepted": sum(len(v) for v in accepted_by_provider.values()),
        "foreign_requests": foreign,
        "ends": dict(ends), "lost": len(problems["lost"]), "duplicated": len(duplicated),
        "cap_violations": len(over), "window_violations": len(window_bad),
        "audit_problems": len(problems["audit"]), "phantom_sends": len(problems["phantom"]),
        "unknown": {k: len(v) for k, v in unknown.items()},
        "never_started_lease_answer_lost_at_redis_kill": len(lease_cut), "wall_s": a.seconds,
    }
    with open(path("figures.json"), "w") as f:
        json.dump({"figures": figures, "unknown_jobs": unknown,
                   "problems": {k: v for k, v in problems.items()}}, f, indent=1)
    u = figures["unknown"]
    print(f"chaos: {figures['jobs']} jobs ({figures['acknowledged']} acknowledged), kills "
          + ", ".join(f"{k} {n}" for k, n in sorted(figures["kills"].items()))
          + f"; provider requests {figures['provider_requests']}, accepted {figures['provider_accepted']}")
    print("chaos: ended " + ", ".join(f"{k} {n}" for k, n in sorted(ends.items())))
    print(f"chaos: lost {figures['lost']}, duplicated {figures['duplicated']}, cap violations "
          f"{figures['cap_violations']}, window violations {figures['window_violations']}, "
          f"audit problems {figures['audit_problems']}, phantom sends {figures['phantom_sends']}")
    print(f"chaos: UNKNOWN {sum(u.values())}: in flight at a kill {u['in_flight_at_kill']}, "
          f"reached the provider but report lost {u['report_lost']}, never started "
          f"{u['never_started']} (of which {len(lease_cut)} leased as Redis was killed: the lease "
          f"answer lost)" + ("" if a.strict_unknown else " (not failing: CHAOS_STRICT_UNKNOWN=1 makes it)"))
    print("chaos: figures " + json.dumps(figures, separators=(",", ":")))
    bad = {k: v for k, v in problems.items() if v}
    for k, v in sorted(bad.items()):
        print(f"FAIL: {k}: {len(v)}, e.g. " + "; ".join(v[:5]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
