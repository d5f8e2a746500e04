#!/usr/bin/python3
"""hostile_http.py HOOKS_URL TOKEN — attacks pregon-hooks' Twilio routes over raw sockets and
prints one line per check: "ok NAME" or "FAIL NAME: why". Signed requests are signed here
(HMAC-SHA1 over the URL and the sorted fields' names and values, as Twilio does)."""
import base64, hashlib, hmac, socket, sys, time, urllib.parse

base, token = sys.argv[1], sys.argv[2].encode()
host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
AC = "AC00000000000000000000000000000000"


def sign(url, fields):
    msg = url.encode() + b"".join(k + v for k, v in sorted(fields))
    return base64.b64encode(hmac.new(token, msg, hashlib.sha1).digest()).decode()


def enc(fields):
    return b"&".join(urllib.parse.quote_from_bytes(k).encode() + b"=" +
                     urllib.parse.quote_from_bytes(v).encode() for k, v in fields)


def raw(data, timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(rest) >= int(cl[0].split(b":")[1]):
                    break
    except socket.timeout:
        pass
    s.close()
    try:
        return int(out.split(b" ", 2)[1])
    except Exception:
        return 0


def post(target, fields, sig=None, signed_url=None, extra=b""):
    body = enc(fields)
    if sig is None:
        sig = sign(signed_url or base + target, fields)
    h = b"X-Twilio-Signature: " + sig.encode() + b"\r\n" if sig else b""
    return raw(b"POST " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n" + h + extra +
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def check(name, cond, why=""):
    print(("ok " + name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)


def status_fields(sid, status=b"delivered", **more):
    f = [(b"AccountSid", AC.encode()), (b"MessageSid", sid), (b"MessageStatus", status),
         (b"To", b"+15550000001"), (b"From", b"+15005550006")]
    return f + [(k.encode(), v) for k, v in more.items()]


S = "/twilio/sms/status"
st = post(S, status_fields(b"SMr1"), sig="")
check("unsigned 403", st == 403, st)
st = post(S, status_fields(b"SMr1"), sig="A" * 27 + "=")
check("forged 403", st == 403, st)
f = status_fields(b"SMr1")
st = post(S, f, sig=sign(base + S, f)[:-2])
check("truncated signature 403", st == 403, st)
st = post(S, status_fields(b"SMr1", status=b"failed"), sig=sign(base + S, status_fields(b"SMr1")))
check("signature of other values 403", st == 403, st)
st = post(S + "?x=1", status_fields(b"SMr1"), signed_url=base + S)
check("query string not signed 403", st == 403, st)
st = post(S + "?x=1", status_fields(b"SMq1"))
check("query string signed 200", st == 200, st)
f = status_fields(b"SMrep") + [(b"To", b"+15550000002")]
st = post(S, f)
check("repeated field signed 200", st == 200, st)
st = post(S, f[:-1] + [(b"To", b"+15550000003")], sig=sign(base + S, f))
check("repeated field changed 403", st == 403, st)
f = status_fields(b"SM\xff\xfe\xc0\xaf", ErrorCode=b"")
st = post(S, f)
check("non-UTF-8 id signed: answered", st in (200, 400), st)
f = status_fields(b"SMlong" + b"x" * 3000)
st = post(S, f)
check("3 KB id signed: answered, not 5xx", st in (200, 400), st)
f = status_fields(b"", status=b"")
check("empty values 400", post(S, f) == 400)
f = status_fields(b"SMbad", status=b"Delivered!")
check("bad status 400", post(S, f) == 400)
f = [(b"AccountSid", b"ACnobody"), (b"MessageSid", b"SMx"), (b"MessageStatus", b"sent")]
check("unknown account 403", post(S, f) == 403)
# methods and paths
for target, method in [(S, "GET"), (S, "PUT"), (S, "DELETE")]:
    st = raw(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, target)).encode())
    check("%s %s 405" % (method, target), st == 405, st)
# a request signed for one route, replayed on another path or route: never acted on
for target in ["//twilio/sms/status", "/twilio/sms/status/", "/twilio/sms/%2e%2e/sms/status",
               "/twilio/sms/%73tatus", "/twilio/./sms/status", "/twilio/sms/status%00",
               "/twilio/sms/../sms/status", "/twilio/sms/inbound", "/twilio/sms/status?"]:
    f = status_fields(b"SMpath")
    st = post(target, f, signed_url=base + S)
    check("path %s signed for %s not 2xx" % (target, S), not (200 <= st < 300), st)
# body size: the limit is 4096 (run.sh starts pregon-hooks so)
pad = lambda n: status_fields(b"SMlimit", Pad=b"")
f = pad(0)
room = 4096 - len(enc(f))
f = status_fields(b"SMlimit", Pad=b"p" * room)
check("body at exactly the limit accepted", len(enc(f)) == 4096 and post(S, f) == 200, len(enc(f)))
f = status_fields(b"SMlimit", Pad=b"p" * (room + 1))
check("one byte over the limit 413", post(S, f) == 413)
body = enc(status_fields(b"SMchunk", Pad=b"p" * 8000))
f = status_fields(b"SMchunk", Pad=b"p" * 8000)
chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000])
                   for i in range(0, len(body), 1000)) + b"0\r\n\r\n"
st = raw(b"POST " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
         b"X-Twilio-Signature: " + sign(base + S, f).encode() + b"\r\n\r\n" + chunked)
check("chunked body over the limit 413", st == 413, st)
small = status_fields(b"SMchunk2")
body = enc(small)
chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
st = raw(b"POST " + S.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
         b"X-Twilio-Signature: " + sign(base + S, small).encode() + b"\r\n\r\n" + chunked)
check("chunked body signed 200", st == 200, st)
# keyword folding on hostile UTF-8 (inbound): answered, never a crash
I = "/twilio/sms/inbound"
for i, text in enumerate([b"S\xc0\xd4OP", b"ST\xe2\x80\x8dOP", b"STO\xf0\x9f", b"\xef\xbb\xbfSTOP",
                          b"\xc1\x93TOP", b"S" * 3000, b"\x00STOP", b"B\xc3\x81JA\xcc\x81"]):
    f = [(b"AccountSid", AC.encode()), (b"MessageSid", b"SMkw%d" % i), (b"From", b"+15550000009"),
         (b"To", b"+15005550006"), (b"Body", text)]
    st = post(I, f)
    check("inbound body %r answered" % text[:12], st in (200, 400), st)
# slowloris: 200 connections that never finish their headers, then an honest request
slow = []
for _ in range(200):
    s = socket.create_connection((host, port))
    s.sendall(b"POST " + S.encode() + b" HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
t = time.time()
st = post(S, status_fields(b"SMslow"))
check("honest request under 200 slow connections", st == 200 and time.time() - t < 5,
      "%s in %.1fs" % (st, time.time() - t))
for s in slow:
    s.close()
# thousands of connections: past max_connections (1024) they are refused, the process lives
many = []
for _ in range(2000):
    try:
        many.append(socket.create_connection((host, port), timeout=2))
    except OSError:
        break
for s in many:
    s.close()
time.sleep(0.5)
st = post(S, status_fields(b"SMafter"))
check("done: serving after %d connections" % len(many), st == 200, st)
