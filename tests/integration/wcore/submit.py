#!/usr/bin/python3
"""submit.py ENDPOINT PB_DIR — submits jobs to pregond's frontend (a DEALER, real ZeroMQ).

Reads one job per line on stdin (JSON: SendRequest fields by name; "channel" and
"fallback_channels" by enum name, "variables" and "fallback_contacts" as objects), sends them as
one SubmitBatch and prints one JSON line per verdict: {"job_id", "code", "until", "reason",
"rule", "first"} (code names). Used where pregonctl submit has no flag for a field (the fallback
fields)."""
import json, sys
sys.path.insert(0, sys.argv[2])
import zmq
import pregon_pb2 as pb

b = pb.SubmitBatch()
b.batch_id = "wcore"
for line in sys.stdin:
    if not line.strip():
        continue
    j = json.loads(line)
    r = b.jobs.add()
    for k, v in j.items():
        if k == "channel":
            r.channel = pb.Channel.Value(v)
        elif k == "fallback_channels":
            r.fallback_channels.extend(pb.Channel.Value(c) for c in v)
        elif k in ("variables", "fallback_contacts", "fallback_templates"):
            getattr(r, k).update(v)
        else:
            setattr(r, k, v)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
s.send(b.SerializeToString())
if s.poll(10000) == 0:
    sys.exit("no reply from pregond")
rep = pb.SubmitReply()
rep.ParseFromString(s.recv_multipart()[-1])
if rep.error:
    sys.exit("batch refused: %s %s" % (rep.error, rep.error_detail))
for v in rep.verdicts:
    print(json.dumps({"job_id": v.job_id, "code": pb.Verdict.Code.Name(v.code), "until": v.until,
                      "reason": v.reason, "rule": v.rule,
                      "first": pb.Verdict.Code.Name(v.first)}), flush=True)
