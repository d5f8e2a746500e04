#!/usr/bin/env python3
"""test_sandbox_calls.py — the sandbox's Twilio Calls module against a TwiML server.

Starts the real pregon-sandbox (--calls-time-scale 0.01) on a spare loopback port and a small
TwiML application (http.server) standing in for pregon-hooks: it verifies every
X-Twilio-Signature with its own HMAC-SHA1 (403 when wrong), serves fixed TwiML (a Gather with a
nested Say, a digit menu: 1 Dial a number with an action, 2 Dial a SIP URI, 3 Redirect back to
the menu, 9 a goodbye and Hangup; a voicemail for AnsweredBy machine_*), and records the
Gather and Dial actions and status callbacks. Checks, per scripted callee: the transcript (what
was said, digits, transfer target and DialCallStatus, timestamps), the digits and
DialCallStatus posted, the status callbacks (initiated, ringing, answered, completed in
order, SequenceNumber, CallDuration, AnsweredBy); busy, no-answer, failed; AMD machine_start
and machine_end_beep; a callee hanging up; GET Method; inline Twiml; a document that is not
XML (12100) and a 500 (11200); Calls.json's errors; the forge route refused; the GET call
resource; many simultaneous calls (max_concurrent, nothing serialised) and the time scale.

usage: test_sandbox_calls.py path/to/pregon-sandbox      exit status 0 when every check passes
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "AC" + "b2" * 16
TOKEN = "calls-token-1"
OUR = "+15005550006"
SCALE = 0.01

passes = 0
fails = 0


def check(what, cond, detail=""):
    global passes, fails
    if cond:
        passes += 1
    else:
        fails += 1
        print("FAIL %s %s" % (what, detail), file=sys.stderr)


def twilio_signature(token, url, fields):
    signed = url + "".join(k + v for k, v in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


MENU = """<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Gather numDigits="1" action="/digits?job=%(job)s" method="POST" timeout="6">
    <Say language="es-MX" voice="Polly.Mia">Hola Juan, su saldo es de un millón doscientos
      cincuenta mil pesos. Marque 1 para hablar con un asesor.</Say>
  </Gather>
  <Say language="es-MX">No recibimos respuesta. Adiós.</Say>
