#!/usr/bin/env bash
# demo.sh — the demo command: install what is missing, build, start Redis, pregond, pregon-sms,
# pregon-hooks and the provider sandbox, run deploy/examples/campaign.jsonl through them, print
# what was sent, deferred and rejected and why, what the provider told us afterwards (delivery
# callbacks, a few debtors answering STOP, through pregon-hooks), and stop everything it started.
#
# Everything runs in a private temp dir: Redis on a Unix socket, ZeroMQ on ipc:// endpoints, the
# sandbox on a free loopback port. Nothing leaves the machine: "sent" means sent to the sandbox.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash deploy/install-deps.sh
echo "== building (release) into build-demo/"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DPREGON_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target pregond pregonctl pregon-sms pregon-sandbox \
  pregon-hooks >/dev/null
B=build-demo

dir=$(mktemp -d /tmp/pregon-demo.XXXXXX)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $dir"; else rm -rf "$dir"; fi
}
trap stop_all EXIT
wait_for() { local t=$1; shift; local end=$((SECONDS + t)); until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }
rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
stat() { $B/broker/pregonctl redis stats --json --redis-socket "$dir/redis.sock" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
export -f stat; export B dir

echo "== starting redis-server, pregond, pregon-hooks, pregon-sandbox, pregon-sms (logs in $dir)"
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly yes --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
wait_for 10 sh -c "redis-cli -s '$dir/redis.sock' ping 2>/dev/null | grep -q PONG"
# CURVE keys, as in production: pregond's, the campaign system's, the worker's, pregon-hooks'
mkdir -p "$dir/own" "$dir/keys"
$B/broker/pregonctl keys new pregond --role broker --dir "$dir/own" >/dev/null
$B/broker/pregonctl keys new campaigns --role client --tenants acme-cobranzas --dir "$dir/own" >/dev/null
$B/broker/pregonctl keys new sms --role worker --channels sms --dir "$dir/own" >/dev/null
$B/broker/pregonctl keys new hooks --role hooks --dir "$dir/own" >/dev/null
cp "$dir/own/campaigns.pub" "$dir/own/sms.pub" "$dir/own/hooks.pub" "$dir/keys/"
keys() { echo "--key-file $dir/own/$1.key --broker-key-file $dir/own/pregond.pub"; }
cat >"$dir/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock"}
sockets: {frontend: "ipc://$dir/front", backend: "ipc://$dir/back", events: "", hooks: "ipc://$dir/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
policies: $root/deploy/policies
templates: $root/deploy/templates.yaml
YAML
$B/broker/pregond --config "$dir/pregon.yaml" 2>"$dir/pregond.log" & pids+=($!)
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=sandbox-token
# pregon-hooks: the provider's webhooks (signed) in, InboundEvents to pregond
$B/channels/hooks/pregon-hooks --listen 127.0.0.1:0 --broker "ipc://$dir/hooks" $(keys hooks) \
  2>"$dir/hooks.log" & pids+=($!)
wait_for 10 grep -q "serving: http" "$dir/hooks.log"
hooks=$(grep -m1 "serving: http" "$dir/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
wait_for 10 sh -c "curl -sf '$hooks/healthz' >/dev/null"   # pregon-hooks sees pregond
# the sandbox plays Twilio: signed status callbacks, and five debtors who answer STOP or Baja
$B/channels/sandbox/pregon-sandbox --listen 127.0.0.1:0 --port-file "$dir/sandbox.port" \
  --latency-ms 20 --jitter-ms 30 --callbacks --callback-delay-ms 100 \
  --inbound-url "$hooks/twilio/sms/inbound" 2>"$dir/sandbox.log" & pids+=($!)
wait_for 10 test -s "$dir/sandbox.port"
sb="http://127.0.0.1:$(cat "$dir/sandbox.port")"
stoppers='+57302467117 +15554951693 +51961368136 +56942099978 +52155271699'
curl -s "$sb/_sandbox/twilio-sms/replies" -d "[$(for n in $stoppers; do
  printf '{"number":"%s","body":"%s","delay_ms":300},' "$n" "$([ "${n:1:2}" = 15 ] && echo STOP || echo Baja)"
  done | sed 's/,$//')]" >/dev/null
$B/channels/sms/pregon-sms --broker "ipc://$dir/back" --base-url "$sb" --from +15005550006 \
  $(keys sms) --worker-id demo-sms --journal "$dir/sms.journal" --concurrency 64 \
  --policy-dir "$root/deploy/policies" \
  --status-callback "$hooks/twilio/sms/status" 2>"$dir/sms.log" & pids+=($!)
wait_for 10 grep -q "joined on sms" "$dir/pregond.log"

