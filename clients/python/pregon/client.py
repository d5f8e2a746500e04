"""client.py — submit (batched, pipelined, BUSY retried), verdicts as objects, events.

Submit: a DEALER on pregond's frontend; each message is one serialized SubmitBatch, each answer
one SubmitReply with one Verdict per job in batch order, matched by batch_id. Up to `window`
batches are in flight. Jobs answered BUSY (not stored: overload, Redis unreachable) are sent
again after a backoff, up to `busy_retries` times; (tenant, job_id) is the idempotency key, so a
job that was stored after all comes back DUPLICATE with its first verdict, never twice.

Events: a SUB on pregond's events XPUB. Every event is two frames: the topic
TENANT 0x1F TYPE ("acme\\x1fverdict"; an event without a tenant starts with 0x1F) and a
serialized Event. Subscriptions are topic prefixes: "acme\\x1f" is every event of acme; pregond
narrows "" to the key's tenants and refuses another tenant's prefix.
"""
import datetime
import itertools
import re
import time

import zmq

try:
    from . import pregon_pb2 as pb  # generated at install time (setup.py)
except ImportError:  # the build tree's copy (tests: PYTHONPATH)
    import pregon_pb2 as pb

CODES = {v.number: v.name for v in pb.Verdict.Code.DESCRIPTOR.values}
TOPIC_SEP = b"\x1f"
_STRINGS = ("job_id", "tenant", "campaign", "debtor_id", "debt_id", "contact", "template_id",
            "jurisdiction", "time_zone", "preferred_window", "sender")


def load_curve_keys(path):
    """(public, secret) of a pregonctl key file (NAME.key; NAME.pub gives secret None)."""
    text = open(path).read()
    pub = re.search(r'^public:\s*"?([^"\n]+)"?', text, re.M)
    sec = re.search(r'^secret:\s*"?([^"\n]+)"?', text, re.M)
    if not pub:
        raise ValueError("%s: no public key" % path)
    return pub.group(1).encode(), sec.group(1).encode() if sec else None


def _curve(sock, key_file, broker_key_file):
    if not key_file and not broker_key_file:
        return
    if not (key_file and broker_key_file):
        raise ValueError("CURVE needs both key_file and broker_key_file")
    pub, sec = load_curve_keys(key_file)
    server, _ = load_curve_keys(broker_key_file)
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = pub, sec, server


def _instant(v):
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            raise ValueError("an instant needs a time zone")
        return int(v.timestamp())
    d = datetime.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    if d.tzinfo is None:
        raise ValueError("%r: RFC 3339 with an offset" % v)
    return int(d.timestamp())


def _channel(name):
    n = pb.Channel.Value(name.upper()) if isinstance(name, str) else int(name)
    if n == 0:
        raise ValueError("unknown channel %r" % name)
    return n


def job_to_proto(job):
    """A SendRequest from a dict with pregon.proto's field names (pregonctl submit's JSON
    Lines form: channel and role names in any case, times RFC 3339 or Unix seconds)."""
    if isinstance(job, pb.SendRequest):
        return job
    r = pb.SendRequest()
    for k, v in job.items():
        if k in _STRINGS:
            setattr(r, k, v)
        elif k == "channel":
            r.channel = _channel(v)
        elif k == "role":
            r.role = pb.Role.Value(v.upper()) if v else 0
        elif k in ("variables", "fallback_contacts"):
            getattr(r, k).update({a: str(b) for a, b in v.items()})
        elif k == "alt_time_zones":
            r.alt_time_zones.extend(v)
        elif k == "fallback_channels":
            r.fallback_channels.extend(_channel(c) for c in v)
        elif k in ("not_before", "expires_at"):
            setattr(r, k, _instant(v))
        elif k == "priority":
            r.priority = int(v)
        elif k == "fallback_on_wrong_number":
            r.fallback_on_wrong_number = bool(v)
        elif k == "segment":
            for sk, sv in v.items():
                setattr(r.segment, sk, sv)
        else:
            raise ValueError("unknown field %r" % k)
    return r


class Verdict:
    """pregond's answer for one job. code: "ACCEPTED", "DEFERRED", "REJECTED", "DUPLICATE",
    "BUSY", "EXPIRED"; until: a UTC datetime (DEFERRED) or None; first: DUPLICATE's first
    verdict; attempts: how many times the client sent the job (BUSY retries)."""

    __slots__ = ("job_id", "code", "rule", "reason", "until", "first", "attempts")

    def __init__(self, job_id, code, rule="", reason="", until=None, first=None, attempts=1):
        self.job_id, self.code, self.rule, self.reason = job_id, code, rule, reason
        self.until, self.first, self.attempts = until, first, attempts

    @classmethod
    def from_proto(cls, v, attempts=1):
        until = (datetime.datetime.fromtimestamp(v.until, datetime.timezone.utc)
                 if v.until else None)
        return cls(v.job_id, CODES.get(v.code, "UNKNOWN"), v.rule, v.reason, until,
                   CODES.get(v.first) if v.code == pb.Verdict.DUPLICATE else None, attempts)

    @property
    def stored(self):
        """True when pregond holds the job (it will be sent, or was decided for good)."""
        return self.code in ("ACCEPTED", "DEFERRED", "DUPLICATE")

    @property
    def retryable(self):
        """True for BUSY: not stored, send it again later (idempotent)."""
        return self.code == "BUSY"

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        return "Verdict(%r, %s%s)" % (self.job_id, self.code,
                                      ", %s/%s" % (self.rule, self.reason) if self.rule or self.reason else "")


