"""api_common.py — what the pregon-api tests share: the stack run.sh started (environment),
HTTP calls with a token, jobs, the SSE reader."""
import json
import zlib
import os
import subprocess
import urllib.error
import urllib.request

API = os.environ["PG_API"]
DIR = os.environ["PG_DIR"]


def call(method, path, token=None, body=None, ctype="application/json", headers=None):
    """(status, headers, body text) of one request; body: bytes, str or a JSON value."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(API + path, data=body, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def jcall(*a, **kw):
    status, headers, text = call(*a, **kw)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def job(jid, debtor, tenant="acme", **kw):
    j = {"job_id": jid, "tenant": tenant, "campaign": "api", "debtor_id": debtor,
         "channel": "sms", "contact": "+1555%07d" % (zlib.crc32(debtor.encode()) % 10**7),
         "template_id": "aviso_mora_sms", "jurisdiction": "AP", "time_zone": "UTC",
         "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta",
                       "monto": "$100", "telefono": "800", "enlace": "x.co"}}
    j.update(kw)
    if j.get("tenant") is None:
        del j["tenant"]
    return j


def sse(token, since=0, wait_ms=2000, tenant=None):
    """(events as dicts, last id) of one GET /v1/events."""
    q = "?since=%d&wait_ms=%d" % (since, wait_ms) + ("&tenant=" + tenant if tenant else "")
    status, headers, text = call("GET", "/v1/events" + q, token)
    assert status == 200, (status, text)
    assert headers.get("Content-Type", "").startswith("text/event-stream"), headers
    events, last = [], since
    for block in text.split("\n\n"):
        rec = {}
        for line in block.split("\n"):
            if line.startswith(":") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            rec[k] = v[1:] if v.startswith(" ") else v
        if "id" in rec:
            last = int(rec["id"])
        if "data" in rec:
            e = json.loads(rec["data"])
            assert e["type"] == rec.get("event"), rec
            events.append(e)
    return events, last


def ctl_submit(jobs):
    """The verdicts pregonctl submit (the ZeroMQ path) gets for jobs."""
    path = os.path.join(DIR, "ctl-%d.jsonl" % os.getpid())
    with open(path, "w") as f:
        for j in jobs:
            f.write(json.dumps(j) + "\n")
    out = subprocess.run([os.environ["PG_CTL"], "submit", "--endpoint", os.environ["PG_FRONT"],
                          "--json", "--timeout", "20", "--key-file", os.environ["PG_CTL_KEY"],
                          "--broker-key-file", os.environ["PG_BROKER_PUB"], path],
                         capture_output=True, text=True)
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
