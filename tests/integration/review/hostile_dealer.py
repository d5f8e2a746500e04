#!/usr/bin/python3
"""hostile_dealer.py ENDPOINT PB_DIR — a hostile peer on pregond's hooks socket. Reads one
request per line (JSON) and prints pregond's answer, one JSON line each:
  {"event": {...fields...}}     an InboundEvent (kind/channel as numbers or names; seq given or 1)
  {"frames": ["hex", ...]}      raw frames of one multi-frame message
  {"flood": N, "size": BYTES}   N delivery statuses for distinct unknown ids, each with a text of
                                BYTES; answers {"results": {result: count}}
{"none": true} when nothing came back within 2 s."""
import json, sys
sys.path.insert(0, sys.argv[2])
import zmq
import pregon_pb2 as pb

s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])


def event(fields, seq=1):
    m = pb.HooksToBroker()
    for k, v in fields.items():
        if k == "kind" and isinstance(v, str):
            v = pb.InboundEvent.Kind.Value(v)
        elif k == "channel" and isinstance(v, str):
            v = pb.Channel.Value(v)
        setattr(m.event, k, v)
    if "seq" not in fields:
        m.event.seq = seq
    return m.SerializeToString()


def answer(timeout=2000):
    if s.poll(timeout) == 0:
        return {"none": True}
    b = pb.BrokerToHooks()
    b.ParseFromString(s.recv())
    return {"seq": b.ack.seq, "result": b.ack.result, "detail": b.ack.detail}


for line in sys.stdin:
    req = json.loads(line)
    if "frames" in req:
        fr = [bytes.fromhex(h) for h in req["frames"]]
        s.send_multipart(fr)
        print(json.dumps(answer()), flush=True)
    elif "flood" in req:
        n, size, counts = req["flood"], req["size"], {}
        for b in range(0, n, 100):  # 100 at a time, each batch answered before the next
            for i in range(b, min(n, b + 100)):
                s.send(event({"kind": "DELIVERY_STATUS", "channel": "SMS", "provider": "x",
                              "provider_id": "SMflood%d" % i, "status": "delivered",
                              "event_id": "SMflood%d:delivered" % i, "text": "t" * size}, i + 1))
            for i in range(b, min(n, b + 100)):
                r = answer(5000).get("result", "none")
                counts[r] = counts.get(r, 0) + 1
        print(json.dumps({"results": counts}), flush=True)
    else:
        s.send(event(req["event"]))
        print(json.dumps(answer()), flush=True)
