#!/usr/bin/python3
"""events_sub.py ENDPOINT PB_DIR OUT — subscribes to pregond's events feed (every topic) and
appends each event to OUT as one JSON line: topic, type, tenant, job_id, detail, and for an
"inbound" event its InboundEvent (kind, channel, tenant, debtor_id, job_id, contact, text).
Reconnects by itself across pregond restarts (libzmq). Stops on SIGTERM."""
import json, signal, sys
sys.path.insert(0, sys.argv[2])
import zmq
import pregon_pb2 as pb

running = True
signal.signal(signal.SIGTERM, lambda *_: globals().__setitem__("running", False))
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
while running:
    if s.poll(100) == 0:
        continue
    frames = s.recv_multipart()
    ev = pb.Event()
    ev.ParseFromString(frames[-1])
    out = {"topic": frames[0].decode(errors="replace"), "type": ev.type, "tenant": ev.tenant,
           "job_id": ev.job_id, "detail": ev.detail}
    if ev.HasField("verdict"):
        out["verdict"] = pb.Verdict.Code.Name(ev.verdict.code)
    if ev.HasField("inbound"):
        i = ev.inbound
        out["inbound"] = {"kind": pb.InboundEvent.Kind.Name(i.kind),
                          "channel": pb.Channel.Name(i.channel), "tenant": i.tenant,
                          "debtor_id": i.debtor_id, "job_id": i.job_id, "contact": i.contact,
                          "text": i.text}
    with open(sys.argv[3], "a") as f:
        f.write(json.dumps(out) + "\n")
