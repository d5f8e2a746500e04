-- wrk_sms.lua — wrk script for benchmarking pregon-sandbox's Twilio Messages endpoint:
-- a valid form POST with Basic auth (the default sandbox account), the same on every request.
-- usage: wrk -t2 -c128 -d10s -s tests/integration/sandbox/wrk_sms.lua \
--          http://127.0.0.1:PORT/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- base64("AC00000000000000000000000000000000:sandbox-token")
wrk.headers["Authorization"] =
    "Basic QUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDpzYW5kYm94LXRva2Vu"
wrk.body = "To=%2B573001112233&From=%2B15005550006&Body=Hola%20Juan%2C%20su%20cuota%20vence%20hoy"

-- No response() hook: it would slow wrk down; wrk itself reports "Non-2xx or 3xx responses".
