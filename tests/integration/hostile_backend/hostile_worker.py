#!/usr/bin/python3
"""hostile_worker.py MODE ENDPOINT PB_DIR ARGS... — hostile peers on pregond's backend socket
(issue 9's probes). Every mode is bounded in time and prints one JSON line when it is done.

  guess KEYS_FILE SECONDS OUTCOMES
      One peer (worker id "evil-guess", on sms, credit 0) reports, for every job key in
      KEYS_FILE, lease ids it guesses: "1/KEY" and "2/KEY" (the old predictable form),
      "1.NONCE/KEY" with a random and an all-zero nonce, cycling through OUTCOMES
      (comma-separated DeliveryReport outcome names), every 50 ms for SECONDS.
      Prints {"sent": N, "acked": M}.
  hold CREDIT SECONDS LEASES_FILE
      Peer A ("evil-holder") announces CREDIT and takes what it is dispatched, for up to SECONDS
      or until CREDIT leases came; it never reports. Then peer B ("evil-other", another
      connection, same plaintext identity) reports each of A's leases with RETRY, HANDED_BACK,
      SKIPPED, CONFIG_ERROR and DELIVERED. Writes "lease_id job_id contact" lines to LEASES_FILE.
      Prints {"leases": N, "reported": R, "acked": M}.
  greedy CREDIT SECONDS
      A peer ("evil-greedy") announces CREDIT (10^9 in the probe), then asks for CREDIT more
      (Credit) every 100 ms, heartbeats, takes every dispatch and never reports.
      Prints {"dispatched": N}.
  flood N SECONDS
      N peers ("flood-I", one connection each) announce themselves on sms with credit 0,
      heartbeat every 100 ms and announce themselves again every second, for SECONDS. Prints {"peers": N, "dispatched": D, "halts": H}.
"""
import json, os, sys, time
sys.path.insert(0, sys.argv[3])
import zmq
import pregon_pb2 as pb

mode, endpoint = sys.argv[1], sys.argv[2]
args = sys.argv[4:]
ctx = zmq.Context()
R = pb.DeliveryReport


def key_of(path, field):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)[field].encode()


def peer(worker_id, credit=None, key_file=None):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    key_file = key_file or os.environ.get("HOSTILE_KEY_FILE")
    if key_file:
        s.curve_publickey = key_of(key_file, "public")
        s.curve_secretkey = key_of(key_file, "secret")
        s.curve_serverkey = key_of(os.environ["HOSTILE_BROKER_PUB"], "public")
    s.setsockopt(zmq.ROUTING_ID, worker_id.encode())
    s.connect(endpoint)
    if credit is not None:
        m = pb.WorkerToBroker()
        m.ready.channel = pb.SMS
        m.ready.worker_id = worker_id
        m.ready.credit = credit
        m.ready.heartbeat_ms = 100
        m.ready.incarnation = os.urandom(8).hex()
        s.send(m.SerializeToString())
    return s


def heartbeat(s):
    m = pb.WorkerToBroker()
    m.heartbeat.at_ms = int(time.time() * 1000)
    s.send(m.SerializeToString())


def report(s, lease, outcome, seq):
    m = pb.WorkerToBroker()
    r = m.report
    r.lease_id = lease
    r.outcome = R.Outcome.Value(outcome)
    r.channel = pb.SMS
    r.detail = "forged"
    r.provider_id = "SMforged%d" % seq
    r.retry_at_ms = int(time.time() * 1000)
    r.seq = seq
    s.send(m.SerializeToString())


def drain(s, counts, timeout_ms=0):
    """Reads what the broker sent; counts acks, dispatches, halts; returns the dispatches."""
    got = []
    while s.poll(timeout_ms):
        b = pb.BrokerToWorker()
        b.ParseFromString(s.recv())
        kind = b.WhichOneof("msg")
        counts[kind] = counts.get(kind, 0) + (len(b.report_ack.seqs) if kind == "report_ack" else 1)
        if kind == "dispatch":
            got.append(b.dispatch)
        timeout_ms = 0
    return got


if mode == "guess":
    keys = [k.strip() for k in open(args[0]) if k.strip()]
    end = time.time() + float(args[1])
    outcomes = args[2].split(",")
    s = peer("evil-guess", 0)
    counts, seq, i = {}, 0, 0
    while time.time() < end:
        for k in keys:
            for lease in ("1/" + k, "2/" + k, "1.%s/%s" % (os.urandom(8).hex(), k),
                          "1.%s/%s" % ("0" * 16, k)):
                seq += 1
                report(s, lease, outcomes[i % len(outcomes)], seq)
                i += 1
        heartbeat(s)
        drain(s, counts, 50)
    drain(s, counts, 500)
    print(json.dumps({"sent": seq, "acked": counts.get("report_ack", 0)}), flush=True)

elif mode == "hold":
    credit, seconds, out = int(args[0]), float(args[1]), args[2]
    a = peer("evil-holder", credit)
    counts, leases = {}, []
    end = time.time() + seconds
    while time.time() < end and len(leases) < credit:
        leases += drain(a, counts, 100)
        heartbeat(a)
    with open(out, "w") as f:
        for d in leases:
            f.write("%s %s %s\n" % (d.lease_id, d.job.job_id, d.job.contact))
    b = peer(os.environ.get("HOSTILE_OTHER_ID", "evil-other"), 0,
             os.environ.get("HOSTILE_OTHER_KEY_FILE"))
    bc, seq = {}, 0
    for d in leases:
        for outcome in ("RETRY", "HANDED_BACK", "SKIPPED", "CONFIG_ERROR", "DELIVERED"):
            seq += 1
            report(b, d.lease_id, outcome, seq)
    end = time.time() + 3
    while time.time() < end and bc.get("report_ack", 0) < seq:
        heartbeat(a)
        heartbeat(b)
        drain(b, bc, 100)
        drain(a, counts, 0)
    print(json.dumps({"leases": len(leases), "reported": seq, "acked": bc.get("report_ack", 0)}),
          flush=True)

elif mode == "greedy":
    s = peer("evil-greedy", int(args[0]))
    counts, n = {}, 0
    end = time.time() + float(args[1])
    more = pb.WorkerToBroker()
    more.credit.credit = int(args[0])
    while time.time() < end:
        n += len(drain(s, counts, 100))
        heartbeat(s)
        s.send(more.SerializeToString())
    print(json.dumps({"dispatched": n, "halts": counts.get("halt", 0)}), flush=True)

elif mode == "flood":
    n, seconds = int(args[0]), float(args[1])
    socks = [peer("flood-%d" % i, 0) for i in range(n)]
    counts = {}
    end = time.time() + seconds
    again = pb.WorkerToBroker()
    again.ready.channel = pb.SMS
    again.ready.credit = 0
    turn = 0
    while time.time() < end:
        turn += 1
        for i, s in enumerate(socks):
            if turn % 10 == 0:  # once a second: a peer that lost its entry asks again
                again.ready.worker_id = "flood-%d" % i
                s.send(again.SerializeToString())
            heartbeat(s)
            drain(s, counts, 0)
        time.sleep(0.1)  # the heartbeat interval: a pace, not a synchronization
    print(json.dumps({"peers": n, "dispatched": counts.get("dispatch", 0),
                      "halts": counts.get("halt", 0)}), flush=True)
else:
    sys.exit("unknown mode " + mode)
