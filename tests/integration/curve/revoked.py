"""revoked.py ENDPOINT KEY_FILE BROKER_PUB GO_FILE — a peer whose key is revoked while connected.

Connects a DEALER to pregond's hooks socket with the CURVE key of KEY_FILE, sends a heartbeat
and expects pregond's answer ("answered"); then waits until GO_FILE exists (the test writes it
once pregond has reloaded its keys without this one), sends another heartbeat on the same
connection and expects silence ("refused"). Needs pregon_pb2 on PYTHONPATH."""
import os
import sys
import time

import yaml
import zmq

import pregon_pb2 as pb


def key_of(path, field):
    with open(path) as f:
        return yaml.safe_load(f)[field].encode()


def heartbeat(s, timeout_ms):
    msg = pb.HooksToBroker()
    msg.heartbeat.at_ms = int(time.time() * 1000)
    s.send(msg.SerializeToString())
    if not s.poll(timeout_ms):
        return False
    pb.BrokerToHooks().ParseFromString(s.recv())
    return True


def main():
    endpoint, key, broker, go = sys.argv[1:5]
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.curve_publickey, s.curve_secretkey = key_of(key, "public"), key_of(key, "secret")
    s.curve_serverkey = key_of(broker, "public")
    s.connect(endpoint)
    print("answered" if heartbeat(s, 5000) else "unanswered", flush=True)
    end = time.monotonic() + 10
    while not os.path.exists(go) and time.monotonic() < end:  # the test's signal, bounded
        time.sleep(0.05)
    print("refused" if not heartbeat(s, 1000) else "answered after revocation", flush=True)


main()
