"""api_test.py — pregon-api's behaviour over a real pregond (run by run.sh): batch submit,
verdicts equal to the ZeroMQ path's for the same jobs, tenant isolation, SSE verdict and report
events with every report field, the explain view, suppressions, limits and errors."""
import http.client
import json
import sys
import time

from api_common import API, call, ctl_submit, jcall, job, sse

fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what)


def variants(prefix):
    """One of each verdict the AP policy and the field checks give, twice per debtor."""
    js = []
    for d in range(20):  # a debtor's first job ACCEPTED, its second DEFERRED (ap.daily)
        js.append(job("%s-%d-a" % (prefix, d), "%s-d%d" % (prefix, d)))
        js.append(job("%s-%d-b" % (prefix, d), "%s-d%d" % (prefix, d)))
    js.append(job(prefix + "-badphone", prefix + "-x1", contact="+57 300"))
    js.append(job(prefix + "-badtpl", prefix + "-x2", template_id="nope"))
    js.append(job(prefix + "-badtz", prefix + "-x3", time_zone="Mars/Olympus"))
    js.append(job(prefix + "-badjur", prefix + "-x4", jurisdiction="ZZ"))
    js.append(job(prefix + "-expired", prefix + "-x5", expires_at=1000))
    js.append(job(prefix + "-0-a", prefix + "-d0"))  # DUPLICATE of the first
    return js


def shape(v):
    return (v["verdict"], v.get("rule"), v.get("reason"), v.get("first"))


# --- 1. the same jobs through the API and through pregonctl submit: the same verdicts
st, body = jcall("POST", "/v1/jobs", "tok-acme", variants("h"))
check(st == 200, "POST /v1/jobs: %s %s" % (st, body))
zmq = ctl_submit(variants("z"))
api = body["verdicts"] if st == 200 else []
check(len(api) == len(zmq) == 46, "verdict counts api %d zmq %d" % (len(api), len(zmq)))
check([shape(v) for v in api] == [shape(v) for v in zmq],
      "API and ZeroMQ verdicts differ:\n%s\n%s" % ([shape(v) for v in api], [shape(v) for v in zmq]))
check(api and api[0]["job_id"] == "h-0-a" and api[-1]["verdict"] == "DUPLICATE", "order: %s" % api[:2])
check(body.get("counts", {}).get("ACCEPTED") == 20 and body["counts"].get("DEFERRED") == 20,
      "counts %s" % body.get("counts"))
check(all(v.get("until") for v in api if v["verdict"] == "DEFERRED"), "DEFERRED without until")

# --- 2. a batch of 1,200 (3 SubmitBatches), NDJSON, one object, a job without a tenant
big = [job("big-%d" % i, "big-d%d" % i) for i in range(1200)]
st, body = jcall("POST", "/v1/jobs", "tok-acme", big)
check(st == 200 and body["counts"] == {"ACCEPTED": 1200}, "1,200 jobs: %s %s" % (st, str(body)[:300]))
nd = "\n".join(json.dumps(job("nd-%d" % i, "nd-d%d" % i)) for i in range(3)) + "\n# a comment\n{oops\n"
st, body = jcall("POST", "/v1/jobs", "tok-acme", nd, ctype="application/x-ndjson")
check(st == 200 and [v["verdict"] for v in body["verdicts"]] == ["ACCEPTED"] * 3 + ["REJECTED"],
      "NDJSON: %s %s" % (st, body))
check(st == 200 and body["verdicts"][3]["rule"] == "job.json" and body["verdicts"][3]["reason"] == "bad-json",
      "NDJSON bad line: %s" % body)
st, body = jcall("POST", "/v1/jobs", "tok-acme", job("one", "one-d", tenant=None, channel="SMS"))
check(st == 200 and body["verdicts"][0]["verdict"] == "ACCEPTED", "one job, tenant from the token: %s" % body)
st, body = jcall("POST", "/v1/jobs", "tok-acme", [job("uf", "uf-d", tennant="x")])
check(st == 200 and body["verdicts"][0]["reason"] == "bad-field" and "tennant" in body["verdicts"][0]["detail"],
      "unknown field named: %s" % body)