echo "== submitting deploy/examples/campaign.jsonl ($(wc -l <deploy/examples/campaign.jsonl) jobs)"
$B/broker/pregonctl submit --endpoint "ipc://$dir/front" $(keys campaigns) deploy/examples/campaign.jsonl || true
wait_for 60 bash -c '[ "$(stat ready.sms)" = 0 ] && [ "$(stat leased)" = 0 ]' || true
# the callbacks of the last messages: until pregon-hooks holds nothing and no job waits in SENT
wait_for 20 bash -c "[ \"\$(curl -s $hooks/metrics | awk '\$1 == \"pregon_hooks_in_flight\" {print \$2}')\" = 0 ] && [ \"\$(redis-cli -s '$dir/redis.sock' --scan --pattern 'pg:{s*}:j:*' | sed 's/^/HGET /; s/\$/ s/' | redis-cli -s '$dir/redis.sock' | grep -c '^sent\$')\" = 0 ]" || true

echo
echo "== what the provider (sandbox) received"
curl -s "$sb/_sandbox/stats" >"$dir/stats.json"
curl -s "$sb/_sandbox/requests?limit=3" >"$dir/sample.json"
python3 - "$dir/stats.json" "$dir/sample.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["providers"].get("twilio-sms", {})
print("  messages received: %s   by HTTP status: %s" % (t.get("total", 0), t.get("status", {})))
for r in json.load(open(sys.argv[2]))[:3]:
    print("  to %s: %s..." % (r.get("to"), r.get("body", "")[:100]))
PY
echo
echo "== jobs by state in Redis"
python3 - "$dir/redis.sock" <<'PY'
import collections, subprocess, sys
sock = sys.argv[1]
def r(*a): return subprocess.run(["redis-cli", "-s", sock, *a], capture_output=True, text=True).stdout.split()
keys = r("--scan", "--pattern", "pg:{s*}:j:*")
states = collections.Counter()
p = subprocess.run(["redis-cli", "-s", sock], input="".join(f"HGET {k} s\n" for k in keys),
                   capture_output=True, text=True).stdout.split()
states.update(p)
for s, n in sorted(states.items()): print(f"  {s:10} {n}")
firsts = [float(x[1]) for x in (r("zrange", f"pg:{{s{s}}}:deferred", "0", "0", "withscores") for s in range(16)) if x]
if firsts:
    import datetime
    print(f"  next deferred job is released at {datetime.datetime.utcfromtimestamp(min(firsts)):%Y-%m-%d %H:%M} UTC")
print(f"  audit records: {sum(int(r('xlen', f'pg:{{s{s}}}:audit')[0]) for s in range(16))} (one per transition; pregonctl redis audit prints them)")
PY
echo
echo "== what the provider told us afterwards (pregon-hooks -> pregond)"
curl -s "$sb/_sandbox/stats" | python3 -c 'import json,sys; k=json.load(sys.stdin).get("callbacks",{}).get("by_kind",{})
for n, c in sorted(k.items()): print("  sandbox %-20s sent %s, failed %s, dropped %s" % (n, c.get("sent"), c.get("failed"), c.get("dropped")))'
curl -s "$hooks/metrics" | awk '$1 ~ /^pregon_hooks_(acks|refused|unavailable)_total/ && $2 > 0 { print "  " $1 " " $2 }'
echo "  suppressed by a STOP or Baja reply, for every debtor of the tenant:"
$B/broker/pregonctl suppress list --redis-socket "$dir/redis.sock" | sed 's/^/    /'
first=$($B/broker/pregonctl suppress list --csv --redis-socket "$dir/redis.sock" | awk -F, 'NR == 2 {gsub(/"/, "", $3); print $3}')
if [ -n "$first" ]; then
  echo "  a new job to $first under another debtor id:"
  python3 -c 'import json,sys; print(json.dumps({"job_id": "demo-after-stop", "tenant": "acme-cobranzas",
    "debtor_id": "someone-else", "channel": "sms", "contact": sys.argv[1], "template_id": "aviso_mora_sms",
    "jurisdiction": "US", "time_zone": "America/New_York", "variables": {"nombre": "Ana", "monto": "$1",
    "producto": "x", "fecha": "1/1", "enlace": "x", "acreedor": "Acme", "telefono": "1"}}))' "$first" |
    $B/broker/pregonctl submit --endpoint "ipc://$dir/front" $(keys campaigns) --json - 2>/dev/null | sed 's/^/    /'
