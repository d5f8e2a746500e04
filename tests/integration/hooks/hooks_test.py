#!/usr/bin/python3
"""hooks_test.py — integration test of pregon-hooks against a fake pregond.

Starts the real pregon-hooks on a free loopback port, with its broker link connected to a
python ROUTER standing in for pregond's hooks socket (real ZeroMQ; the protobuf code is
generated from proto/pregon.proto with protoc at test time), sends Twilio webhooks signed here
with hmac (independently of the C code) and checks: a status callback becomes one
DELIVERY_STATUS event with the right fields and is answered 200 only after its ack; unsigned,
forged and unknown-account requests get 403, are counted and reach nothing; ack "error" and no
ack get 503; keywords (STOP, Baja, ALTO, "stop.") -> OPT_OUT, START -> OPT_IN, other text ->
REPLY; more events than max_in_flight -> 503 "full"; an oversized body -> 413; /metrics passes
`promtool check metrics` and counts what happened; pregond gone -> 503 at once and /healthz 503;
SIGTERM answers a held request 503 and exits 0; 400 concurrent requests on kept-alive
connections are all answered 200 once acked; the example configuration loads; an unknown
setting in the file exits 2.

usage: hooks_test.py PATH/TO/pregon-hooks PATH/TO/pregon.proto
"""
import base64
import hashlib
import hmac
import http.client
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import zmq

BIN, PROTO = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp(prefix="hooks-test.")
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, PROTO], check=True)
sys.path.insert(0, WORK)
import pregon_pb2 as pb  # noqa: E402

ACCOUNT, TOKEN = "AC" + "a" * 32, "test-token-1"
OTHER, OTHER_TOKEN = "AC" + "b" * 32, "test-token-2"
ACK_TIMEOUT_MS = 1500
HEARTBEAT_MS = 300
FAILS = []


def check(name, cond, detail=""):
    if cond:
        print("ok  ", name)
    else:
        print("FAIL", name, detail)
        FAILS.append(name)


