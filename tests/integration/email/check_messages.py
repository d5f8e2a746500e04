#!/usr/bin/python3
"""check_messages.py SINK_HTTP PUBKEY_B64 EXPECT_JSON — checks the messages the SMTP sink received.

EXPECT_JSON: [{"to": addr, "name": display name, "job": "tenant/job", "text": [substrings],
"html": [substrings], "subject": decoded subject}]. For each expected message the one sent to
`to` must: parse as MIME (email, policy=default) with no defects, be multipart/alternative with
text/plain then text/html (UTF-8), carry From, To (the display name decoded), Subject (RFC 2047
in the raw header, the decoded subject as expected), Date, Message-ID, MIME-Version,
X-Pregon-Job, List-Unsubscribe (<https?://.../u/TOKEN>, <mailto:...>) and List-Unsubscribe-Post,
have arrived over TLS with AUTH, and verify with DKIM (python3-dkim) against PUBKEY_B64.
Prints one line per failure and "unsub URL" lines "ADDR URL"; exits 1 on any failure."""
import email
import email.policy
import json
import re
import sys
import urllib.request

import dkim

sink, pub, expect = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
msgs = json.load(urllib.request.urlopen(sink + "/messages"))
fails = []


def dns(name, timeout=5):
    if name.startswith(b"pg1._domainkey."):
        return b"v=DKIM1; k=rsa; p=" + pub.encode()
    return None


for want in expect:
    got = [m for m in msgs if want["to"] in m["rcpts"]]
    if len(got) != 1:
        fails.append("%s: %d messages, want 1" % (want["to"], len(got)))
        continue
    m = got[0]
    raw = m["data"].encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    who = want["to"]
    if msg.defects:
        fails.append("%s: MIME defects %s" % (who, msg.defects))
    if not (m["tls"] and m["auth"]):
        fails.append("%s: not over TLS with AUTH (tls %s, auth %s)" % (who, m["tls"], m["auth"]))
    for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "X-Pregon-Job",
              "List-Unsubscribe", "List-Unsubscribe-Post", "DKIM-Signature"):
        if msg[h] is None:
            fails.append("%s: no %s header" % (who, h))
    if msg.get_content_type() != "multipart/alternative":
        fails.append("%s: %s, want multipart/alternative" % (who, msg.get_content_type()))
    else:
        parts = list(msg.iter_parts())
        kinds = [p.get_content_type() for p in parts]
        if kinds != ["text/plain", "text/html"]:
            fails.append("%s: parts %s" % (who, kinds))
        else:
            text, html = parts[0].get_content(), parts[1].get_content()
            for s in want.get("text", []):
                if s not in text:
                    fails.append("%s: text lacks %r" % (who, s))
            for s in want.get("html", []):
                if s not in html:
                    fails.append("%s: html lacks %r" % (who, s))
            for p in parts:
                if (p.get_content_charset() or "").lower() != "utf-8":
                    fails.append("%s: charset %s" % (who, p.get_content_charset()))
    raw_headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    if re.search(r"[^\x00-\x7f]", raw_headers):
        fails.append("%s: 8-bit bytes in the headers" % who)
    if not re.search(r"(?im)^Subject:.*=\?utf-8\?[bq]\?", raw_headers):
        fails.append("%s: the Subject is not RFC 2047-encoded: %r" % (who, re.findall(r"(?im)^Subject:.*$", raw_headers)))
    if str(msg["Subject"]) != want["subject"]:
        fails.append("%s: subject %r, want %r" % (who, str(msg["Subject"]), want["subject"]))
    to = msg["To"].addresses[0] if msg["To"] is not None else None
    if not to or to.display_name != want["name"] or to.addr_spec != want["to"]:
        fails.append("%s: To %r" % (who, to))
    if str(msg["X-Pregon-Job"]) != want["job"]:
        fails.append("%s: X-Pregon-Job %r, want %r" % (who, str(msg["X-Pregon-Job"]), want["job"]))
    lu = str(msg["List-Unsubscribe"] or "")
    url = re.search(r"<(https?://[^>]+/u/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)>", lu)
    if not url or "<mailto:" not in lu:
        fails.append("%s: List-Unsubscribe %r" % (who, lu))
    else:
        print("unsub", who, url.group(1))
    if str(msg["List-Unsubscribe-Post"]) != "List-Unsubscribe=One-Click":
        fails.append("%s: List-Unsubscribe-Post %r" % (who, str(msg["List-Unsubscribe-Post"])))
    sig = str(msg["DKIM-Signature"] or "")
    for tag in ("a=rsa-sha256", "c=relaxed/relaxed", "s=pg1"):
        if tag not in re.sub(r"\s+", "", sig).replace(";", " ; ") and tag not in re.sub(r"\s+", "", sig):
            fails.append("%s: DKIM-Signature lacks %s" % (who, tag))
    hdrs = re.search(r"(?:^|;)h=([^;]+)", re.sub(r"\s+", "", sig))
    signed = set((hdrs.group(1).lower().split(":")) if hdrs else [])
    for h in ("from", "to", "subject", "date", "message-id", "list-unsubscribe",
              "list-unsubscribe-post", "mime-version", "content-type"):
        if h not in signed:
            fails.append("%s: DKIM does not sign %s" % (who, h))
    if not dkim.verify(raw, dnsfunc=dns):
        fails.append("%s: DKIM signature does not verify" % who)

for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
