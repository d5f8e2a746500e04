#!/usr/bin/python3
"""make_corpus.py — writes the seed corpus of tests/fuzz (corpus/TARGET/seed-*) from the unit
tests' inputs, the shipped files of deploy/ and the examples of shared/PROVIDERS.md.

Run with /usr/bin/python3 (Debian's, with protobuf) after changing pregon.proto or a shipped
file: `tests/fuzz/make_corpus.py`. The seeds are in git; regression inputs (corpus/TARGET/
crash-*) are added by hand and never rewritten here. The protobuf classes are generated from
proto/pregon.proto into a temporary folder with protoc."""
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO = os.path.join(ROOT, "proto", "pregon.proto")

work = tempfile.mkdtemp(prefix="pregon-corpus-")
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", work, PROTO], check=True)
sys.path.insert(0, work)
import pregon_pb2 as pb  # noqa: E402


def seeds(target, items):
    """Replaces corpus/TARGET/seed-* with items (bytes), keeping every other file."""
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "seed-*")):
        os.unlink(old)
    for i, data in enumerate(items):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def job(**kw):
    j = pb.SendRequest(job_id="job-1", tenant="acme", campaign="mora-30", debtor_id="d-1",
                       channel=pb.SMS, contact="+573001112233", template_id="aviso_mora_sms",
                       jurisdiction="CO", time_zone="America/Bogota")
    for k, v in {"acreedor": "Banco", "nombre": "Ana", "producto": "tarjeta", "monto": "$1",
                 "telefono": "+5712345678", "enlace": "https://p.example.co/x"}.items():
        j.variables[k] = v
    j.segment.currency = "COP"
    for k, v in kw.items():
        setattr(j, k, v)
    return j


jobs = [job(), job(job_id="j-2", channel=pb.WHATSAPP, template_id="recordatorio_pago"),
        job(job_id="j-3", channel=pb.EMAIL, contact="ana@example.com",
            template_id="aviso_mora_email"),
        job(job_id="j-4", jurisdiction="US", time_zone="America/New_York", contact="+12125550100",
            debt_id="debt-9", not_before=1767225600, expires_at=1799999999, priority=3,
            preferred_window="09:00-12:00", sender="+15005550006")]
jobs[3].alt_time_zones.extend(["America/Chicago"])
jobs[3].fallback_channels.extend([pb.WHATSAPP])
batches = [pb.SubmitBatch(batch_id="b-1", jobs=jobs), pb.SubmitBatch(batch_id="b-2", jobs=[jobs[0]]),
           pb.SubmitBatch(batch_id="\xff", jobs=[job(job_id="{x}"), job(contact="3001112233")])]
seeds("frontend", [b.SerializeToString(deterministic=True) for b in batches])

text = pb.Content(text=pb.TextContent(text="Hola Ana, STOP"))
email = pb.Content(email=pb.EmailContent(subject="Aviso", text="Hola", html="<p>Hola</p>"))
wa = pb.Content(whatsapp=pb.WhatsAppTemplate(name="recordatorio_pago", language="es_MX",
                                             body_params=["Ana", "$1"], header_params=["t"],
                                             button_params=["ref"], text="Hola Ana"))
voice = pb.Content(voice=pb.VoiceScript(speech="Hola", voice="Polly.Mia", language="es-MX",
                                        digits=[pb.DigitAction(digit="1", action="transfer",
                                                               target="+5712345678", say="ok")],
                                        voicemail="Llame", gather_timeout_s=5))
b2w = [pb.BrokerToWorker(dispatch=pb.Dispatch(job=jobs[i % 4], lease_id="1/acme/job-1#x",
                                              lease_expires_ms=1767225600000, attempt=1,
                                              content=c))
       for i, c in enumerate([text, email, wa, voice])]
