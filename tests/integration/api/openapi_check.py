"""openapi_check.py OPENAPI.yaml — api/openapi.yaml against the running pregon-api (run.sh):
every operation of the document is called (the table below must name every operationId: one
missing fails), with good requests and with the errors it documents; every answer's status
must be documented for its operation and its body must validate against that status's schema
(text/event-stream: every event's data against its schema)."""
import json
import sys
import time

import jsonschema
import yaml

from api_common import call, job

doc = yaml.safe_load(open(sys.argv[1]))
resolver = jsonschema.RefResolver.from_schema(doc)
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", what)


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolver.resolve(node["$ref"])[1]
    return node


# operationId: [(method, path, token, body, content type, wanted status)]
J = "application/json"
cases = {
    "submitJobs": [
        ("POST", "/v1/jobs", "tok-acme", [job("oa-1", "oa-d1"), job("oa-2", "oa-d1"), job("oa-3", "oa-d3", contact="x")], J, 200),
        ("POST", "/v1/jobs", "tok-acme", job("oa-4", "oa-d4"), J, 200),
        ("POST", "/v1/jobs", "tok-acme", json.dumps(job("oa-5", "oa-d5")) + "\n" + json.dumps(job("oa-1", "oa-d1")) + "\n", "application/x-ndjson", 200),
        ("POST", "/v1/jobs", "tok-acme", [job("oa-6", "oa-d6", tenant="beta"), {"job_id": 7}], J, 200),
        ("POST", "/v1/jobs", None, [job("oa-8", "oa-d8")], J, 401),
        ("POST", "/v1/jobs", "tok-acme", "nope", J, 400),
        ("POST", "/v1/jobs", "tok-acme", [], J, 400),
        ("POST", "/v1/jobs", "tok-acme", [job("oa-m%d" % i, "m") for i in range(2001)], J, 413),
    ],
    "getJob": [
        ("GET", "/v1/jobs/oa-1?debtor=oa-d1", "tok-acme", None, None, 200),
        ("GET", "/v1/jobs/oa-2?debtor=oa-d1&tenant=acme", "tok-ops", None, None, 200),
        ("GET", "/v1/jobs/oa-1?debtor=oa-d1&tenant=acme", "tok-beta", None, None, 403),
        ("GET", "/v1/jobs/none?debtor=oa-d1", "tok-acme", None, None, 404),
        ("GET", "/v1/jobs/oa-1", "tok-acme", None, None, 400),
        ("GET", "/v1/jobs/oa-1?debtor=oa-d1", "bad", None, None, 401),
    ],
    "explainContacts": [
        ("GET", "/v1/debtors/oa-d1/contacts?channel=sms&jurisdiction=AP&time_zone=UTC", "tok-acme", None, None, 200),
        ("GET", "/v1/debtors/oa-d9/contacts?channel=sms&jurisdiction=AP&time_zone=America/Bogota&at=2026-03-10T10:00:00-05:00", "tok-acme", None, None, 200),
        ("GET", "/v1/debtors/oa-d1/contacts?channel=sms&jurisdiction=AP", "tok-acme", None, None, 400),
        ("GET", "/v1/debtors/oa-d1/contacts?channel=sms&jurisdiction=AP&time_zone=UTC&tenant=beta", "tok-acme", None, None, 403),
        ("GET", "/v1/debtors/oa-d1/contacts?channel=sms&jurisdiction=AP&time_zone=UTC", None, None, None, 401),
    ],
    "addSuppression": [
        ("POST", "/v1/suppressions", "tok-acme", {"scope": "debtor", "value": "oa-d7", "rule": "legal-hold"}, J, 200),
        ("POST", "/v1/suppressions", "tok-acme", {"scope": "debtor", "value": "oa-d7", "rule": "legal-hold"}, J, 200),
        ("POST", "/v1/suppressions", "tok-acme", {"scope": "planet", "value": "x", "rule": "r"}, J, 400),
        ("POST", "/v1/suppressions", "tok-beta", {"tenant": "acme", "scope": "debtor", "value": "x", "rule": "r"}, J, 403),
        ("POST", "/v1/suppressions", None, {"scope": "debtor", "value": "x", "rule": "r"}, J, 401),
    ],
    "events": [
        ("GET", "/v1/events?since=0&wait_ms=2000", "tok-acme", None, None, 200),
        ("GET", "/v1/events?since=999999999&wait_ms=50", "tok-acme", None, None, 200),
        ("GET", "/v1/events?tenant=beta", "tok-acme", None, None, 403),
        ("GET", "/v1/events", None, None, None, 401),
    ],
    "health": [("GET", "/healthz", None, None, None, 200)],
}

ops = {}
for path, item in doc["paths"].items():
    for method, op in item.items():
        ops[op["operationId"]] = (method.upper(), path, op)
for op_id in ops:
    check(op_id in cases and cases[op_id], "operation %s is never called" % op_id)
for op_id in cases:
    check(op_id in ops, "the table calls %s, which the document lacks" % op_id)

time.sleep(0)  # (the stack is up: run.sh waited for every process)
for op_id, calls in cases.items():
    if op_id not in ops:
        continue
    method, path, op = ops[op_id]
    for (m, url, token, body, ctype, want) in calls:
        check(m == method and url.split("?")[0].count("/") == path.count("/"),
              "%s: %s %s is not this operation" % (op_id, m, url))
        st, headers, text = call(m, url, token, body, ctype or J)
        what = "%s %s %s" % (op_id, m, url[:80])
        check(st == want, "%s: status %s, want %s: %s" % (what, st, want, text[:300]))
        resp = op["responses"].get(str(st))
        if resp is None:
            check(False, "%s: status %s not in the document" % (what, st))
            continue
        content = resolve(resp).get("content", {})
        ctype_got = headers.get("Content-Type", "").split(";")[0]
        check(ctype_got in content, "%s: %s answered, the document says %s" % (what, ctype_got, list(content)))
        if ctype_got not in content:
            continue
        schema = content[ctype_got]["schema"]
        if ctype_got == "text/event-stream":
            datas = [l[6:] for l in text.split("\n") if l.startswith("data: ")]
            check(datas or "since=9999" in url, "%s: no events" % what)
            instances = [json.loads(d) for d in datas]
        else:
            instances = [json.loads(text)]
        for inst in instances:
            try:
                jsonschema.validate(inst, schema, cls=jsonschema.Draft202012Validator, resolver=resolver)
            except jsonschema.ValidationError as e:
                check(False, "%s: %s does not validate: %s at %s" % (what, str(inst)[:200], e.message, list(e.path)))

print("openapi_check: %d operations, %d calls, %d failed" % (len(ops), sum(map(len, cases.values())), fails))
sys.exit(1 if fails else 0)