st, body = jcall("POST", "/v1/jobs", "tok-acme", [job("huge", "huge-d", variables={"nombre": "x" * 1500000})])
check(st == 200 and shape(body["verdicts"][0]) == ("REJECTED", "job.fields", "job-too-large", None),
      "a job too large: %s" % str(body)[:300])

# --- 3. tenant isolation
st, body = jcall("POST", "/v1/jobs", "tok-acme", [job("iso-1", "iso-d", tenant="beta")])
check(st == 200 and shape(body["verdicts"][0]) == ("REJECTED", "auth.tenant", "tenant-forbidden", None),
      "acme's token submitting for beta: %s" % body)
st, body = jcall("POST", "/v1/jobs", "tok-beta", [job("iso-1", "iso-d", tenant="beta")])
check(st == 200 and body["verdicts"][0]["verdict"] == "ACCEPTED",
      "beta's own job of that id (nothing stored by acme's attempt): %s" % body)
st, body = jcall("GET", "/v1/jobs/iso-1?debtor=iso-d&tenant=beta", "tok-acme")
check(st == 403 and body["error"]["code"] == "forbidden-tenant", "acme reads beta's job: %s %s" % (st, body))
st, body = jcall("GET", "/v1/jobs/h-0-a?debtor=h-d0&tenant=acme", "tok-beta")
check(st == 403, "beta reads acme's job: %s %s" % (st, body))
st, body = jcall("GET", "/v1/jobs/h-0-a?debtor=h-d0", "tok-beta")  # beta's own tenant: not there
check(st == 404 and body["error"]["code"] == "job-not-found", "beta's view of the id: %s %s" % (st, body))
st, body = jcall("GET", "/v1/jobs/iso-1?debtor=iso-d", "tok-ops")
check(st == 400 and body["error"]["code"] == "tenant-required", "ops without tenant: %s" % body)
st, body = jcall("GET", "/v1/events?tenant=beta&wait_ms=0", "tok-acme")
check(st == 403, "acme's token subscribing to beta: %s" % st)

# --- 4. the job's state and transitions; its verdict and report events on the SSE stream
deadline = time.time() + 20
state = None
while time.time() < deadline:
    st, body = jcall("GET", "/v1/jobs/h-0-a?debtor=h-d0", "tok-acme")
    state = body.get("state") if st == 200 else None
    if state in ("sent", "delivered"):
        break
    time.sleep(0.1)
check(state in ("sent", "delivered"), "h-0-a never sent: %s" % body)
tos = [t["to"] for t in body.get("transitions", [])]
check([t for t in tos if t != "DUPLICATE"][:3] == ["ACCEPTED", "DISPATCHED", "SENT"] and "DUPLICATE" in tos,
      "transitions %s" % tos)

acme_ev, beta_ev, since = [], [], 0
deadline = time.time() + 20
while time.time() < deadline:
    evs, since = sse("tok-acme", since, 1000)
    acme_ev += evs
    if any(e["type"] == "report" and e.get("job_id") == "h-0-a" for e in acme_ev):
        break
bsince = 0
for _ in range(3):
    evs, bsince = sse("tok-beta", bsince, 300)
    beta_ev += evs
check(any(e["type"] == "verdict" and e.get("job_id") == "h-0-a" and e["verdict"]["code"] == "ACCEPTED"
          for e in acme_ev), "no verdict event for h-0-a")
rep = [e for e in acme_ev if e["type"] == "report" and e.get("job_id") == "h-0-a"]
check(rep, "no report event for h-0-a")
if rep:
    r = rep[0]["report"]
    check(rep[0]["tenant"] == "acme" and rep[0]["topic"] == "acme\x1freport", "report topic %s" % rep[0])
    check(r.get("outcome") == "SENT" and r.get("job_id") == "h-0-a" and r.get("tenant") == "acme"
          and r.get("provider_id", "").startswith("SM") and r.get("at_ms", 0) > 0
          and r.get("channel") == "SMS" and rep[0].get("detail") == "sent",
          "report fields not filled: %s" % rep[0])
check(acme_ev and all(e["tenant"] == "acme" for e in acme_ev), "acme saw another tenant's event")
check(beta_ev and all(e["tenant"] == "beta" for e in beta_ev) and
      any(e.get("job_id") == "iso-1" for e in beta_ev), "beta's stream: %s" % beta_ev[:3])
