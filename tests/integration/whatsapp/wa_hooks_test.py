#!/usr/bin/python3
"""wa_hooks_test.py — pregon-hooks' WhatsApp module against a fake pregond.

Starts the real pregon-hooks on a free loopback port with its broker link on a python ROUTER
standing in for pregond's hooks socket (real ZeroMQ; protobuf code generated from
proto/pregon.proto at test time, every event acked "applied"), posts Meta notifications signed
here with hmac (independently of the C code) and checks: the GET verification answers the
challenge only with the right verify token; PROVIDERS.md's X-Hub-Signature-256 vector; a status
batch (sent, delivered, read, failed 131026) becomes DELIVERY_STATUS events with provider id,
status, contact, sender, time, error code, fallback_eligible and the job from
biz_opaque_callback_data; replies become REPLY, OPT_OUT (baja, STOP), PAYMENT_CLAIMED (ya pagué,
Pago realizado), WRONG_NUMBER (Número equivocado) with the keyword, whatever the case and the
accents; a button reply is classified by its text; unsigned, forged and other-secret requests
get 403, are counted and reach nothing; a body that is not WhatsApp's is 400. With
keywords.file = deploy/templates.yaml, the catalog's keyword table is matched first ("ya cancelé"
-> PAYMENT_CLAIMED) and the built-in words still work; a bad table exits 2 naming its position.

usage: wa_hooks_test.py PATH/TO/pregon-hooks PATH/TO/pregon.proto
"""
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import zmq

BIN, PROTO = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp(prefix="wa-hooks-test.")
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, PROTO], check=True)
sys.path.insert(0, WORK)
import pregon_pb2 as pb  # noqa: E402

SECRET, VERIFY = "wa-app-secret", "wa-verify-token"
FAILS = []


def check(name, cond, detail=""):
    print("ok  " if cond else "FAIL", name, "" if cond else detail)
    if not cond:
        FAILS.append(name)


