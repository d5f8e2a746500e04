#!/usr/bin/python3
"""hooks_client.py ENDPOINT PB_DIR — plays pregon-hooks' side of pregond's hooks socket.

Reads one request per line on stdin (JSON: an InboundEvent's fields, or {"raw": "hex"} for a
frame that is not a HooksToBroker, or {"heartbeat": true}) and prints pregond's answer as one
JSON line: {"seq", "result", "detail"} for an event, {"heartbeat": true} for a heartbeat,
{"none": true} when nothing came back within 3 s (a frame pregond must not answer)."""
import json, sys
sys.path.insert(0, sys.argv[2])
import zmq
import pregon_pb2 as pb

ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
seq = 0
for line in sys.stdin:
    req = json.loads(line)
    if "raw" in req:
        s.send(bytes.fromhex(req["raw"]))
    elif req.get("heartbeat"):
        m = pb.HooksToBroker()
        m.heartbeat.at_ms = 1
        s.send(m.SerializeToString())
    else:
        seq += 1
        m = pb.HooksToBroker()
        for k, v in req.items():
            if k == "kind":
                v = pb.InboundEvent.Kind.Value(v)
            elif k == "channel":
                v = pb.Channel.Value(v)
            setattr(m.event, k, v)
        if "seq" not in req:
            m.event.seq = seq
        s.send(m.SerializeToString())
    if s.poll(3000) == 0:
        print(json.dumps({"none": True}), flush=True)
        continue
    back = pb.BrokerToHooks()
    back.ParseFromString(s.recv())
    if back.WhichOneof("msg") == "heartbeat":
        print(json.dumps({"heartbeat": True}), flush=True)
    else:
        print(json.dumps({"seq": back.ack.seq, "result": back.ack.result,
                          "detail": back.ack.detail}), flush=True)