</Response>"""

VOICEMAIL = """<Response><Say>Este es un mensaje de Acme. Llámenos al 800 123 4567.</Say>
<Hangup/></Response>"""


class App:
    """The TwiML application: serves documents, records every request, checks signatures."""

    def __init__(self):
        self.records = []
        self.cond = threading.Condition()
        outer = self

        class H(BaseHTTPRequestHandler):
            def handle_one(self, method):
                parsed = urllib.parse.urlsplit(self.path)
                if method == "POST":
                    raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    fields = urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True)
                    signed_fields = fields
                else:
                    fields = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
                    signed_fields = []
                url = "http://127.0.0.1:%d%s" % (outer.port, self.path)
                ok = hmac.compare_digest(twilio_signature(TOKEN, url, signed_fields),
                                         self.headers.get("X-Twilio-Signature", ""))
                q = dict(urllib.parse.parse_qsl(parsed.query))
                f = dict(fields)
                rec = {"path": parsed.path, "query": q, "fields": f, "ok": ok, "method": method,
                       "t": time.time()}
                status, body = outer.answer(parsed.path, q, f) if ok else (403, "")
                with outer.cond:  # recorded before answering: the answer proves it arrived
                    outer.records.append(rec)
                    outer.cond.notify_all()
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml" if data else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self.handle_one("POST")

            def do_GET(self):
                self.handle_one("GET")

            def log_message(self, *a):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 512  # 200 calls connect at once (the default backlog is 5)
            daemon_threads = True

        self.srv = Server(("127.0.0.1", 0), H)
        self.port = self.srv.server_port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def answer(self, path, q, f):
        job = q.get("job", "0")
        if path == "/status":
            return 204, ""
        if path in ("/twiml", "/menu"):
            if f.get("AnsweredBy", "").startswith("machine"):
                return 200, VOICEMAIL
            return 200, MENU % {"job": job}
        if path == "/digits":
            d = f.get("Digits")
            if d == "1":
                return 200, ('<Response><Say>Le transferimos.</Say><Dial callerId="+15005550006" '
                             'timeout="20" action="/dialed?job=%s"><Number>+15550009999</Number>'
                             '</Dial></Response>' % job)
            if d == "2":
                return 200, ('<Response><Dial timeout="10"><Sip>sip:support@cc.example</Sip>'
                             '</Dial><Say>Fin.</Say></Response>')
            if d == "3":
                return 200, "<Response><Redirect>/menu?job=%s</Redirect></Response>" % job
            return 200, "<Response><Say>Gracias, no volveremos a llamar.</Say><Hangup/></Response>"
        if path == "/dialed":
            return 200, "<Response><Say>La llamada terminó.</Say></Response>"
        if path == "/pin":
            return 200, '<Response><Gather action="/digits?job=%s"><Say>PIN</Say></Gather></Response>' % job
        if path == "/long":
            return 200, '<Response><Pause length="100"/><Say>fin</Say></Response>'
        if path == "/bad":
            return 200, "this is <not xml"
        if path == "/unknown-verb":
            return 200, "<Response><Dance/></Response>"
        if path == "/fail":
            return 500, ""
        return 404, ""

    def wait(self, pred, n, timeout=15.0):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r for r in self.records if pred(r)]
                left = end - time.monotonic()
                if len(got) >= n or left <= 0:
                    return got
                self.cond.wait(left)


def http(method, url, body=None, auth=None, form=None):
    data = None
    headers = {}
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


CALLEES = [
    {"number": "+15550000001", "answer": "human", "press": "1", "transfer": "answered",
     "talk_s": 30},
    {"number": "+15550000002", "answer": "human", "press": "2", "transfer": "no-answer"},
    {"number": "+15550000003", "answer": "human"},
    {"number": "+15550000004", "answer": "busy"},
    {"number": "+15550000005", "answer": "no-answer"},
    {"number": "+15550000006", "answer": "machine", "greeting_s": 8},
    {"number": "+15550000007", "answer": "human", "press": ["3", {"digits": "9", "after_s": 1}]},
    {"number": "+15550000008", "answer": "failed"},
    {"number": "+15550000010", "answer": "human", "hangup_s": 3},
    {"number": "+15550000011", "answer": "human", "press": "1234#"},
    {"number": "+1555000002", "answer": "human", "ring_s": 1},  # a prefix: the load test
]


def place(base, to, path="/twiml", job="1", **extra):
    form = {"To": to, "From": OUR, "Url": "http://127.0.0.1:%d%s?job=%s" % (APP.port, path, job),
            "StatusCallback": "http://127.0.0.1:%d/status?job=%s" % (APP.port, job),
            "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"]}
    form.update(extra)
    form = {k: v for k, v in form.items() if v is not None}
    code, j = http("POST", "%s/2010-04-01/Accounts/%s/Calls.json" % (base, ACCOUNT),
                   auth=ACCOUNT + ":" + TOKEN, form=form)
    check("place %s: 201" % to, code == 201 and j["sid"].startswith("CA") and
          j["status"] == "queued", "%s %s" % (code, j))
    return j["sid"] if code == 201 else None


def calls(base, **q):
    code, j = http("GET", base + "/_sandbox/twilio-calls/calls?" + urllib.parse.urlencode(q))
    check("GET calls: 200", code == 200 and isinstance(j, dict), "%s %s" % (code, str(j)[:300]))
    return j if isinstance(j, dict) else {"calls": [], "stats": {}}


def wait_finished(base, n):
    code, j = http("GET", base + "/_sandbox/twilio-calls/wait?finished=%d&timeout_ms=20000" % n)
    check("%d calls finished" % n, code == 200 and j["reached"], str(j))


def one(base, sid):
    got = calls(base, sid=sid)["calls"]
    return got[0] if got else {}


def hangup(c):
    got = [e for e in c.get("events", []) if e["what"] == "hangup"]
    return got[0] if got else {}


def statuses(sid):
    recs = APP.wait(lambda r: r["path"] == "/status" and r["fields"].get("CallSid") == sid and
                    r["fields"].get("CallStatus") in ("completed", "busy", "no-answer", "failed"),
                    1, 10)
    return [r for r in APP.records if r["path"] == "/status" and r["fields"].get("CallSid") == sid]


def run(base):
    code, j = http("POST", base + "/_sandbox/twilio-calls/callees", CALLEES)
    check("callees added", code == 200 and j["added"] == len(CALLEES), str(j))
    code, _ = http("POST", base + "/_sandbox/twilio-calls/callees", [{"number": "+1", "answer": "x"}])
    check("bad callee: 400", code == 400)

    # Calls.json errors
    url = "%s/2010-04-01/Accounts/%s/Calls.json" % (base, ACCOUNT)
    ok_url = "http://127.0.0.1:%d/twiml" % APP.port
    for form, want in (({"From": OUR, "Url": ok_url}, 21201),
                       ({"To": "12", "From": OUR, "Url": ok_url}, 21211),
                       ({"To": "+15550000001", "Url": ok_url}, 21213),
                       ({"To": "+15550000001", "From": OUR}, 21205),
                       ({"To": "+15550000001", "From": OUR, "Url": "ftp://x"}, 21205),
                       ({"To": "+15550000001", "From": OUR, "Url": ok_url,
                         "MachineDetection": "Maybe"}, 21626),
                       ({"To": "+15550000001", "From": OUR, "Url": ok_url,
                         "StatusCallbackEvent": "exploded"}, 21626)):
        code, j = http("POST", url, auth=ACCOUNT + ":" + TOKEN, form=form)
        check("error %d" % want, code == 400 and j.get("code") == want, "%s %s" % (code, j))
    code, j = http("POST", url, auth=ACCOUNT + ":wrong", form={"To": "+15550000001"})
    check("bad auth: 401 20003", code == 401 and j.get("code") == 20003, str(j))

    t0 = time.time()
    s1 = place(base, "+15550000001", job="11")
    s2 = place(base, "+15550000002", job="12")
    s3 = place(base, "+15550000003", job="13")
    s4 = place(base, "+15550000004", job="14")
    s5 = place(base, "+15550000005", job="15", Timeout="5")
    s6a = place(base, "+15550000006", job="16", MachineDetection="DetectMessageEnd")
    s6b = place(base, "+15550000006", job="17", MachineDetection="Enable")
    s6c = place(base, "+15550000006", job="18")
    s7 = place(base, "+15550000007", job="19")
    s8 = place(base, "+15550000008", job="20")
    s10 = place(base, "+15550000010", job="21")
    sg = place(base, "+15550000003", job="22", Method="GET", StatusCallbackMethod="GET")
    si = place(base, "+15550000003", job="23", Url=None,
               Twiml="<Response><Say>Inline hola</Say></Response>")
    sb = place(base, "+15550000003", path="/bad", job="24")
    su = place(base, "+15550000003", path="/unknown-verb", job="25")
    sf = place(base, "+15550000003", path="/fail", job="26")
    sn = place(base, "+15550000003", job="27", StatusCallback=None, StatusCallbackEvent=None)
    st_ = place(base, "+15550000001", job="28", TimeLimit="12")
    s11 = place(base, "+15550000011", path="/pin", job="29")
    code, j = http("POST", base + "/_sandbox/twilio-calls/odds", {"busy": 1})
    check("odds set", code == 200 and j["odds"]["busy"] == 1, str(j))
    so = place(base, "+4930123456", job="31")
    wait_finished(base, 20)
    code, _ = http("POST", base + "/_sandbox/twilio-calls/odds", {"human": 1})
    check("odds: an unscripted number drew busy", one(base, so).get("status") == "busy",
          str(one(base, so)))
    dig = APP.wait(lambda r: r["path"] == "/digits" and r["query"].get("job") == "29", 1)
    check("finishOnKey left out of Digits", dig and dig[0]["fields"].get("Digits") == "1234" and
          dig[0]["fields"].get("FinishedOnKey") == "#", str(dig))

    # 1: menu, digit 1, transfer answered, Dial action
    c = one(base, s1)
    check("1 said the personalised menu", any("un millón doscientos cincuenta mil" in s
                                              for s in c["said"]), str(c.get("said")))
    check("1 digits", c["digits"] == ["1"], str(c["digits"]))
    check("1 transfer", c["transfer"] == "+15550009999" and c["dial_status"] == "completed", str(c))
    check("1 completed by the end", c["status"] == "completed", c["status"])
    check("1 duration >= 30 s", c["duration_s"] >= 30, str(c["duration_s"]))
    check("1 timestamps", c["created_ms"] <= c["started_ms"] <= c["answered_ms"] <= c["ended_ms"],
          str(c))
    check("1 time scaled (30 s talk < 3 s real)", (c["ended_ms"] - c["created_ms"]) < 3000,
          str(c["ended_ms"] - c["created_ms"]))
    dig = APP.wait(lambda r: r["path"] == "/digits" and r["query"].get("job") == "11", 1)
    check("1 Gather action posted Digits=1 signed", dig and dig[0]["ok"] and
          dig[0]["fields"].get("Digits") == "1" and dig[0]["fields"].get("CallSid") == s1,
          str(dig))
    dialed = APP.wait(lambda r: r["path"] == "/dialed" and r["query"].get("job") == "11", 1)
    check("1 Dial action DialCallStatus=completed", dialed and
          dialed[0]["fields"].get("DialCallStatus") == "completed" and
          int(dialed[0]["fields"].get("DialCallDuration", 0)) == 30, str(dialed))
    check("1 said after the Dial action", "La llamada terminó." in c["said"], str(c["said"]))
    st = statuses(s1)
    check("1 four status callbacks in order",
          [r["fields"]["CallStatus"] for r in st] == ["initiated", "ringing", "in-progress",
                                                      "completed"], str([r["fields"] for r in st]))
    check("1 sequence numbers", [r["fields"].get("SequenceNumber") for r in st] ==
          ["0", "1", "2", "3"], str(st))
    check("1 status callbacks signed", all(r["ok"] for r in st))
    check("1 CallDuration", st and int(st[-1]["fields"].get("CallDuration", -1)) >= 30, str(st))
    c = one(base, s1)  # again: the completed callback's answer is recorded after it arrives
    check("1 callbacks answered 204", c["callbacks"] == {"initiated": 204, "ringing": 204,
                                                         "answered": 204, "completed": 204},
          str(c["callbacks"]))
    check("1 no AnsweredBy without AMD", "AnsweredBy" not in st[-1]["fields"], str(st[-1]))

    # 2: SIP transfer not answered, no action: the verb after the Dial
    c = one(base, s2)
    check("2 sip transfer no-answer", c["transfer"] == "sip:support@cc.example" and
          c["dial_status"] == "no-answer" and "Fin." in c["said"], str(c))
    # 3: nothing pressed: the goodbye after the Gather
    c = one(base, s3)
    check("3 no input then goodbye", c["digits"] == [""] and
          c["said"][-1] == "No recibimos respuesta. Adiós.", str(c))
    # 4, 5, 8: busy, no-answer, failed
    for sid, want in ((s4, "busy"), (s5, "no-answer"), (s8, "failed")):
        c = one(base, sid)
        st = statuses(sid)
        check("%s status" % want, c["status"] == want and st and
              st[-1]["fields"]["CallStatus"] == want and st[-1]["fields"]["CallDuration"] == "0",
              str(c))
        check("%s never fetched" % want, not any(e["what"] == "fetch" for e in c["events"]))
    check("failed: no ringing", [r["fields"]["CallStatus"] for r in statuses(s8)] ==
          ["initiated", "failed"], str([r["fields"] for r in statuses(s8)]))
    c = one(base, s5)
    check("no-answer after Timeout=5", c["timeout_s"] == 5)
    # 6: machines
    for sid, want in ((s6a, "machine_end_beep"), (s6b, "machine_start")):
        c = one(base, sid)
        fetch = APP.wait(lambda r: r["path"] == "/twiml" and r["fields"].get("CallSid") == sid, 1)
        check("%s answered_by" % want, c["answered_by"] == want and fetch and
              fetch[0]["fields"].get("AnsweredBy") == want, str(c))
        check("%s left the voicemail" % want, c["said"] == [
            "Este es un mensaje de Acme. Llámenos al 800 123 4567."], str(c["said"]))
        check("%s AnsweredBy in completed" % want,
              statuses(sid)[-1]["fields"].get("AnsweredBy") == want)
    c = one(base, s6a)
    check("DetectMessageEnd waited for the greeting (8 s)", c["duration_s"] >= 8, str(c))
    c = one(base, s6c)
    check("machine without AMD hears the menu, presses nothing", c["answered_by"] is None and
          c["digits"] == [""] and len(c["said"]) == 2, str(c))
    # 7: 3 redirects to the menu, then 9
    c = one(base, s7)
    check("7 digits 3 then 9", c["digits"] == ["3", "9"], str(c["digits"]))
    check("7 redirect followed", any(e["what"] == "redirect" for e in c["events"]) and
          "Gracias, no volveremos a llamar." in c["said"], str(c["said"]))
    check("7 hung up by TwiML", hangup(c).get("by") == "twiml", str(c["events"]))
    # 10: the callee hangs up during the menu
    c = one(base, s10)
    check("10 callee hung up", hangup(c).get("by") == "callee" and c["duration_s"] == 3, str(c))
    # GET method: the fetch and the callbacks as GET with signed query
    fetch = APP.wait(lambda r: r["path"] == "/twiml" and r["query"].get("job") == "22", 1)
    check("GET fetch signed", fetch and fetch[0]["method"] == "GET" and fetch[0]["ok"] and
          fetch[0]["fields"].get("CallSid") == sg, str(fetch))
    st = statuses(sg)
    check("GET status callbacks", st and all(r["method"] == "GET" and r["ok"] for r in st), str(st))
    c = one(base, si)
    check("inline Twiml", c["said"] == ["Inline hola"], str(c))
    for sid, code_ in ((sb, 12100), (su, 12200), (sf, 11200)):
        c = one(base, sid)
        errs = [e for e in c["events"] if e["what"] == "error"]
        check("document error %d" % code_, errs and errs[0]["code"] == code_ and
              c["status"] == "completed", str(c["events"]))
    c = one(base, sn)
    check("no StatusCallback: none posted", c["callbacks"] == {} and c["status"] == "completed",
          str(c))

    c = one(base, st_)
    check("TimeLimit=12 hangs up the transfer", hangup(c).get("by") == "time-limit" and
          c["duration_s"] == 12, str(c))
    cut = APP.wait(lambda r: r["path"] == "/dialed" and r["query"].get("job") == "28", 1)
    check("TimeLimit during the Dial: its action still posted (connected 12-3-2 s)", cut and
          cut[0]["fields"].get("DialCallStatus") == "completed" and
          cut[0]["fields"].get("DialCallDuration") == "7", str(cut))

    # GET the call resource
    code, j = http("GET", "%s/2010-04-01/Accounts/%s/Calls/%s.json" % (base, ACCOUNT, s1),
                   auth=ACCOUNT + ":" + TOKEN)
    check("GET call resource", code == 200 and j["status"] == "completed" and j["sid"] == s1 and
          int(j["duration"]) >= 30, str(j))
    code, _ = http("GET", "%s/2010-04-01/Accounts/%s/Calls/CA%s.json" % (base, ACCOUNT, "0" * 32),
                   auth=ACCOUNT + ":" + TOKEN)
    check("GET unknown call: 404", code == 404)

    # forged Gather action: the application refuses it
    code, j = http("POST", base + "/_sandbox/twilio-calls/forge",
                   {"url": "http://127.0.0.1:%d/digits?job=11" % APP.port, "call_sid": s1})
    check("forged gather refused", code == 200 and j["status"] == 403, str(j))
    forged = [r for r in APP.records if r["path"] == "/digits" and not r["ok"]]
    check("forged request arrived unsigned-right", len(forged) == 1)

    # all the application's requests were signed right
    bad = [r for r in APP.records if not r["ok"]]
    check("every real request signed right", len(bad) == 1, str(bad[:3]))

    # many at once: 200 calls of ~14 s simulated each (1 s ring + menu + 6 s timeout + goodbye)
    code, _ = http("DELETE", base + "/_sandbox/twilio-calls/calls")
    check("forget", code == 200 and calls(base)["calls"] == [])
    before = calls(base)["stats"]
    n = 200
    t0 = time.time()
    threads = []
    sids = []
    lock = threading.Lock()

    def burst(k):
        for i in range(k, n, 8):
            sid = place(base, "+1555000002%04d" % i, job="L%d" % i, StatusCallbackEvent="completed")
            with lock:
                sids.append(sid)

    for k in range(8):
        t = threading.Thread(target=burst, args=(k,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    wait_finished(base, n)
    elapsed = time.time() - t0
    j = calls(base)
    st = j["stats"]
    cs = j["calls"]
    check("load: all completed", len(cs) == n and all(c["status"] == "completed" for c in cs),
          str(len(cs)))
    check("load: no fetch or callback failed",
          st.get("fetches_failed") == before.get("fetches_failed") and
          st.get("callbacks_failed") == before.get("callbacks_failed"), str((before, st)))
    real = [c["ended_ms"] - c["started_ms"] for c in cs]
    sim = [c["duration_s"] for c in cs]
    # concurrency from the timestamps, as tests of the worker measure it
    evs = sorted([(c["created_ms"], 1) for c in cs] + [(c["ended_ms"], -1) for c in cs])
    cur = peak = 0
    for _, d in evs:
        cur += d
        peak = max(peak, cur)
    check("load: simultaneous (peak %d, stats %d)" % (peak, st["max_concurrent"]),
          peak >= n // 2 and st["max_concurrent"] >= n // 2, str(st))
    check("load: not serialised (%.2fs for %d calls of ~%ds)" % (elapsed, n, max(sim)),
          elapsed < 10, str(elapsed))  # one after another: > 36 s
    check("load: each call's real length ~ scale x simulated", all(
        r >= s * 1000 * SCALE * 0.5 for r, s in zip(real, sim)), str(list(zip(real, sim))[:5]))
    if os.environ.get("SB_CALLS_DEBUG"):
        c0 = cs[len(cs) // 2]
        for e in c0["events"]:
            print(e["t_ms"] - c0["created_ms"], e["what"], e.get("event", e.get("url", "")))
    print("load: %d calls, peak concurrency %d, %.2f s wall, median real %d ms for %d s simulated"
          % (n, peak, elapsed, sorted(real)[n // 2], sorted(sim)[n // 2]))

    # the time scale can change at run time
    code, j = http("POST", base + "/_sandbox/twilio-calls/config", {"time_scale": 0.001})
    check("config time_scale", code == 200 and abs(j["time_scale"] - 0.001) < 1e-9, str(j))
    sl = place(base, "+15550000003", path="/long", job="30")
    wait_finished(base, n + 1)
    c = one(base, sl)
    check("100 s pause at 0.001 takes ~0.1 s", c["duration_s"] >= 100 and
          c["ended_ms"] - c["answered_ms"] < 2000, str(c))


APP = None


def main():
    global APP
    binary = sys.argv[1]
    work = tempfile.mkdtemp()
    APP = App()
    rc = subprocess.run([binary, "--calls-time-scale", "0"], stderr=subprocess.PIPE).returncode
    check("bad time scale: exit 2", rc == 2, str(rc))
    bad = os.path.join(work, "bad.json")
    with open(bad, "w") as f:
        json.dump([{"number": "+1", "answer": "sometimes"}], f)
    rc = subprocess.run([binary, "--calls-script", bad, "--listen", "127.0.0.1:0"],
                        stderr=subprocess.PIPE).returncode
    check("bad callee script: exit 1", rc == 1, str(rc))

    port_file = os.path.join(work, "port")
    log = open(os.path.join(work, "sandbox.log"), "w")
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--port-file", port_file,
                             "--account", ACCOUNT + ":" + TOKEN, "--threads", "2",
                             "--calls-time-scale", str(SCALE), "--calls-seed", "7"], stderr=log)
    try:
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        base = "http://127.0.0.1:%s" % open(port_file).read().strip()
        run(base)
    finally:
        proc.terminate()
        rc = proc.wait(timeout=10)
        check("clean exit", rc == 0, str(rc))
        log.close()
        if fails:
            sys.stderr.write(open(os.path.join(work, "sandbox.log")).read())
    print("test_sandbox_calls: %d passed, %d failed" % (passes, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