class FakeBroker:
    """pregond's hooks ROUTER: answers heartbeats, acks every event "applied", keeps them."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.endpoint = "tcp://127.0.0.1:%d" % self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.events = queue.Queue()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while self.running:
            if not dict(poller.poll(20)):
                continue
            while True:
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                ident, payload = frames[0], frames[-1]
                msg = pb.HooksToBroker()
                msg.ParseFromString(payload)
                out = pb.BrokerToHooks()
                if msg.WhichOneof("msg") == "heartbeat":
                    out.heartbeat.at_ms = int(time.time() * 1000)
                elif msg.WhichOneof("msg") == "event":
                    self.events.put(msg.event)
                    out.ack.seq = msg.event.seq
                    out.ack.result = "applied"
                else:
                    continue
                self.sock.send_multipart([ident, out.SerializeToString()])
        self.sock.close()

    def take(self, n, timeout=5.0):
        got, end = [], time.time() + timeout
        while len(got) < n and time.time() < end:
            try:
                got.append(self.events.get(timeout=max(0.01, end - time.time())))
            except queue.Empty:
                break
        return got

    def none(self, wait=0.3):
        try:
            self.events.get(timeout=wait)
            return False
        except queue.Empty:
            return True

    def stop(self):
        self.running = False
        self.thread.join()
        self.ctx.term()


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Hooks:
    def __init__(self, endpoint, extra=(), name="hooks"):
        env = dict(os.environ, WHATSAPP_APP_SECRET=SECRET, WHATSAPP_VERIFY_TOKEN=VERIFY)
        self.log = open(os.path.join(WORK, name + ".log"), "w+")
        self.proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--broker", endpoint,
                                      "--heartbeat-ms", "200", "--ops-listen", "127.0.0.1:0"]
                                     + list(extra), env=env,
                                     stderr=self.log, stdout=self.log)
        self.port, end = None, time.time() + 10
        while time.time() < end and self.proc.poll() is None and not self.port:
            self.log.flush()
            text = open(self.log.name).read()
            m = re.search(r"serving: http http://127\.0\.0\.1:(\d+)", text)
            self.port = int(m.group(1)) if m else None
            o = re.search(r"ops: .* on port (\d+)", text)  # /metrics: the loopback ops port
            self.ops_port = int(o.group(1)) if o else None
            time.sleep(0.05)
        if not self.port:
            raise SystemExit("pregon-hooks did not start:\n" + open(self.log.name).read())

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        out = (r.status, r.read().decode("utf-8", "replace"))
        c.close()
        return out

    def post(self, doc, secret=SECRET, signature=True, raw=None):
        body = raw if raw is not None else json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-Hub-Signature-256"] = sign(body, secret)
        return self.request("POST", "/whatsapp/webhook", body, headers)

    def metric(self, name, **labels):
        want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
        c = http.client.HTTPConnection("127.0.0.1", self.ops_port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode("utf-8", "replace")
        c.close()
        for line in text.splitlines():
            m = re.match(r"([a-z_]+)\{(.*)\} (\S+)$", line)
            if m and m.group(1) == name and ",".join(sorted(m.group(2).split(","))) == want:
                return float(m.group(3))
        return 0.0


def envelope(value):
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": dict(
                {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": "15550000000",
                              "phone_number_id": "1065550001"}}, **value)}]}]}


def status(wamid, st, to="5215512345678", ref="pg1 acme d1 j1", code=None):
    s = {"id": wamid, "status": st, "timestamp": "1700000000", "recipient_id": to,
         "biz_opaque_callback_data": ref}
    if code:
        s["errors"] = [{"code": code, "title": "Message undeliverable"}]
    return s


def text_msg(mid, body, frm="5215512345678"):
    return {"from": frm, "id": mid, "timestamp": "1700000100", "type": "text",
            "text": {"body": body}}


def main():
    # PROVIDERS.md's vector, with python's hmac (the C side is unit.test_sig's)
    check("signature vector", hmac.new(b"secret", b"test", hashlib.sha256).hexdigest() ==
          "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914")
    broker = FakeBroker()
    hooks = Hooks(broker.endpoint)
    try:
        run(broker, hooks)
    finally:
        hooks.proc.terminate()
        hooks.proc.wait(10)
    try:
        catalog_keywords(broker)
    finally:
        broker.stop()
    if FAILS:
        print("hooks log:\n" + open(hooks.log.name).read())
        print("%d failed: %s" % (len(FAILS), ", ".join(FAILS)))
        sys.exit(1)
    shutil.rmtree(WORK, ignore_errors=True)
    print("all passed")


def run(broker, hooks):
    q = "/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=1158201444"
    st, body = hooks.request("GET", q % VERIFY)
    check("verify: challenge answered", st == 200 and body == "1158201444", (st, body))
    st, body = hooks.request("GET", q % "wrong")
    check("verify: a wrong token refused", st == 403, (st, body))
    st, _ = hooks.request("GET", "/whatsapp/webhook?hub.mode=unsubscribe&hub.verify_token=%s"
                          "&hub.challenge=1" % VERIFY)
    check("verify: another mode refused", st == 403, st)

    # statuses: one batch, four events, answered once acked
    doc = envelope({"statuses": [status("wamid.A", "sent"), status("wamid.A", "delivered"),
                                 status("wamid.A", "read"),
                                 status("wamid.B", "failed", ref="pg1 acme d2 j2", code=131026)]})
    st, _ = hooks.post(doc)
    evs = broker.take(4)
    check("statuses: 200", st == 200, st)
    check("statuses: 4 events", len(evs) == 4, evs)
    if len(evs) == 4:
        e = evs[0]
        check("status fields", e.kind == pb.InboundEvent.DELIVERY_STATUS and
              e.channel == pb.WHATSAPP and e.provider_id == "wamid.A" and e.status == "sent" and
              e.contact == "+5215512345678" and e.sender == "1065550001" and
              e.at == 1700000000000 and e.event_id == "wamid.A:sent" and e.provider == "whatsapp"
              and e.tenant == "acme" and e.debtor_id == "d1" and e.job_id == "j1", e)
        check("delivered and read", [x.status for x in evs[:3]] == ["sent", "delivered", "read"])
        f = evs[3]
        check("failed 131026: fallback-eligible", f.status == "failed" and
              f.error_code == "131026" and f.fallback_eligible and f.job_id == "j2", f)
    st, _ = hooks.post(envelope({"statuses": [status("wamid.C", "failed", code=131049)]}))
    e = broker.take(1)
    check("failed 131049: not fallback-eligible", st == 200 and e and e[0].error_code == "131049"
          and not e[0].fallback_eligible, e)

    # replies and keywords
    cases = [("ya pagué", pb.InboundEvent.PAYMENT_CLAIMED, "YA PAGUE"),
             ("Pago realizado.", pb.InboundEvent.PAYMENT_CLAIMED, "PAGO REALIZADO"),
             ("YA PAGUE", pb.InboundEvent.PAYMENT_CLAIMED, "YA PAGUE"),
             ("Baja", pb.InboundEvent.OPT_OUT, "BAJA"),
             ("stop", pb.InboundEvent.OPT_OUT, "STOP"),
             ("Número equivocado", pb.InboundEvent.WRONG_NUMBER, "NUMERO EQUIVOCADO"),
             ("numero EQUIVOCADO!", pb.InboundEvent.WRONG_NUMBER, "NUMERO EQUIVOCADO"),
             ("Hola, ¿cuánto debo?", pb.InboundEvent.REPLY, "")]
    msgs = [text_msg("wamid.IN%d" % i, t) for i, (t, _, _) in enumerate(cases)]
    st, _ = hooks.post(envelope({"contacts": [{"profile": {"name": "Ana"},
                                               "wa_id": "5215512345678"}], "messages": msgs}))
    evs = broker.take(len(cases))
    check("replies: 200 and one event each", st == 200 and len(evs) == len(cases), (st, evs))
    for (text, kind, kw), e in zip(cases, evs):
        check("reply %r" % text, e.kind == kind and e.keyword == kw and e.text == text and
              e.contact == "+5215512345678" and e.sender == "1065550001" and
              e.channel == pb.WHATSAPP and e.event_id == e.provider_id and e.at == 1700000100000,
              e)
    button = {"from": "5215512345679", "id": "wamid.BTN", "timestamp": "1700000200",
              "type": "button", "button": {"payload": "PAGO_OK", "text": "Ya pagué"},
              "context": {"from": "15550000000", "id": "wamid.A"}}
    st, _ = hooks.post(envelope({"messages": [button]}))
    e = broker.take(1)
    check("button reply: classified by its text", st == 200 and e and
          e[0].kind == pb.InboundEvent.PAYMENT_CLAIMED and e[0].text == "Ya pagué", e)
    image = {"from": "5215512345679", "id": "wamid.IMG", "timestamp": "1700000200",
             "type": "image", "image": {"id": "m1"}}
    st, _ = hooks.post(envelope({"messages": [image]}))
    e = broker.take(1)
    check("media: a REPLY naming its type", st == 200 and e and
          e[0].kind == pb.InboundEvent.REPLY and e[0].status == "image", e)

    # refused: nothing reaches the broker, each counted by its reason
    doc = envelope({"messages": [text_msg("wamid.X", "Baja")]})
    st, _ = hooks.post(doc, signature=False)
    check("unsigned: 403", st == 403, st)
    st, _ = hooks.post(doc, secret="another-app")
    check("forged: 403", st == 403, st)
    body = json.dumps(doc).encode()
    st, _ = hooks.request("POST", "/whatsapp/webhook", body + b" ",
                          {"X-Hub-Signature-256": sign(body)})
    check("a byte added after signing: 403", st == 403, st)
    check("refused: no event", broker.none())
    check("forged counted", hooks.metric("pregon_hooks_refused_total", provider="whatsapp",
                                         reason="forged") == 2)
    check("unsigned counted", hooks.metric("pregon_hooks_refused_total", provider="whatsapp",
                                           reason="unsigned") == 1)
    st, _ = hooks.post(None, raw=b'{"object":"page","entry":[]}')
    check("not WhatsApp's: 400", st == 400, st)
    st, _ = hooks.post(None, raw=b'{"object":')
    check("not JSON: 400", st == 400, st)
    st, _ = hooks.post(envelope({"statuses": [{"id": "wamid.Z", "status": "Delivered!"}]}))
    check("a status that is no word: 400", st == 400, st)
    check("invalid: no event", broker.none())


def catalog_keywords(broker):
    """keywords.file: the catalog's table is matched first; the built-in words still work."""
    catalog = os.path.join(os.path.dirname(PROTO), "..", "deploy", "templates.yaml")
    conf = os.path.join(WORK, "kw.yaml")
    with open(conf, "w") as f:
        f.write("keywords:\n  file: %s\n" % os.path.abspath(catalog))
    hooks = Hooks(broker.endpoint, ["--config", conf], "hooks-kw")
    try:
        cases = [("Ya cancelé.", pb.InboundEvent.PAYMENT_CLAIMED, "YA CANCELE"),
                 ("NO ES MI NUMERO", pb.InboundEvent.WRONG_NUMBER, "NO ES MI NUMERO"),
                 ("no me escriban más!", pb.InboundEvent.OPT_OUT, "NO ME ESCRIBAN MAS"),
                 ("ya pagué", pb.InboundEvent.PAYMENT_CLAIMED, "YA PAGUE"),
                 ("ya cancelé la cuota de marzo", pb.InboundEvent.REPLY, "")]
        msgs = [text_msg("wamid.KW%d" % i, t) for i, (t, _, _) in enumerate(cases)]
        st, _ = hooks.post(envelope({"messages": msgs}))
        evs = broker.take(len(cases))
        check("catalog keywords: 200 and one event each", st == 200 and len(evs) == len(cases))
        for (text, kind, kw), e in zip(cases, evs):
            check("catalog keyword %r" % text, e.kind == kind and e.keyword == kw, e)
        check("catalog keywords: the load is logged", "3 keyword(s)" not in open(hooks.log.name).read()
              and "keyword(s) matched before the built-in ones" in open(hooks.log.name).read())
    finally:
        hooks.proc.terminate()
        hooks.proc.wait(10)
    bad = os.path.join(WORK, "bad-kw.yaml")
    with open(bad, "w") as f:
        f.write("keywords:\n  - {word: x, kind: maybe}\n")
    with open(conf, "w") as f:
        f.write("keywords:\n  file: %s\n" % bad)
    r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--broker", broker.endpoint, "--config",
                        conf], capture_output=True, text=True, timeout=10)
    check("a bad keyword table: exit 2 naming the position", r.returncode == 2 and
          "bad-kw.yaml:2:" in r.stderr and "kind must be" in r.stderr, (r.returncode, r.stderr))


main()