b2w += [pb.BrokerToWorker(heartbeat=pb.Heartbeat(at_ms=1)),
        pb.BrokerToWorker(halt=pb.Halt(reason="config")), pb.BrokerToWorker(leave_ack=pb.LeaveAck()),
        pb.BrokerToWorker(report_ack=pb.ReportAck(seqs=[1, 2, 3]))]
report = pb.DeliveryReport(job_id="job-1", tenant="acme", lease_id="1/acme/job-1", outcome=pb.DeliveryReport.SENT,
                           provider_id="SM123", provider_code="", detail="ok", at_ms=1, channel=pb.SMS, seq=1)
w2b = [pb.WorkerToBroker(ready=pb.WorkerReady(channel=pb.SMS, worker_id="sms-1", credit=10,
                                              heartbeat_ms=1000, held_leases=["1/a/b"],
                                              incarnation="abc")),
       pb.WorkerToBroker(credit=pb.Credit(credit=5)), pb.WorkerToBroker(heartbeat=pb.Heartbeat(at_ms=2)),
       pb.WorkerToBroker(report=report), pb.WorkerToBroker(leaving=pb.Leaving(reason="SIGTERM", done=True))]
inbound = pb.InboundEvent(kind=pb.InboundEvent.DELIVERY_STATUS, channel=pb.SMS, contact="+573001112233",
                          provider_id="SM123", status="delivered", event_id="SM123:delivered",
                          provider="twilio-sms", error_code="30006", sender="+15005550006", seq=7)
h2b = [pb.HooksToBroker(event=inbound), pb.HooksToBroker(heartbeat=pb.Heartbeat(at_ms=3))]
b2h = [pb.BrokerToHooks(ack=pb.InboundAck(seq=7, result="applied", detail="")),
       pb.BrokerToHooks(heartbeat=pb.Heartbeat(at_ms=4))]
reply = pb.SubmitReply(batch_id="b-1", verdicts=[pb.Verdict(job_id="job-1", code=pb.Verdict.DEFERRED,
                                                            until=5, reason="quiet-hours", rule="co.hours")])
event = pb.Event(type="report", tenant="acme", job_id="job-1", channel=pb.SMS, report=report, at_ms=9)
# fuzz_frames: byte 0 picks the message (the order of s_descs in fuzz_frames.c)
frames = [bytes([0]) + b.SerializeToString(deterministic=True) for b in batches]
frames += [bytes([1]) + m.SerializeToString(deterministic=True) for m in w2b]
frames += [bytes([2]) + m.SerializeToString(deterministic=True) for m in h2b]
frames += [bytes([3]) + j.SerializeToString(deterministic=True) for j in jobs]
frames += [bytes([4]) + inbound.SerializeToString(deterministic=True)]
frames += [bytes([5]) + m.SerializeToString(deterministic=True) for m in b2w]
frames += [bytes([6]) + m.SerializeToString(deterministic=True) for m in b2h]
frames += [bytes([7]) + reply.SerializeToString(deterministic=True), bytes([8]) + event.SerializeToString(deterministic=True)]
seeds("frames", frames)

# fuzz_worker: even byte 0 = a BrokerToWorker frame; odd = Twilio's answer (status, JSON body)
twilio = [(201, b'{"sid":"SM123","status":"queued"}'),
          (400, b'{"code":21211,"message":"The \'To\' number is not a valid phone number.","status":400}'),
          (400, b'{"code":21610,"message":"Attempt to send to unsubscribed recipient"}'),
          (401, b'{"code":20003,"message":"Authenticate"}'), (429, b'{"code":"20429"}'),
          (503, b'<html>busy</html>'), (302, b'')]
seeds("worker", [bytes([0]) + m.SerializeToString(deterministic=True) for m in b2w] +
      [bytes([1, (s - 100) >> 8, (s - 100) & 0xff]) + b for s, b in twilio])

seeds("policy", [read(p) for p in sorted(glob.glob(os.path.join(ROOT, "deploy/policies/*.yaml"))) +
                 sorted(glob.glob(os.path.join(ROOT, "tests/unit/policies/*.yaml")))] +
      [b"extends: CO\nid: X\nname: x\n", b"extends: fuzz\nid: X\n"])

