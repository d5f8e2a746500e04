"""pregon: a client of pregond over ZeroMQ (the protocol of README "Protocol").

    from pregon import Client, Events
    with Client("tcp://127.0.0.1:5555", key_file="crm.key", broker_key_file="pregond.pub") as c:
        for v in c.submit(jobs):            # jobs: dicts with pregon.proto's field names
            print(v.job_id, v.code, v.rule, v.until)
    for ev in Events("tcp://127.0.0.1:5557", tenants=["acme"], key_file=...):
        print(ev.topic, ev.type, ev.job_id, ev.report)
"""
from .client import Client, Event, Events, Verdict, job_to_proto, load_curve_keys

__all__ = ["Client", "Event", "Events", "Verdict", "job_to_proto", "load_curve_keys"]
