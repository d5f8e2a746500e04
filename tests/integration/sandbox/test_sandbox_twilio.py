#!/usr/bin/env python3
"""test_sandbox_twilio.py — the sandbox's Twilio Messaging module as a webhook sender.

Starts the real pregon-sandbox on a spare loopback port and a receiver (http.server) standing in
for pregon-hooks, which verifies every X-Twilio-Signature with its own HMAC-SHA1 (Twilio's
algorithm re-implemented here, to cross-check pg_sig) and refuses bad ones with 403. Checks:
status callbacks (sent then delivered, undelivered/failed with ErrorCode from --dlr-like rules
added through the control API), their fields; scripted replies (from --reply-script and the
control API: STOP, "Baja", "sí") posted as inbound messages with Twilio's fields; each rule used
once; duplicated status callbacks; a forged callback refused and counted as failed; a failing
receiver counted; the inbound control route; replies without an inbound URL counted; bad input.

usage: test_sandbox_twilio.py path/to/pregon-sandbox      exit status 0 when every check passes
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

ACCOUNT = "AC" + "a1" * 16
TOKEN = "secret-token-1"
OUR = "+15005550006"

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
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted name+value))."""
    signed = url + "".join(k + v for k, v in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


class Receiver:
    """Records every POST; answers 204 when signed right, 403 when not, 500 on /fail paths."""

    def __init__(self):
        self.records = []
        self.cond = threading.Condition()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fields = urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True)
                url = "http://127.0.0.1:%d%s" % (outer.port, self.path)
                want = twilio_signature(TOKEN, url, fields)
                got = self.headers.get("X-Twilio-Signature", "")
                ok = hmac.compare_digest(want, got)
                rec = {"path": self.path, "fields": dict(fields), "raw": raw, "sig": got,
                       "ok": ok, "type": self.headers.get("Content-Type")}
                status = 500 if "/fail" in self.path else (204 if ok else 403)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with outer.cond:
                    outer.records.append(rec)
                    outer.cond.notify_all()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def wait(self, pred, n, timeout=10.0):
        """Waits until n records satisfy pred; returns them."""
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
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp()
    rx = Receiver()
    status_url = "http://127.0.0.1:%d/hooks/twilio/status?tenant=acme&x=1" % rx.port
    inbound_url = "http://127.0.0.1:%d/hooks/twilio/inbound?tenant=acme" % rx.port
    script = os.path.join(work, "replies.json")
    with open(script, "w") as f:
        json.dump([{"number": "+573001110001", "body": "STOP", "delay_ms": 20}], f)

    # bad flags exit 2 before listening
    bad = os.path.join(work, "bad.json")
    with open(bad, "w") as f:
        json.dump([{"number": "573001110001", "body": "STOP"}], f)
    rc = subprocess.run([binary, "--reply-script", bad], stderr=subprocess.PIPE).returncode
    check("bad reply script: exit 2", rc == 2, str(rc))
    rc = subprocess.run([binary, "--inbound-url", "ftp://x"], stderr=subprocess.PIPE).returncode
    check("bad inbound url: exit 2", rc == 2, str(rc))

    port_file = os.path.join(work, "port")
    log = open(os.path.join(work, "sandbox.log"), "w")
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--port-file", port_file,
                             "--account", ACCOUNT + ":" + TOKEN, "--callbacks",
                             "--callback-delay-ms", "50", "--inbound-url", inbound_url,
                             "--reply-script", script, "--threads", "2"], stderr=log)
    try:
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        base = "http://127.0.0.1:%s" % open(port_file).read().strip()
        run(base, rx, status_url, inbound_url)
    finally:
        proc.terminate()
        rc = proc.wait(timeout=10)
        check("clean exit", rc == 0, str(rc))
        log.close()
        if fails:
            sys.stderr.write(open(os.path.join(work, "sandbox.log")).read())
    print("test_sandbox_twilio: %d passed, %d failed" % (passes, fails))
    return 1 if fails else 0


def send(base, to, callback, body="Hola, tiene un saldo pendiente"):
    form = {"To": to, "From": OUR, "Body": body}
    if callback:
        form["StatusCallback"] = callback
    code, j = http("POST", "%s/2010-04-01/Accounts/%s/Messages.json" % (base, ACCOUNT),
                   auth=ACCOUNT + ":" + TOKEN, form=form)
    check("send to %s: 201" % to, code == 201, "%s %s" % (code, j))
    return j["sid"] if code == 201 else None