st, h, text = call("GET", "/v1/events?since=999999999&wait_ms=100", "tok-beta")  # none: an id, no data
check(st == 200 and "data:" not in text and "id: " in text, "an empty wait: %s" % text)

# --- 5. the explain view, then a suppression it and admission see
st, body = jcall("GET", "/v1/debtors/h-d0/contacts?channel=sms&jurisdiction=AP&time_zone=UTC", "tok-acme")
check(st == 200 and body["verdict"] == "DEFERRED" and body["rule"] == "ap.daily" and body["contacts"] == 1
      and len(body["history"]) == 1, "explain: %s %s" % (st, body))
st, body = jcall("GET", "/v1/debtors/h-d0/contacts?channel=sms&jurisdiction=ZZ&time_zone=UTC", "tok-acme")
check(st == 400 and body["error"]["code"] == "bad-query", "explain unknown jurisdiction: %s" % body)
contact = job("s", "sup-d")["contact"]
sup = {"scope": "contact", "value": contact, "rule": "crm-request", "why": "asked by phone"}
st, body = jcall("POST", "/v1/suppressions", "tok-acme", sup)
check(st == 200 and body["outcome"] == "added" and body["tenant"] == "acme", "suppression: %s %s" % (st, body))
st, body = jcall("POST", "/v1/suppressions", "tok-acme", dict(sup, tenant="beta"))
check(st == 403, "acme suppressing for beta: %s" % st)
st, body = jcall("POST", "/v1/jobs", "tok-acme", [job("sup-1", "sup-d")])
check(st == 200 and body["verdicts"][0]["verdict"] == "REJECTED" and
      body["verdicts"][0]["rule"].startswith("suppressed.contact:crm-request"), "suppressed job: %s" % body)
st, body = jcall("GET", "/v1/debtors/sup-d/contacts?channel=sms&jurisdiction=AP&time_zone=UTC&contact="
                 + contact.replace("+", "%2B"), "tok-acme")
check(st == 200 and body["verdict"] == "REJECTED" and body["reason"] == "suppressed", "explain suppressed: %s" % body)

# --- 6. errors and limits
st, body = jcall("POST", "/v1/jobs", None, [job("x", "x")])
check(st == 401 and body["error"]["code"] == "unauthorized", "no token: %s %s" % (st, body))
st, body = jcall("POST", "/v1/jobs", "tok-nobody", [job("x", "x")])
check(st == 401, "an unknown token: %s" % st)
st, body = jcall("POST", "/v1/jobs", "tok-acme", "{not json")
check(st == 400 and body["error"]["code"] == "bad-json", "bad JSON: %s %s" % (st, body))
st, body = jcall("POST", "/v1/jobs", "tok-acme", [job("many-%d" % i, "m") for i in range(2001)])
check(st == 413 and body["error"]["code"] == "too-many-jobs", "2,001 jobs: %s %s" % (st, str(body)[:200]))
conn = http.client.HTTPConnection(API.split("//")[1], timeout=10)  # answered from Content-Length
conn.putrequest("POST", "/v1/jobs")
conn.putheader("Authorization", "Bearer tok-acme")
conn.putheader("Content-Type", "application/json")
conn.putheader("Content-Length", "2100000")
conn.endheaders()
resp = conn.getresponse()
body = json.loads(resp.read())
check(resp.status == 413 and body["error"]["code"] == "body-too-large", "a 2.1 MB body: %s %s" % (resp.status, body))
conn.close()
codes = [call("GET", "/v1/events?wait_ms=0", "tok-rate")[0] for _ in range(300)]
check(429 in codes and codes[0] == 200, "no 429 after 300 requests at once: %s" % sorted(set(codes)))
st, h, text = call("GET", "/v1/events?wait_ms=0", "tok-rate")
check(st != 429 or "Retry-After" in h, "429 without Retry-After")
st, _, _ = call("GET", "/v1/nothing", "tok-acme")
check(st == 404, "unknown route: %s" % st)

print("api_test: %d failed" % fails)
sys.exit(1 if fails else 0)
