"""handshake.py ENDPOINT SOCKTYPE [KEY_FILE BROKER_PUB] — one ZeroMQ handshake with pregond.

Connects a DEALER (or a SUB for SOCKTYPE sub) with the CURVE keys of KEY_FILE (a pregonctl
NAME.key) against the broker's public key BROKER_PUB (or in plaintext without them) and prints
"ok" when the handshake succeeds, "denied" when it fails, "timeout" when nothing happens within
3 s, from the socket monitor's events (no message needs to be answered)."""
import sys

import yaml
import zmq
import zmq.utils.monitor as monitor


def key_of(path, field):
    with open(path) as f:
        return yaml.safe_load(f)[field].encode()


def main():
    endpoint, kind = sys.argv[1], sys.argv[2]
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.SUB if kind == "sub" else zmq.DEALER)
    if len(sys.argv) > 4:
        s.curve_publickey = key_of(sys.argv[3], "public")
        s.curve_secretkey = key_of(sys.argv[3], "secret")
        s.curve_serverkey = key_of(sys.argv[4], "public")
    mon = s.get_monitor_socket()
    s.connect(endpoint)
    poller = zmq.Poller()
    poller.register(mon, zmq.POLLIN)
    failed = (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
              zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    result = "timeout"
    while poller.poll(3000):
        event = monitor.recv_monitor_message(mon)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            result = "ok"
            break
        if event in failed:
            result = "denied"
            break
    s.disable_monitor()
    mon.close(0)
    s.close(0)
    print(result)


main()
