#!/usr/bin/python3
"""fake_worker.py ENDPOINT PB_DIR CHANNEL OUT SCRIPT — a channel worker on pregond's backend socket.

Plays the worker side of the real protocol (WorkerReady, credit, heartbeats, Dispatch,
DeliveryReport) for a channel whose real worker is not needed by the test (WhatsApp, Messenger).
Every Dispatch it gets is appended to OUT as one JSON line (job, contact, attempt, lease,
window_until_ms, content kind). SCRIPT (a JSON file, read again before each job) maps a contact
point ("CHANNEL:CONTACT" first, then "CONTACT") to the reports to send, e.g. {"+573001": {"outcome": "FAILED", "code": "131026",
"fallback_eligible": true, "suppress_contact": false, "repeat": 2}}; a contact not named gets
one SENT report with provider id "wamid.JOB". "repeat" sends the same report (same seq) that
many times: a report the broker must apply once. Sends its WorkerReady again when the broker
has said nothing for a second (pregond restarted by the test). Stops on SIGTERM."""
import json, os, random, signal, sys, time
sys.path.insert(0, sys.argv[2])
import zmq
import pregon_pb2 as pb

endpoint, _, channel, out_path, script_path = sys.argv[1:6]
ch = pb.Channel.Value(channel)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(endpoint)
running = True
signal.signal(signal.SIGTERM, lambda *_: globals().__setitem__("running", False))


def send(msg):
    s.send(msg.SerializeToString())


ready = pb.WorkerToBroker()
ready.ready.channel = ch
ready.ready.worker_id = "fake-" + channel.lower()
ready.ready.credit = 16
ready.ready.heartbeat_ms = 200
ready.ready.incarnation = "%016x" % random.getrandbits(64)
send(ready)
seq = int(time.time() * 1e6)
last_hb = 0
heard = time.time()
while running:
    now = time.time()
    if now - heard > 1.0:  # a broker that says nothing is a new one (restarted): join it
        send(ready)
        heard = now
    if now - last_hb > 0.2:
        hb = pb.WorkerToBroker()
        hb.heartbeat.at_ms = int(now * 1000)
        send(hb)
        last_hb = now
    if s.poll(100) == 0:
        continue
    m = pb.BrokerToWorker()
    m.ParseFromString(s.recv())
    heard = time.time()
    kind = m.WhichOneof("msg")
    if kind != "dispatch":
        continue
    d = m.dispatch
    with open(out_path, "a") as f:
        f.write(json.dumps({"job": d.job.job_id, "tenant": d.job.tenant, "contact": d.job.contact,
                            "attempt": d.attempt, "lease": d.lease_id,
                            "window_until_ms": d.window_until_ms,
                            "fallback_of": d.job.fallback_of,
                            "content": d.content.WhichOneof("body")}) + "\n")
    try:
        with open(script_path) as f:
            script = json.load(f)
    except (OSError, ValueError):
        script = {}
    plan = script.get(channel + ":" + d.job.contact, script.get(d.job.contact, {}))
    seq += 1
    r = pb.WorkerToBroker()
    r.report.job_id = d.job.job_id
    r.report.tenant = d.job.tenant
    r.report.lease_id = d.lease_id
    r.report.outcome = pb.DeliveryReport.Outcome.Value(plan.get("outcome", "SENT"))
    r.report.provider_id = "wamid." + d.job.job_id
    r.report.provider_code = plan.get("code", "")
    r.report.detail = plan.get("detail", "")
    r.report.at_ms = int(time.time() * 1000)
    r.report.channel = ch
    r.report.seq = seq
    r.report.fallback_eligible = bool(plan.get("fallback_eligible", False))
    r.report.suppress_contact = bool(plan.get("suppress_contact", False))
    for _ in range(int(plan.get("repeat", 1))):
        send(r)
    c = pb.WorkerToBroker()
    c.credit.credit = 1
    send(c)
bye = pb.WorkerToBroker()
bye.leaving.reason = "test over"
bye.leaving.done = True
send(bye)
# LINGER 0 (set above, so that a broker gone never holds the exit) drops what libzmq's I/O
# thread has not written yet when the socket closes: the Leaving sent just before exiting was
# lost now and then under load (100 such exits: 0 to 8 last messages lost), pregond never
# logged "left" and window.sh failed. The last message gets up to 2 s to go.
s.close(linger=2000)
ctx.term()
