"""The Python client against the real stack tests/integration/api/run.sh started (pregond with
CURVE, pregon-sms, the sandbox): submit in pipelined batches, verdicts as objects, DUPLICATE on
resubmission, events (topic frame + message, report fields filled), and the BUSY retries
against a stand-in ROUTER that answers BUSY first."""
import os
import threading
import time
import unittest

import zmq

import pregon
from pregon.client import pb

FRONT, EVENTS = os.environ["PG_FRONT"], os.environ["PG_EVENTS"]
KEYS = dict(key_file=os.environ["PG_CTL_KEY"], broker_key_file=os.environ["PG_BROKER_PUB"])


def job(jid, debtor, **kw):
    j = {"job_id": jid, "tenant": "acme", "campaign": "py", "debtor_id": debtor, "channel": "SMS",
         "contact": "+1555%07d" % (sum(map(ord, debtor)) * 7919 % 10**7),
         "template_id": "aviso_mora_sms", "jurisdiction": "AP", "time_zone": "UTC",
         "variables": {"acreedor": "Acme", "nombre": "Ana", "producto": "tarjeta",
                       "monto": "$100", "telefono": "800", "enlace": "x.co"}}
    j.update(kw)
    return j


class SubmitTest(unittest.TestCase):
    def test_batches_and_verdicts(self):
        jobs = [job("py-%d" % i, "py-d%d" % (i // 2)) for i in range(1200)]
        with pregon.Client(FRONT, batch=250, window=3, **KEYS) as c:
            vs = c.submit(jobs)
            again = c.submit(jobs[:10])
        self.assertEqual([v.job_id for v in vs], [j["job_id"] for j in jobs])
        self.assertEqual([v.code for v in vs[:4]], ["ACCEPTED", "DEFERRED", "ACCEPTED", "DEFERRED"])
        self.assertEqual(vs[1].rule, "ap.daily")
        self.assertIsNotNone(vs[1].until)
        self.assertTrue(vs[0].stored and not vs[0].retryable)
        self.assertEqual({v.code for v in again}, {"DUPLICATE"})
        self.assertEqual(again[0].first, "ACCEPTED")

    def test_invalid_job_verdict_and_mapping(self):
        with pregon.Client(FRONT, **KEYS) as c:
            [v] = c.submit([job("py-bad", "py-bad", contact="+57 300")])
        self.assertEqual((v.code, v.rule, v.reason), ("REJECTED", "job.fields", "bad-phone"))
        with self.assertRaises(ValueError):
            pregon.job_to_proto({"job_id": "x", "tennant": "acme"})
        self.assertEqual(pregon.job_to_proto({"channel": "whatsapp"}).channel, pb.WHATSAPP)
        self.assertEqual(pregon.job_to_proto({"not_before": "2026-03-10T10:00:00-05:00"}).not_before,
                         1773154800)


class EventsTest(unittest.TestCase):
    def test_verdict_and_report_events(self):
        with pregon.Events(EVENTS, tenants=["acme"], **KEYS) as evs:
            seen, deadline = {}, time.time() + 20
            n = 0
            while time.time() < deadline and not ("verdict" in seen and "report" in seen):
                n += 1  # until the subscription is in place: a new job each round
                with pregon.Client(FRONT, **KEYS) as c:
                    c.submit([job("py-ev-%d" % n, "py-ev-d%d" % n)])
                end = time.time() + 2
                while time.time() < end and not ("verdict" in seen and "report" in seen):
                    e = evs.recv(timeout=0.5)
                    if e and e.job_id.startswith("py-ev-"):
                        seen.setdefault(e.type, e)
        self.assertIn("verdict", seen)
        self.assertIn("report", seen)
        v, r = seen["verdict"], seen["report"]
        self.assertEqual(v.topic, b"acme\x1fverdict")
        self.assertEqual(pregon.client.CODES[v.verdict.code], "ACCEPTED")
        self.assertEqual(r.topic, b"acme\x1freport")
        self.assertEqual((r.tenant, r.report.tenant, r.report.job_id), ("acme", "acme", r.job_id))
        self.assertEqual(r.report.outcome, pb.DeliveryReport.SENT)
        self.assertTrue(r.report.provider_id.startswith("SM"))
        self.assertGreater(r.report.at_ms, 0)
        self.assertEqual(r.channel, "SMS")
        self.assertEqual(r.detail, "sent")


class BusyRetryTest(unittest.TestCase):
    """A stand-in frontend: BUSY for every job of the first batch it sees, then ACCEPTED."""

    def test_busy_jobs_are_sent_again(self):
        ctx = zmq.Context.instance()
        router = ctx.socket(zmq.ROUTER)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        received = []

        def serve():
            for k in range(2):
                if not router.poll(10000):
                    return
                peer, frame = router.recv_multipart()
                b = pb.SubmitBatch()
                b.ParseFromString(frame)
                received.append([j.job_id for j in b.jobs])
                rep = pb.SubmitReply(batch_id=b.batch_id)
                for i, j in enumerate(b.jobs):
                    busy = k == 0 and i % 2 == 0
                    rep.verdicts.add(job_id=j.job_id, code=pb.Verdict.BUSY if busy else pb.Verdict.ACCEPTED,
                                     reason="redis-unavailable" if busy else "")
                router.send_multipart([peer, rep.SerializeToString()])

        t = threading.Thread(target=serve)
        t.start()
        with pregon.Client("tcp://127.0.0.1:%d" % port, busy_backoff=0.01, timeout=10) as c:
            vs = c.submit([job("b-%d" % i, "b") for i in range(4)])
        t.join()
        router.close()
        self.assertEqual(received, [["b-0", "b-1", "b-2", "b-3"], ["b-0", "b-2"]])
        self.assertEqual([v.code for v in vs], ["ACCEPTED"] * 4)
        self.assertEqual([v.attempts for v in vs], [2, 1, 2, 1])


if __name__ == "__main__":
    unittest.main()