fi
# ---- BEGIN email ----
# E-mail: its own pregond (channels: email; the always-open RC policy so the demo sends at any
# hour), pregon-email to the SMTP sink (STARTTLS, AUTH, DKIM), pregon-hooks serving the
# one-click unsubscribe. Some addresses bounce; one debtor clicks "unsubscribe" (curl); the
# next job to that address is REJECTED by the opt-out rule.
set +e +o pipefail # the e-mail part reports what happened; a failure of it never stops the demo
echo
echo "== e-mail: pregond (email), pregon-email, the SMTP sink, pregon-hooks (one-click unsubscribe)"
cmake --build build-demo -j"$(nproc)" --target pregon-email >/dev/null
em="$dir/email"; mkdir -p "$em/own" "$em/keys"
for k in "pregond broker" "campaigns client --tenants acme-cobranzas" "email worker --channels email" \
  "hooks hooks"; do set -- $k; $B/broker/pregonctl keys new "$1" --role $2 "${@:3}" --dir "$em/own" >/dev/null; done
cp "$em/own/campaigns.pub" "$em/own/email.pub" "$em/own/hooks.pub" "$em/keys/"
ekeys() { echo "--key-file $em/own/$1.key --broker-key-file $em/own/pregond.pub"; }
cat >"$em/pregon.yaml" <<YAML
redis: {socket: "$dir/redis.sock", prefix: pgmail}
sockets: {frontend: "ipc://$em/front", backend: "ipc://$em/back", events: "", hooks: "ipc://$em/hooks"}
security: {curve: 1, secret_key_file: own/pregond.key, keys: keys}
channels: email
policies: $root/tests/integration/e2e/policies
templates: $root/deploy/templates.yaml
YAML
$B/broker/pregond --config "$em/pregon.yaml" 2>"$em/pregond.log" & em_pids=($!)
openssl genrsa -out "$em/dkim.key" 2048 2>/dev/null; chmod 600 "$em/dkim.key"
head -c 32 /dev/urandom | base64 -w0 >"$em/unsub.key"; chmod 600 "$em/unsub.key"
printf 'email:\n  unsubscribe_key_file: %s\n' "$em/unsub.key" >"$em/hooks.yaml"
$B/channels/hooks/pregon-hooks --config "$em/hooks.yaml" --listen 127.0.0.1:0 --broker "ipc://$em/hooks" \
  $(ekeys hooks) 2>"$em/hooks.log" & em_pids+=($!)
wait_for 10 grep -q "serving: http" "$em/hooks.log"
ehooks=$(grep -m1 "serving: http" "$em/hooks.log" | grep -o 'http://127.0.0.1:[0-9]*' | head -1)
SINK_PASSWORD=demo-pass /usr/bin/python3 channels/sandbox/smtp_sink.py --port-file "$em/smtp.port" \
  --http-port-file "$em/sink.port" --user pregon --cert-dir "$em" 2>"$em/sink.log" & em_pids+=($!)
wait_for 20 test -s "$em/smtp.port" -a -s "$em/sink.port"
sink="http://127.0.0.1:$(cat "$em/sink.port")"
curl -s "$sink/script" -d '[{"rcpt": "no.existe@correo.example", "code": 550, "text": "5.1.1 user unknown"},
  {"rcpt": "vieja@correo.example", "code": 553, "text": "5.1.3 mailbox name not allowed"}]' >/dev/null
echo -n demo-pass >"$em/smtp.pass"; chmod 600 "$em/smtp.pass"
$B/channels/email/pregon-email --broker "ipc://$em/back" $(ekeys email) --worker-id demo-email \
  --journal "$em/email.journal" --smtp-url "smtp://localhost:$(cat "$em/smtp.port")" --ca-file "$em/sink.crt" \
  --smtp-user pregon --smtp-password-file "$em/smtp.pass" --from avisos@acme-cobranzas.example \
  --from-name "Acme Cobranzas — Servicio al Cliente" --dkim "acme-cobranzas.example=pg1:$em/dkim.key" \
  --unsubscribe-url "$ehooks/u/" --unsubscribe-mailto bajas@acme-cobranzas.example \
  --unsubscribe-key-file "$em/unsub.key" --warmup "acme-cobranzas.example:$(date -u +%F)" \
  --policy-dir "$root/tests/integration/e2e/policies" 2>"$em/email.log" & em_pids+=($!)
wait_for 10 grep -q "joined on email" "$em/pregond.log"
email_jobs() { # email_jobs PREFIX ADDR:NAME... — JSON lines on stdout
  python3 - "$@" <<'PY'
import json, sys
for i, pair in enumerate(sys.argv[2:]):
    addr, name = pair.split(":", 1)
    print(json.dumps({"job_id": "%s%d" % (sys.argv[1], i), "tenant": "acme-cobranzas", "campaign": "castigada-dic",
        "debtor_id": "deu-%s%d" % (sys.argv[1], i), "channel": "email", "contact": addr,
        "template_id": "aviso_mora_email", "jurisdiction": "RC", "time_zone": "America/Bogota",
        "variables": {"acreedor": "Banco Andino", "nombre": name, "producto": "tarjeta Visa", "monto": "$1.250.000",
        "fecha": "15 de diciembre", "telefono": "601 555 0100", "enlace": "https://pagos.example.co/x"}},
        ensure_ascii=False))  # fallback_channels/fallback_contacts: once pregonctl's JSON takes them
PY
}
email_jobs em "jose.perez@correo.example:José Pérez Núñez" "maria@correo.example:María Ñúñez" \
  "no.existe@correo.example:Nadie" "vieja@correo.example:Cuenta Vieja" "sofia@correo.example:Sofía Gutiérrez" \
  >"$em/campaign.jsonl"