hooks_yaml = read("deploy/pregon-hooks.yaml")
seeds("config", [b"B" + read("deploy/pregon.yaml"), b"H" + hooks_yaml,
                 b"B" + b"redis:\n  host: 127.0.0.1\n  port: 6379\nbroker:\n  shards: 4\n",
                 b"H" + b"http:\n  listen: 127.0.0.1:0\n  threads: 2\nbroker:\n  endpoint: tcp://127.0.0.1:5560\n",
                 b"S" + b"# AccountSid AuthToken\nACfuzz 12345\n\nAC00000000000000000000000000000000\tother\n",
                 b"S" + b"ACfuzz\n"])

tpl_small = (b"templates:\n  - id: saludo\n    channels: [sms]\n    body: \"Hola {{nombre}}\"\n"
             b"  - id: wa\n    channels: [sms, whatsapp]\n    body: \"Hola {{nombre}}\"\n"
             b"    whatsapp_template: wa\n    whatsapp_language: es\n"
             b"    whatsapp_body_params: [\"{{nombre}}\", \"{{ref}}\"]\n")
seeds("templates", [read("deploy/templates.yaml"), tpl_small])

# fuzz_render: byte 0 template (in id order), byte 1 channel, then NUL-separated key=value
vals = [b"acreedor=Banco", b"nombre=Ana", b"producto=tarjeta", b"monto=$1", b"fecha=1/1",
        b"enlace=https://p.example.co/x", b"telefono=+5712345678", b"referencia=r1", b"cuotas=3",
        b"monto_cuota=$2"]
render = [bytes([t, ch]) + b"\0".join(vals) for t in range(8) for ch in (1, 2, 3, 4, 5)]
render += [bytes([0, 4]) + b"\0".join(vals + [b"nombre=<b>&\"'"]),
           bytes([1, 1]) + b"nombre=" + b"x" * 1025]
seeds("render", render)

lines = [l for l in read("deploy/examples/scenarios.jsonl").split(b"\n") if l.strip()][:12]
lines += [l for l in read("tests/integration/policy_check/bad.jsonl").split(b"\n") if l.strip()][:12]
seeds("policy_check", lines)

# fuzz_hooks: mode byte, "PATH\n", "SIGNATURE\n", then the form (the Twilio docs' examples)
status = b"MessageSid=SM123&MessageStatus=delivered&ErrorCode=&To=+573001112233&From=+15005550006&AccountSid=ACfuzz"
inbound_sms = b"MessageSid=SM124&AccountSid=ACfuzz&From=+573001112233&To=+15005550006&Body=STOP"
seeds("hooks", [bytes([2]) + b"/twilio/sms/status\n\n" + status,
                bytes([3]) + b"/twilio/sms/inbound?x=1\n\n" + inbound_sms,
                bytes([11]) + b"/twilio/sms/inbound\n\n" + inbound_sms.replace(b"STOP", b"\xc2\xa1Alto!"),
                bytes([0]) + b"/twilio/sms/status\nRSOYDt4T1cUTdK1PDd93/VVr8B8=\n" + status,
                bytes([1]) + b"/myapp.php?foo=1&bar=2\nsha256=0000\nCallSid=CA1234567890ABCDE&Caller=+12349013030&Digits=1234&From=+12349013030&To=+18005551212",
                bytes([7]) + b"/twilio/sms/inbound\n\nAccountSid=ACfuzz&Body=yes\xff"])

seeds("text", [b"+573001112233", b"ana.maria+tag@example.co", b"123456789012345", b"job-1",
               b"STOP", b"S\xcc\x81", b"\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0",
               b"opt  out \xf0\x9f\x99\x8f", b"\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80", b"a\x00b",
               "¡Alto!".encode()])
print("corpus written under", os.path.join(HERE, "corpus"))
