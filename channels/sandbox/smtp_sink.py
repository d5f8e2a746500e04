#!/usr/bin/python3
"""smtp_sink.py — pregon-sandbox's SMTP sink: a real SMTP server (aiosmtpd) for tests and the demo.

It accepts submissions the way a relay would (EHLO, STARTTLS with a test certificate made with
openssl at start, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA), keeps every accepted message in memory
and shows them over HTTP for tests to read. Replies can be scripted per recipient (or per
domain, "*@domain"): a code and text at RCPT or at DATA, a delay before answering ("slow"), a
number of times. It is not a relay: nothing is ever forwarded. The SMTP protocol is aiosmtpd's;
nothing here parses SMTP.

HTTP (loopback; JSON):
  GET  /messages                 every accepted message: {id, mail_from, rcpts, data (the raw
                                 message, UTF-8 with surrogateescape), tls, auth, session, at}
  GET  /stats                    {connections, tls, auth_ok, auth_failed, messages, rcpt_refused,
                                  data_refused, rcpt_by_domain: {domain: n}}
  POST /script                   [{"rcpt": "a@x.test" | "*@x.test", "code": 550,
                                  "text": "5.1.1 no such user", "stage": "rcpt" | "data",
                                  "delay_ms": 0, "times": -1 (for ever)}]: replaces the script
  POST /reset                    forgets messages, counters and script
Options: --listen HOST:PORT (0 = a free port), --port-file F (the SMTP port), --http-port-file
F, --user U (password from SINK_PASSWORD; AUTH required when given), --no-tls, --cert-dir D
(the certificate is D/sink.crt: clients trust it with --ca-file), --hostname NAME.
"""
import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

LOCK = threading.Lock()
STATE = {"messages": [], "script": [], "stats": {}}


def reset_stats():
    STATE["stats"] = {"connections": 0, "tls": 0, "auth_ok": 0, "auth_failed": 0, "messages": 0,
                      "rcpt_refused": 0, "data_refused": 0, "rcpt_by_domain": {}}


reset_stats()


def scripted(rcpt, stage):
    """The scripted reply for rcpt at stage (consumes one of its times), or None."""
    rcpt = rcpt.lower()
    domain = rcpt.rsplit("@", 1)[-1]
    with LOCK:
        for entry in STATE["script"]:
            if entry.get("stage", "rcpt") != stage or entry.get("times", -1) == 0:
                continue
            want = entry["rcpt"].lower()
            if want == rcpt or (want.startswith("*@") and want[2:] == domain):
                if entry.get("times", -1) > 0:
                    entry["times"] -= 1
                return dict(entry)
    return None


def reply_of(entry):
    return "%d %s" % (int(entry["code"]), entry.get("text") or "scripted reply")


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.lower().rsplit("@", 1)[-1]
        with LOCK:
            by = STATE["stats"]["rcpt_by_domain"]
            by[domain] = by.get(domain, 0) + 1
        entry = scripted(address, "rcpt")
        if entry and entry.get("delay_ms"):
            await asyncio.sleep(entry["delay_ms"] / 1000.0)
        if entry and entry.get("code"):
            code = int(entry["code"])
            if code >= 400:
                with LOCK:
                    STATE["stats"]["rcpt_refused"] += 1
                return reply_of(entry)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            entry = scripted(rcpt, "data")
            if entry and entry.get("delay_ms"):
                await asyncio.sleep(entry["delay_ms"] / 1000.0)
            if entry and entry.get("code") and int(entry["code"]) >= 400:
                with LOCK:
                    STATE["stats"]["data_refused"] += 1
                return reply_of(entry)
        with LOCK:
            mid = "sink-%d" % (len(STATE["messages"]) + 1)
            STATE["messages"].append({
                "id": mid, "mail_from": envelope.mail_from, "rcpts": list(envelope.rcpt_tos),
                "data": envelope.original_content.decode("utf-8", "surrogateescape"),
                "tls": session.ssl is not None,
                "auth": session.auth_data.login.decode() if isinstance(
                    session.auth_data, LoginPassword) else None,
                "session": id(session), "at": time.time()})
            STATE["stats"]["messages"] += 1
        return "250 2.0.0 OK queued as " + mid


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        first = self.transport is None  # STARTTLS calls this again on the same protocol
        super().connection_made(transport)
        with LOCK:
            STATE["stats"]["connections" if first else "tls"] += 1


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        good = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                and auth_data.password.decode() == password)
        with LOCK:
            STATE["stats"]["auth_ok" if good else "auth_failed"] += 1
        return AuthResult(success=good, handled=False, auth_data=auth_data if good else None)
    return authenticator


def make_cert(cert_dir):
    crt, key = os.path.join(cert_dir, "sink.crt"), os.path.join(cert_dir, "sink.key")
    if not (os.path.exists(crt) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    return ctx


class Http(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def _answer(self, code, obj):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogateescape")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            if self.path.startswith("/messages"):
                obj = list(STATE["messages"])
            elif self.path.startswith("/stats"):
                obj = json.loads(json.dumps(STATE["stats"]))
            else:
                return self._answer(404, {"error": "no such route"})
        self._answer(200, obj)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == "/script":
            try:
                script = json.loads(raw or b"[]")
                assert isinstance(script, list) and all("rcpt" in e for e in script)
            except (ValueError, AssertionError):
                return self._answer(400, {"error": "a list of {rcpt, code, ...} expected"})
            with LOCK:
                STATE["script"] = script
            return self._answer(200, {"entries": len(script)})
        if self.path == "/reset":
            with LOCK:
                STATE["messages"], STATE["script"] = [], []
                reset_stats()
            return self._answer(200, {})
        self._answer(404, {"error": "no such route"})


def write_port(path, port):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, path)


async def serve(args, tls, authenticator):
    host, port = args.listen.rsplit(":", 1)
    loop = asyncio.get_running_loop()

    def factory():
        return CountingSMTP(Handler(), hostname=args.hostname, tls_context=tls,
                            require_starttls=tls is not None, authenticator=authenticator,
                            auth_required=authenticator is not None,
                            auth_require_tls=tls is not None, loop=loop)
    server = await loop.create_server(factory, host, int(port))
    smtp_port = server.sockets[0].getsockname()[1]
    write_port(args.port_file, smtp_port)
    print("smtp-sink: serving smtp://%s:%d%s%s" % (host, smtp_port,
          " (STARTTLS required)" if tls else "", " (AUTH required)" if authenticator else ""),
          file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--http-listen", default="127.0.0.1:0")
    ap.add_argument("--http-port-file")
    ap.add_argument("--user")
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--cert-dir")
    ap.add_argument("--hostname", default="sink.pregon.test")
    args = ap.parse_args()
    tls = None
    if not args.no_tls:
        tls = make_cert(args.cert_dir or tempfile.mkdtemp(prefix="smtp-sink-"))
    authenticator = None
    if args.user:
        authenticator = make_authenticator(args.user, os.environ.get("SINK_PASSWORD", ""))
    hhost, hport = args.http_listen.rsplit(":", 1)
    httpd = ThreadingHTTPServer((hhost, int(hport)), Http)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    write_port(args.http_port_file, httpd.server_address[1])
    print("smtp-sink: http view on http://%s:%d" % (hhost, httpd.server_address[1]),
          file=sys.stderr, flush=True)
    try:
        asyncio.run(serve(args, tls, authenticator))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