echo "  submitting 5 e-mail jobs (2 to addresses that bounce)"
$B/broker/pregonctl submit --endpoint "ipc://$em/front" $(ekeys campaigns) --timeout 10 --json "$em/campaign.jsonl" 2>&1 | sed 's/^/    /'
estate() { redis-cli -s "$dir/redis.sock" hget "$($B/broker/pregonctl redis key job acme-cobranzas "deu-$1" "$1" --prefix pgmail --redis-socket "$dir/redis.sock" 2>/dev/null)" s; }
wait_for 20 bash -c "for j in em0 em1 em2 em3 em4; do s=\$(redis-cli -s '$dir/redis.sock' hget \"\$($B/broker/pregonctl redis key job acme-cobranzas deu-\$j \$j --prefix pgmail --redis-socket '$dir/redis.sock' 2>/dev/null)\" s); [ \"\$s\" = sent ] || [ \"\$s\" = failed ] || exit 1; done" || true
for j in em0 em1 em2 em3 em4; do echo "  $j: $(estate $j)"; done
echo "  what the SMTP sink received (each DKIM-verified against the key's public half):"
openssl rsa -in "$em/dkim.key" -pubout -outform DER 2>/dev/null | base64 -w0 >"$em/dkim.pub"
curl -s "$sink/messages" | /usr/bin/python3 -c '
import dkim, email, email.policy, json, sys
pub = open(sys.argv[1]).read().strip().encode()
for m in json.load(sys.stdin):
    raw = m["data"].encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    ok = dkim.verify(raw, dnsfunc=lambda n, timeout=5: b"v=DKIM1; k=rsa; p=" + pub)
    print("    to %-40s %s | DKIM %s | %s" % (str(msg["To"]), msg["Subject"], "pass" if ok else "FAIL",
          " + ".join(p.get_content_type() for p in msg.iter_parts())))' "$em/dkim.pub"
echo "  bounces (pregond suppresses a hard bounce and falls back to the job's SMS where it applies DeliveryReport.suppress_contact/fallback_eligible):"
$B/broker/pregonctl redis audit --prefix pgmail --redis-socket "$dir/redis.sock" 2>/dev/null |
  grep '"to":"FAILED"' | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l); print("    %s %s: %s" % (r["job"], r.get("contact", ""), r.get("detail", "")))' || true
$B/broker/pregonctl suppress list --tenant acme-cobranzas --prefix pgmail --redis-socket "$dir/redis.sock" 2>/dev/null | sed 's/^/    /' || true
url=$(curl -s "$sink/messages" | /usr/bin/python3 -c '
import email, email.policy, json, re, sys
for m in json.load(sys.stdin):
    if "jose.perez@correo.example" in m["rcpts"]:
        msg = email.message_from_string(m["data"], policy=email.policy.default)
        print(re.search(r"<(http[^>]+)>", str(msg["List-Unsubscribe"])).group(1))')
echo "  José clicks \"unsubscribe\" in his mail client (RFC 8058 one-click POST):"
echo "    curl -d List-Unsubscribe=One-Click ${url:0:60}…  -> HTTP $(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "$url")"
echo "    the same with a forged token -> HTTP $(curl -s -o /dev/null -w '%{http_code}' -d List-Unsubscribe=One-Click "${url%.*}.AAAAAAAAAAAAAAAAAAAAAA")"
wait_for 10 bash -c "$B/broker/pregonctl suppress list --tenant acme-cobranzas --prefix pgmail --redis-socket '$dir/redis.sock' 2>/dev/null | grep -q jose.perez" || true
email_jobs after "jose.perez@correo.example:José Pérez Núñez" >"$em/after.jsonl"
echo "  the next job to jose.perez@correo.example:"
$B/broker/pregonctl submit --endpoint "ipc://$em/front" $(ekeys campaigns) --timeout 10 --json "$em/after.jsonl" 2>&1 | sed 's/^/    /'
for p in "${em_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${em_pids[@]}"; do wait "$p" 2>/dev/null || true; done
set -e -o pipefail
# ---- END email ----
echo
echo "== stopping what the demo started"