class Client:
    """Submits jobs to pregond's frontend (see the file's comment)."""

    def __init__(self, endpoint, key_file=None, broker_key_file=None, timeout=30.0, batch=500,
                 window=4, busy_retries=5, busy_backoff=0.5, context=None):
        self.timeout, self.batch, self.window = timeout, batch, window
        self.busy_retries, self.busy_backoff = busy_retries, busy_backoff
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.linger = 0
        self._sock.sndtimeo = int(timeout * 1000)
        _curve(self._sock, key_file, broker_key_file)
        self._sock.connect(endpoint)
        self._ids = itertools.count(1)
        self._prefix = "py-%x-" % (id(self) & 0xFFFFFF)

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _round(self, jobs):
        """Sends jobs (SendRequests) in pipelined batches; their verdicts (protos) in order."""
        out = [None] * len(jobs)
        pending = {}
        chunks = [(i, jobs[i:i + self.batch]) for i in range(0, len(jobs), self.batch)]
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while chunks or pending:
            while chunks and len(pending) < self.window:
                first, part = chunks.pop(0)
                bid = self._prefix + str(next(self._ids))
                self._sock.send(pb.SubmitBatch(batch_id=bid, jobs=part).SerializeToString())
                pending[bid] = (first, len(part))
            if not poller.poll(int(self.timeout * 1000)):
                raise TimeoutError("no answer from pregond within %.0f s" % self.timeout)
            rep = pb.SubmitReply()
            rep.ParseFromString(self._sock.recv())
            if rep.batch_id not in pending:
                continue  # the answer to a batch of an earlier call that timed out
            first, n = pending.pop(rep.batch_id)
            if rep.error:
                raise RuntimeError("pregond refused a batch: %s (%s)" % (rep.error, rep.error_detail))
            if len(rep.verdicts) != n:
                raise RuntimeError("%d verdicts for %d jobs" % (len(rep.verdicts), n))
            out[first:first + n] = list(rep.verdicts)
        return out

    def submit(self, jobs):
        """Verdicts, one per job in order. jobs: dicts (pregon.proto's field names) or
        SendRequests. BUSY jobs are sent again (busy_retries times, backoff doubling)."""
        reqs = [job_to_proto(j) for j in jobs]
        verdicts = [None] * len(reqs)
        todo = list(range(len(reqs)))
        backoff = self.busy_backoff
        for attempt in range(1, self.busy_retries + 2):
            got = self._round([reqs[i] for i in todo])
            busy = []
            for i, v in zip(todo, got):
                verdicts[i] = Verdict.from_proto(v, attempt)
                if v.code == pb.Verdict.BUSY:
                    busy.append(i)
            if not busy or attempt > self.busy_retries:
                break
            todo = busy
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        return verdicts


class Event:
    """One event of the feed: its topic frame (bytes), then the Event's fields. report,
    verdict and inbound are the protobuf messages (None when absent)."""

    __slots__ = ("topic", "type", "tenant", "job_id", "channel", "at_ms", "detail", "verdict",
                 "report", "inbound", "proto")

    def __init__(self, topic, ev):
        self.topic, self.proto = topic, ev
        self.type, self.tenant, self.job_id = ev.type, ev.tenant, ev.job_id
        self.channel = pb.Channel.Name(ev.channel) if ev.channel else None
        self.at_ms, self.detail = ev.at_ms, ev.detail
        self.verdict = ev.verdict if ev.HasField("verdict") else None
        self.report = ev.report if ev.HasField("report") else None
        self.inbound = ev.inbound if ev.HasField("inbound") else None

    def __repr__(self):
        return "Event(%r, %s, job %r)" % (self.topic, self.type, self.job_id)


class Events:
    """Iterates over pregond's events feed. tenants: subscribe to these tenants' events (each
    "TENANT\\x1f"); types narrows to "TENANT\\x1fTYPE"; neither: everything the key may read."""

    def __init__(self, endpoint, tenants=None, types=None, key_file=None, broker_key_file=None,
                 context=None):
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.linger = 0
        _curve(self._sock, key_file, broker_key_file)
        prefixes = [b""]
        if tenants:
            prefixes = [t.encode() + TOPIC_SEP for t in tenants]
            if types:
                prefixes = [p + ty.encode() for p in prefixes for ty in types]
        for p in prefixes:
            self._sock.setsockopt(zmq.SUBSCRIBE, p)
        self._sock.connect(endpoint)

    def recv(self, timeout=None):
        """The next event, or None after timeout seconds (None: wait for ever)."""
        if timeout is not None and not self._sock.poll(int(timeout * 1000)):
            return None
        frames = self._sock.recv_multipart()
        if len(frames) != 2:
            return self.recv(timeout)
        ev = pb.Event()
        ev.ParseFromString(frames[1])
        return Event(frames[0], ev)

    def __iter__(self):
        while True:
            yield self.recv()

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