class FakeBroker:
    """pregond's hooks ROUTER: answers heartbeats, hands events to the test, sends acks."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.events = queue.Queue()
        self.outbox = queue.Queue()
        self.peer = None
        self.heartbeats = 0
        self.running = True
        self.mute = False  # True: read nothing, answer nothing (pregond hung)
        self.auto = None  # a result: every event is acked at once with it
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while self.running:
            for ident, payload in self._drain_outbox():
                self.sock.send_multipart([ident, payload])
            if not dict(poller.poll(20)) or self.mute:
                continue
            while True:
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                ident, payload = frames[0], frames[-1]
                self.peer = ident
                msg = pb.HooksToBroker()
                msg.ParseFromString(payload)
                if msg.WhichOneof("msg") == "heartbeat":
                    self.heartbeats += 1
                    out = pb.BrokerToHooks()
                    out.heartbeat.at_ms = int(time.time() * 1000)
                    self.sock.send_multipart([ident, out.SerializeToString()])
                elif msg.WhichOneof("msg") == "event" and self.auto:
                    # queued before the ack: once a client has its 200, its event is here
                    self.events.put(msg.event)
                    out = pb.BrokerToHooks()
                    out.ack.seq = msg.event.seq
                    out.ack.result = self.auto
                    self.sock.send_multipart([ident, out.SerializeToString()])
                elif msg.WhichOneof("msg") == "event":
                    self.events.put(msg.event)
        self.sock.close()

    def _drain_outbox(self):
        items = []
        while True:
            try:
                items.append(self.outbox.get_nowait())
            except queue.Empty:
                return items

    def ack(self, seq, result="applied", detail=""):
        out = pb.BrokerToHooks()
        out.ack.seq = seq
        out.ack.result = result
        out.ack.detail = detail
        self.outbox.put((self.peer, out.SerializeToString()))

    def next_event(self, timeout=5.0):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def no_event(self, wait=0.3):
        try:
            ev = self.events.get(timeout=wait)
            return False, ev
        except queue.Empty:
            return True, None

    def stop(self):
        self.running = False
        self.thread.join()
        self.ctx.term()


def twilio_signature(token, url, fields):
    data = url + "".join(k + v for k, v in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class Hooks:
    def __init__(self, broker_endpoint, extra=()):
        self.tokens = os.path.join(WORK, "conf", "tokens")
        os.makedirs(os.path.dirname(self.tokens), exist_ok=True)
        with open(self.tokens, "w") as f:
            f.write("# test accounts\n%s %s\n%s\t%s\n" % (ACCOUNT, TOKEN, OTHER, OTHER_TOKEN))
        config = os.path.join(WORK, "conf", "hooks.yaml")
        with open(config, "w") as f:  # flags win over the file: listen and max_body
            f.write("http:\n  listen: 127.0.0.1:9\n  max_body_bytes: 100000\n"
                    "broker:\n  heartbeat_ms: %d\n  ack_timeout_ms: %d\n  max_in_flight: 2\n"
                    "twilio:\n  auth_tokens_file: tokens\n" % (HEARTBEAT_MS, ACK_TIMEOUT_MS))
        args = [BIN, "--listen", "127.0.0.1:0", "--broker", broker_endpoint, "--max-body", "4096",
                "--config", config, "--ops-listen", "127.0.0.1:0"] + list(extra)
        Hooks.count = getattr(Hooks, "count", 0) + 1
        self.log = open(os.path.join(WORK, "hooks-%d.log" % Hooks.count), "w+")
        self.proc = subprocess.Popen(args, stderr=self.log, stdout=self.log)
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"serving: http http://127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                # /metrics is on the loopback ops port (logged before "serving:")
                self.ops_port = int(re.search(r"ops: .* on port (\d+)", self.text()).group(1))
                break
            time.sleep(0.05)
        if not self.port:
            raise SystemExit("pregon-hooks did not start:\n" + self.text())
        self.base = "http://127.0.0.1:%d" % self.port

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        out = (r.status, r.getheader("Content-Type"), r.read().decode("utf-8", "replace"))
        c.close()
        return out

    def twilio(self, path, fields, token=TOKEN, signature=True, sig=None, timeout=10):
        body = urllib.parse.urlencode(fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature:
            headers["X-Twilio-Signature"] = sig or twilio_signature(token, self.base + path, fields)
        return self.request("POST", path, body, headers, timeout)

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.ops_port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode("utf-8", "replace")
        c.close()
        return text


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = ",".join(sorted((m.group(3) or "").split(","))) if m.group(3) else ""
        if have == want:
            return float(m.group(4))
    return None


def in_thread(fn, *args, **kw):
    box = {}

    def run():
        box["result"] = fn(*args, **kw)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def status_fields(sid, status="delivered", error=None, account=ACCOUNT):
    f = [("MessageSid", sid), ("MessageStatus", status), ("To", "+5215512345678"),
         ("From", "+15005550006"), ("AccountSid", account), ("ApiVersion", "2010-04-01")]
    if error:
        f.append(("ErrorCode", error))
    return f


def inbound_fields(sid, body):
    return [("MessageSid", sid), ("AccountSid", ACCOUNT), ("From", "+5215512345678"),
            ("To", "+15005550006"), ("Body", body), ("NumMedia", "0")]


def wait_until(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_status(hooks, broker):
    t, box = in_thread(hooks.twilio, "/twilio/sms/status", status_fields("SM" + "1" * 32))
    ev = broker.next_event()
    check("status callback forwarded", ev is not None)
    if ev is None:
        return
    check("event kind DELIVERY_STATUS", ev.kind == pb.InboundEvent.DELIVERY_STATUS, ev)
    check("event channel SMS", ev.channel == pb.SMS)
    check("event provider", ev.provider == "twilio-sms")
    check("event provider_id", ev.provider_id == "SM" + "1" * 32)
    check("event status", ev.status == "delivered")
    check("event contact = To", ev.contact == "+5215512345678")
    check("event sender = From", ev.sender == "+15005550006")
    check("event event_id", ev.event_id == "SM" + "1" * 32 + ":delivered")
    check("event error_code empty", ev.error_code == "")
    first_fallback = ev.fallback_eligible
    check("event seq set", ev.seq > 0)
    time.sleep(0.3)
    check("no answer before the ack", t.is_alive())
    broker.ack(ev.seq, "applied")
    t.join(5)
    status, ctype, body = box.get("result", (None, None, None))
    check("200 after the ack", status == 200, box)
    check("TwiML answer", ctype and ctype.startswith("text/xml") and "<Response/>" in body, box)

    # failed with an error code; a "duplicate" ack is a success too
    t, box = in_thread(hooks.twilio, "/twilio/sms/status",
                       status_fields("SM" + "2" * 32, "undelivered", "30006"))
    ev = broker.next_event()
    check("undelivered forwarded with error_code",
          ev is not None and ev.error_code == "30006" and ev.status == "undelivered", ev)
    check("30006 (landline) fallback-eligible", ev is not None and ev.fallback_eligible, ev)
    check("delivered not fallback-eligible", not first_fallback)
    if ev:
        broker.ack(ev.seq, "duplicate")
    t.join(5)
    check("duplicate ack -> 200", box.get("result", [None])[0] == 200, box)


def test_refused(hooks, broker):
    path = "/twilio/sms/status"
    fields = status_fields("SM" + "3" * 32)
    check("unsigned -> 403", hooks.twilio(path, fields, signature=False)[0] == 403)
    check("forged -> 403", hooks.twilio(path, fields, token="wrong-token")[0] == 403)
    check("garbage signature -> 403", hooks.twilio(path, fields, sig="not base64 !")[0] == 403)
    # signed for another URL (a replay on another route)
    sig = twilio_signature(TOKEN, hooks.base + "/twilio/sms/inbound", fields)
    check("signature of another URL -> 403", hooks.twilio(path, fields, sig=sig)[0] == 403)
    unknown = status_fields("SM" + "3" * 32, account="AC" + "c" * 32)
    check("unknown account -> 403", hooks.twilio(path, unknown)[0] == 403)
    # the other account's token is good for the other account only
    other = status_fields("SM" + "4" * 32, account=OTHER)
    check("token of another account -> 403", hooks.twilio(path, other, token=TOKEN)[0] == 403)
    # a field changed after signing
    sig = twilio_signature(TOKEN, hooks.base + path, fields)
    tampered = [(k, "failed" if k == "MessageStatus" else v) for k, v in fields]
    check("tampered field -> 403", hooks.twilio(path, tampered, sig=sig)[0] == 403)
    quiet, ev = broker.no_event(0.5)
    check("nothing refused was forwarded", quiet, ev)
    # signed by the other account's token: accepted
    t, box = in_thread(hooks.twilio, path, other, token=OTHER_TOKEN)
    ev = broker.next_event()
    check("second account accepted", ev is not None and ev.provider_id == "SM" + "4" * 32)
    if ev:
        broker.ack(ev.seq)
    t.join(5)
    check("second account 200", box.get("result", [None])[0] == 200)
    # signed but missing MessageStatus: 400, nothing forwarded
    missing = [kv for kv in fields if kv[0] != "MessageStatus"]
    check("missing field -> 400", hooks.twilio(path, missing)[0] == 400)
    check("missing field not forwarded", broker.no_event(0.3)[0])


def test_failures(hooks, broker):
    path = "/twilio/sms/status"
    t, box = in_thread(hooks.twilio, path, status_fields("SM" + "5" * 32))
    ev = broker.next_event()
    if ev:
        broker.ack(ev.seq, "error", "redis down")
    t.join(5)
    check("ack error -> 503", box.get("result", [None])[0] == 503, box)

    start = time.time()
    t, box = in_thread(hooks.twilio, path, status_fields("SM" + "6" * 32))
    ev = broker.next_event()
    check("event of the unacked request forwarded", ev is not None)
    t.join(ACK_TIMEOUT_MS / 1000 + 5)
    took = time.time() - start
    check("no ack -> 503", box.get("result", [None])[0] == 503, box)
    check("no ack -> 503 after the ack timeout", ACK_TIMEOUT_MS / 1000 - 0.1 <= took < 4, took)
    if ev:  # a late ack changes nothing and is counted
        broker.ack(ev.seq, "applied")
    check("late ack counted",
          wait_until(lambda: metric(hooks.metrics(), "pregon_hooks_acks_total", result="late") == 1))

    # max_in_flight is 2: two held requests, the third is refused at once
    held = [in_thread(hooks.twilio, path, status_fields("SM7%031d" % i)) for i in range(2)]
    evs = [broker.next_event(), broker.next_event()]
    start = time.time()
    status = hooks.twilio(path, status_fields("SM" + "8" * 32))[0]
    check("beyond max_in_flight -> 503 at once", status == 503 and time.time() - start < 1, status)
    for ev in evs:
        if ev:
            broker.ack(ev.seq)
    for t, box in held:
        t.join(5)
        check("held request answered 200", box.get("result", [None])[0] == 200, box)


def test_keywords(hooks, broker):
    cases = [("STOP", pb.InboundEvent.OPT_OUT), ("Baja", pb.InboundEvent.OPT_OUT),
             ("ALTO", pb.InboundEvent.OPT_OUT), ("stop.", pb.InboundEvent.OPT_OUT),
             ("¡BáJa!", pb.InboundEvent.OPT_OUT), ("START", pb.InboundEvent.OPT_IN),
             ("Sí", pb.InboundEvent.OPT_IN),
             ("please stop calling", pb.InboundEvent.REPLY), ("ya pagué", pb.InboundEvent.REPLY)]
    for i, (text, kind) in enumerate(cases):
        sid = "SM9%031d" % i
        t, box = in_thread(hooks.twilio, "/twilio/sms/inbound", inbound_fields(sid, text))
        ev = broker.next_event()
        ok = (ev is not None and ev.kind == kind and ev.text == text and ev.event_id == sid and
              ev.provider_id == sid and ev.contact == "+5215512345678" and
              ev.sender == "+15005550006" and ev.channel == pb.SMS)
        check("inbound %r -> %s" % (text, pb.InboundEvent.Kind.Name(kind)), ok, ev)
        if ev:
            broker.ack(ev.seq, "applied" if kind != pb.InboundEvent.REPLY else "unknown")
        t.join(5)
        res = box.get("result", (None, None, ""))
        check("inbound %r answered empty TwiML" % text, res[0] == 200 and "<Response/>" in res[2],
              res)


def test_limits(hooks, broker):
    big = inbound_fields("SM" + "a" * 32, "x" * 8000)
    status = hooks.twilio("/twilio/sms/inbound", big)[0]
    check("oversized body -> 413", status == 413, status)
    check("oversized not forwarded", broker.no_event(0.3)[0])
    check("unknown path -> 404", hooks.request("GET", "/nope")[0] == 404)
    check("GET on a POST route -> 405", hooks.request("GET", "/twilio/sms/status")[0] == 405)


def test_metrics(hooks):
    text = hooks.metrics()
    path = os.path.join(WORK, "metrics.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        r = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, text=True)
    check("promtool check metrics", r.returncode == 0 and not r.stdout.strip() and
          not r.stderr.strip(), r.stdout + r.stderr)
    m = lambda name, **kw: metric(text, name, **kw)  # noqa: E731
    check("refused unsigned counted",
          m("pregon_hooks_refused_total", provider="twilio-sms", reason="unsigned") == 1)
    check("refused forged counted",
          m("pregon_hooks_refused_total", provider="twilio-sms", reason="forged") == 5, text)
    check("refused unknown-account counted",
          m("pregon_hooks_refused_total", provider="twilio-sms", reason="unknown-account") == 1)
    check("invalid missing-field counted",
          m("pregon_hooks_invalid_total", provider="twilio-sms", reason="missing-field") == 1)
    check("requests refused by route",
          m("pregon_hooks_requests_total", provider="twilio-sms", route="sms-status",
            result="refused") == 7)
    check("requests too_large counted",
          m("pregon_hooks_requests_total", provider="twilio-sms", route="sms-inbound",
            result="too_large") == 1)
    check("ack error counted", m("pregon_hooks_acks_total", result="error") == 1)
    check("503 by reason",
          m("pregon_hooks_unavailable_total", reason="ack_error") == 1 and
          m("pregon_hooks_unavailable_total", reason="ack_timeout") == 1 and
          m("pregon_hooks_unavailable_total", reason="full") == 1, text)
    check("events forwarded by route",
          m("pregon_hooks_events_forwarded_total", provider="twilio-sms", route="sms-inbound") == 9)
    check("nothing in flight", m("pregon_hooks_in_flight") == 0)
    check("broker up", m("pregon_hooks_broker_up") == 1)
    acked = [ln for ln in text.splitlines() if ln.startswith("pregon_hooks_events_acked_total{")]
    total = lambda want: sum(float(ln.rsplit(" ", 1)[1]) for ln in acked if want in ln)  # noqa
    check("events acked by route: the error among them",
          total('result="error"') == m("pregon_hooks_acks_total", result="error") == 1, acked)
    check("events acked by route add up to the acks",
          total('result="') == sum(m("pregon_hooks_acks_total", result=r) or 0
                                   for r in ("applied", "duplicate", "ignored", "unknown",
                                             "refused", "invalid", "error", "other")), acked)
    check("the public listener has no /metrics (404)", hooks.request("GET", "/metrics")[0] == 404)
    ops = http.client.HTTPConnection("127.0.0.1", hooks.ops_port, timeout=10)
    ops.request("GET", "/readyz")
    r = ops.getresponse()
    check("ops /readyz 200 with pregond up", r.status == 200, (r.status, r.read()))
    ops.close()


def test_secrets_not_logged(hooks):
    text = hooks.text()
    check("no token in the log", TOKEN not in text and OTHER_TOKEN not in text)


def test_broker_gone(hooks, broker):
    broker.mute = True
    # held while pregond goes silent: answered 503 once it is declared gone (3 heartbeats)
    t, box = in_thread(hooks.twilio, "/twilio/sms/status", status_fields("SM" + "b" * 32))
    t.join(ACK_TIMEOUT_MS / 1000 + 3)
    check("held when pregond goes silent -> 503", box.get("result", [None])[0] == 503, box)
    check("healthz 503 once pregond is silent",
          wait_until(lambda: hooks.request("GET", "/healthz")[0] == 503, 3))
    start = time.time()
    status = hooks.twilio("/twilio/sms/status", status_fields("SM" + "c" * 32))[0]
    check("pregond down -> 503 at once", status == 503 and time.time() - start < 1,
          (status, time.time() - start))
    check("broker_down counted", (metric(hooks.metrics(), "pregon_hooks_unavailable_total",
                                         reason="broker_down") or 0) >= 1)
    broker.mute = False
    # drain what the mute fake did not read, then pregond is back
    check("healthz 200 when pregond answers again",
          wait_until(lambda: hooks.request("GET", "/healthz")[0] == 200, 5))
    while not broker.events.empty():
        broker.events.get()


def test_sigterm(hooks, broker):
    t, box = in_thread(hooks.twilio, "/twilio/sms/status", status_fields("SM" + "d" * 32))
    ev = broker.next_event()
    check("event held before SIGTERM", ev is not None)
    hooks.proc.send_signal(signal.SIGTERM)
    t.join(5)
    check("SIGTERM answers the held request 503", box.get("result", [None])[0] == 503, box)
    try:
        rc = hooks.proc.wait(5)
    except subprocess.TimeoutExpired:
        hooks.proc.kill()
        rc = None
    check("exit 0 after SIGTERM", rc == 0, rc)


def test_concurrent(broker):
    """Many requests at once on kept-alive connections, acked as they come: all 200."""
    hooks = Hooks(broker.endpoint, ["--max-in-flight", "1000", "--threads", "3"])
    broker.auto = "applied"
    try:
        wait_until(lambda: hooks.request("GET", "/healthz")[0] == 200, 5)
        results = []
        lock = threading.Lock()

        def client(n):
            c = http.client.HTTPConnection("127.0.0.1", hooks.port, timeout=20)
            for i in range(25):
                fields = status_fields("SMc%03d%028d" % (n, i))
                body = urllib.parse.urlencode(fields)
                c.request("POST", "/twilio/sms/status", body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": twilio_signature(
                        TOKEN, hooks.base + "/twilio/sms/status", fields)})
                r = c.getresponse()
                r.read()
                with lock:
                    results.append(r.status)
            c.close()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        check("400 concurrent requests all 200", results.count(200) == 400,
              {k: results.count(k) for k in set(results)})
        seqs = set()
        while not broker.events.empty():
            seqs.add(broker.events.get().seq)
        check("400 events with distinct seqs", len(seqs) == 400, len(seqs))
        check("nothing in flight afterwards",
              metric(hooks.metrics(), "pregon_hooks_in_flight") == 0)
        hooks.proc.send_signal(signal.SIGTERM)
        check("concurrent instance exits 0", hooks.proc.wait(10) == 0)
    finally:
        broker.auto = None
        if hooks.proc.poll() is None:
            hooks.proc.kill()


def test_config():
    example = os.path.join(os.path.dirname(PROTO), "..", "deploy", "pregon-hooks.yaml")
    log = open(os.path.join(WORK, "example.log"), "w+")
    p = subprocess.Popen([BIN, "--config", example, "--listen", "127.0.0.1:0", "--broker",
                          "tcp://127.0.0.1:1"], stderr=log)
    started = wait_until(lambda: "serving:" in open(log.name).read(), 10)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(10)
    check("the example configuration loads", started and rc == 0, open(log.name).read())
    path = os.path.join(WORK, "bad.yaml")
    with open(path, "w") as f:
        f.write("http:\n  listen: 127.0.0.1:0\n  lisen: oops\n")
    r = subprocess.run([BIN, "--config", path], capture_output=True, text=True, timeout=10)
    check("unknown setting -> exit 2", r.returncode == 2 and "unknown setting" in r.stderr,
          (r.returncode, r.stderr))
    good = os.path.join(WORK, "good.yaml")
    with open(good, "w") as f:
        f.write("http:\n  listen: 127.0.0.1:0\n  max_body_bytes: 100000\nbroker:\n"
                "  ack_timeout_ms: 0\n")
    r = subprocess.run([BIN, "--config", good], capture_output=True, text=True, timeout=10)
    check("out-of-range setting -> exit 2", r.returncode == 2, (r.returncode, r.stderr))


def main():
    broker = FakeBroker()
    hooks = None
    try:
        test_config()
        hooks = Hooks(broker.endpoint)
        check("healthz 200 once pregond answers",
              wait_until(lambda: hooks.request("GET", "/healthz")[0] == 200, 5))
        test_status(hooks, broker)
        test_refused(hooks, broker)
        test_failures(hooks, broker)
        test_keywords(hooks, broker)
        test_limits(hooks, broker)
        test_metrics(hooks)
        test_secrets_not_logged(hooks)
        test_broker_gone(hooks, broker)
        test_sigterm(hooks, broker)
        test_concurrent(broker)
    finally:
        if hooks and hooks.proc.poll() is None:
            hooks.proc.kill()
        if FAILS:
            for name in sorted(os.listdir(WORK)):
                if name.endswith(".log"):
                    print("--- %s ---\n%s" % (name, open(os.path.join(WORK, name)).read()))
        broker.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    print("%d failed" % len(FAILS) if FAILS else "all passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