def run(base, rx, status_url, inbound_url):
    # control: two more repliers and one undelivered prefix
    code, j = http("POST", base + "/_sandbox/twilio-sms/replies",
                   [{"number": "+573001110002", "body": "Baja", "delay_ms": 10},
                    {"number": "+573001110003", "body": "sí"}])
    check("replies added", code == 200 and j["added"] == 2 and j["pending"] == 3, str(j))
    code, j = http("POST", base + "/_sandbox/twilio/dlr",
                   {"prefix": "+57300999", "status": "undelivered", "error_code": 30003})
    check("dlr rule added", code == 200 and j["added"] == 1, str(j))
    code, _ = http("POST", base + "/_sandbox/twilio-sms/replies", [{"number": "+57", "body": "x"}])
    check("bad reply rule: 400", code == 400)
    code, _ = http("POST", base + "/_sandbox/twilio-sms/config", {"nope": 1})
    check("unknown config field: 400", code == 400)

    sids = {}
    for n in ("+573001110001", "+573001110002", "+573001110003", "+573009990001",
              "+150055530001"):
        sids[n] = send(base, n, status_url)

    status = rx.wait(lambda r: "/status" in r["path"], 9)
    inbound = rx.wait(lambda r: "/inbound" in r["path"], 3)
    check("9 status callbacks", len(status) == 9, str(len(status)))
    check("3 inbound messages", len(inbound) == 3, str(len(inbound)))
    check("all signatures valid", all(r["ok"] for r in status + inbound),
          str([r["sig"] for r in status + inbound if not r["ok"]]))
    check("form content type",
          all(r["type"] == "application/x-www-form-urlencoded" for r in status + inbound))

    def seq(sid):
        return [r["fields"].get("MessageStatus") for r in status if r["fields"]["MessageSid"] == sid]

    for n in ("+573001110001", "+573001110002", "+573001110003"):
        check("delivered sequence " + n, seq(sids[n]) == ["sent", "delivered"], str(seq(sids[n])))
    check("undelivered sequence", seq(sids["+573009990001"]) == ["sent", "undelivered"])
    check("failed alone", seq(sids["+150055530001"]) == ["failed"], str(seq(sids["+150055530001"])))
    for r in status:
        f = r["fields"]
        sid = f["MessageSid"]
        to = [n for n, s in sids.items() if s == sid]
        check("status fields", f.get("To") == (to[0] if to else None) and f.get("From") == OUR and
              f.get("AccountSid") == ACCOUNT and f.get("ApiVersion") == "2010-04-01", str(f))
        final_error = f["MessageStatus"] in ("undelivered", "failed")
        check("ErrorCode only when it failed", ("ErrorCode" in f) == final_error, str(f))
        if f["MessageStatus"] == "undelivered":
            check("ErrorCode 30003", f["ErrorCode"] == "30003", str(f))
        if f["MessageStatus"] == "failed":
            check("ErrorCode 30001", f["ErrorCode"] == "30001", str(f))

    by_from = {r["fields"].get("From"): r["fields"] for r in inbound}
    for n, body in (("+573001110001", "STOP"), ("+573001110002", "Baja"), ("+573001110003", "sí")):
        f = by_from.get(n, {})
        check("reply from " + n, f.get("Body") == body and f.get("To") == OUR, str(f))
        check("inbound fields " + n,
              f.get("AccountSid") == ACCOUNT and f.get("MessageSid", "").startswith("SM") and
              len(f.get("MessageSid", "")) == 34 and f.get("NumMedia") == "0" and
              f.get("NumSegments") == "1" and f.get("ApiVersion") == "2010-04-01", str(f))
    check("inbound sids differ from outbound",
          not set(f.get("MessageSid") for f in by_from.values()) & set(sids.values()))

    code, j = http("GET", base + "/_sandbox/twilio-sms/replies")
    check("every rule used once", code == 200 and j == [], str(j))
    # a second message to a number that replied: no second reply (times 1)
    again = send(base, "+573001110001", None)
    check("no callback without StatusCallback", again is not None)

    # duplicates: every status callback twice, identical
    code, j = http("POST", base + "/_sandbox/twilio-sms/config", {"duplicate_callbacks": True})
    check("duplicates on", code == 200 and j["duplicate_callbacks"] is True, str(j))
    dup_sid = send(base, "+573001110005", status_url)
    dups = rx.wait(lambda r: r["fields"].get("MessageSid") == dup_sid, 4)
    check("4 callbacks for one message", len(dups) == 4, str(len(dups)))
    sent = [r for r in dups if r["fields"]["MessageStatus"] == "sent"]
    dlv = [r for r in dups if r["fields"]["MessageStatus"] == "delivered"]
    check("sent twice, identical", len(sent) == 2 and sent[0]["raw"] == sent[1]["raw"] and
          sent[0]["sig"] == sent[1]["sig"])
    check("delivered twice, identical", len(dlv) == 2 and dlv[0]["raw"] == dlv[1]["raw"])
    http("POST", base + "/_sandbox/twilio-sms/config", {"duplicate_callbacks": False})

    # forged: a wrong signature, refused by the receiver, counted as failed
    code, j = http("POST", base + "/_sandbox/twilio-sms/forge",
                   {"url": status_url, "message_sid": sids["+573001110001"]})
    check("forge: 202", code == 202, str(j))
    forged = rx.wait(lambda r: not r["ok"], 1)
    check("forged callback arrives with a bad signature", len(forged) == 1 and
          forged[0]["fields"].get("MessageSid") == sids["+573001110001"], str(forged))
    code, _ = http("POST", base + "/_sandbox/twilio-sms/forge", {"kind": "status"})
    check("forge without url: 400", code == 400)

    # the inbound control route, and a receiver that fails
    code, j = http("POST", base + "/_sandbox/twilio-sms/inbound",
                   {"from": "+573001110009", "body": "START"})
    check("inbound: 202", code == 202, str(j))
    got = rx.wait(lambda r: r["fields"].get("Body") == "START", 1)
    check("inbound START signed", len(got) == 1 and got[0]["ok"] and
          got[0]["fields"]["From"] == "+573001110009", str(got))
    fail_url = "http://127.0.0.1:%d/hooks/fail" % rx.port
    send(base, "+573001110006", fail_url)
    rx.wait(lambda r: "/fail" in r["path"], 2)

    # replies with no inbound URL are counted, not sent
    http("POST", base + "/_sandbox/twilio-sms/config", {"inbound_url": None})
    http("POST", base + "/_sandbox/twilio-sms/replies", {"number": "+573001110007", "body": "STOP"})
    send(base, "+573001110007", None)
    code, j = http("POST", base + "/_sandbox/twilio-sms/inbound", {"from": "+573001110009",
                                                                   "body": "x"})
    check("inbound without URL: 400", code == 400, str(j))

    # counters: wait until the sender has reaped everything (it has no pending work left)
    for _ in range(200):
        code, st = http("GET", base + "/_sandbox/stats")
        if st["callbacks"]["pending"] == 0 and st["callbacks"]["by_kind"].get(
                "twilio-sms/forged", {}).get("failed") == 1:
            break
        time.sleep(0.02)
    kinds = st["callbacks"]["by_kind"]
    mod = st["modules"]["twilio-sms"]
    check("status sent counted", kinds["twilio-sms/status"]["sent"] == 13, str(kinds))
    check("status failures counted", kinds["twilio-sms/status"]["failed"] == 2, str(kinds))
    check("inbound counted", kinds["twilio-sms/inbound"]["sent"] == 4, str(kinds))
    check("forged counted as failed", kinds["twilio-sms/forged"] == {
        "queued": 1, "sent": 0, "failed": 1, "dropped": 0}, str(kinds))
    check("totals", st["callbacks"]["sent"] == 17 and st["callbacks"]["failed"] == 3, str(st))
    check("module counters", mod["status_callbacks"] == 13 and mod["duplicates"] == 2 and
          mod["inbound"] == 4 and mod["forged"] == 1 and mod["inbound_without_url"] == 2 and
          mod["replies_pending"] == 0, str(mod))


if __name__ == "__main__":
    sys.exit(main())
