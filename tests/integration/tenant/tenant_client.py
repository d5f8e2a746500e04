#!/usr/bin/python3
"""tenant_client.py PB_DIR COMMAND ... — a client of pregond's frontend and events feed, with
or without a CURVE client key, for the tenant binding test.

  sub ENDPOINT OUT PREFIX...     subscribe to each PREFIX (Python escapes: "acme\\x1f"; "" for
                                 all) and append one JSON line per event to OUT: its topic
                                 (escaped the same way), and the Event's type, tenant and job id;
                                 until SIGTERM
  submit ENDPOINT TENANT:JOB:DEBTOR...
                                 submit one batch of these jobs (channel sms, policy TN, a
                                 phone number of the debtor's own) and
                                 print each verdict as a JSON line: {"job_id", "code", "rule",
                                 "reason"}
  xsub ENDPOINT HEX...           connect an XSUB, send each HEX as one message, stay connected
                                 until SIGTERM (messages that are no subscriptions)

CURVE: set PG_SERVER_KEY (pregond's NAME.pub) and PG_CLIENT_KEY (the client's NAME.key), both
as `pregonctl keys new` writes them; unset: plaintext."""
import json, os, signal, sys, zlib
sys.path.insert(0, sys.argv[1])
import yaml
import zmq
import pregon_pb2 as pb


def socket(ctx, kind):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    if os.environ.get("PG_SERVER_KEY"):
        with open(os.environ["PG_SERVER_KEY"]) as f:
            server = yaml.safe_load(f)
        with open(os.environ["PG_CLIENT_KEY"]) as f:
            own = yaml.safe_load(f)
        s.curve_serverkey = server["public"].encode()
        s.curve_publickey = own["public"].encode()
        s.curve_secretkey = own["secret"].encode()
    return s


def unescape(text):
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def escape(raw):
    return raw.decode("latin-1").encode("unicode_escape").decode("ascii")


def sub(ctx, endpoint, out, prefixes):
    s = socket(ctx, zmq.SUB)
    for p in prefixes:
        s.setsockopt(zmq.SUBSCRIBE, unescape(p))
    s.connect(endpoint)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "a") as f:
        while not stop:
            if s.poll(100) == 0:
                continue
            topic, body = s.recv_multipart()
            ev = pb.Event()
            ev.ParseFromString(body)
            f.write(json.dumps({"topic": escape(topic), "type": ev.type, "tenant": ev.tenant,
                                "job_id": ev.job_id}) + "\n")
            f.flush()


def submit(ctx, endpoint, specs):
    s = socket(ctx, zmq.DEALER)
    s.connect(endpoint)
    batch = pb.SubmitBatch(batch_id="t")
    for spec in specs:
        tenant, job_id, debtor = spec.split(":")
        j = batch.jobs.add(job_id=job_id, tenant=tenant, campaign="tn", debtor_id=debtor,
                           channel=pb.SMS, template_id="aviso_mora_sms",
                           contact="+1521%07d" % (zlib.crc32(debtor.encode()) % 10**7),
                           jurisdiction="TN", time_zone="UTC")
        for k, v in {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta", "monto": "$100",
                     "telefono": "800", "enlace": "x.co"}.items():
            j.variables[k] = v
    s.send(batch.SerializeToString())
    if s.poll(10000) == 0:
        print(json.dumps({"code": "NO-REPLY"}), flush=True)
        return 1
    reply = pb.SubmitReply()
    reply.ParseFromString(s.recv())
    if reply.error:
        print(json.dumps({"code": "ERROR", "reason": reply.error}), flush=True)
        return 1
    for v in reply.verdicts:
        print(json.dumps({"job_id": v.job_id, "code": pb.Verdict.Code.Name(v.code),
                          "rule": v.rule, "reason": v.reason}), flush=True)
    return 0


def xsub(ctx, endpoint, frames):
    s = socket(ctx, zmq.XSUB)
    s.connect(endpoint)
    for h in frames:
        s.send(bytes.fromhex(h))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        s.poll(100)


def main():
    ctx = zmq.Context()
    cmd, args = sys.argv[2], sys.argv[3:]
    if cmd == "sub":
        return sub(ctx, args[0], args[1], args[2:])
    if cmd == "submit":
        return submit(ctx, args[0], args[1:])
    if cmd == "xsub":
        return xsub(ctx, args[0], args[1:])
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main() or 0)
